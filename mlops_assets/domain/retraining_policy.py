"""How eagerly drift starts a retraining: the policy domain.retraining's rules apply, and the
MLOPS_RETRAIN_<FIELD> variables that set it. drift_retraining_sensor's resource
(sensors.RetrainingSettings) is this model with Dagster's resource base: one set of fields,
defaults, checks and one parser for both."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "MLOPS_RETRAIN_"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class RetrainingPolicy(BaseModel):
    """How eagerly drift starts a retraining. drift_retraining_sensor's resource
    (sensors.RetrainingSettings) is this model with Dagster's resource base, so both keep one
    set of field names and defaults; `from_env` reads each field from MLOPS_RETRAIN_<FIELD>."""

    # Unknown keys fail: a misspelt field in a model's YAML `retraining:` would keep its default.
    model_config = ConfigDict(frozen=True, extra="forbid")

    debounce_days: int = Field(
        default=2,
        description=(
            "Consecutive alarming days needed: one bad day is noise, two in a row is a trend."
        ),
    )
    cooldown_days: int = Field(
        default=3,
        description=(
            "Data days after a successful retraining's window during which no new one starts: the "
            "new model gets that many days of data before it can be judged and replaced."
        ),
    )
    window_days: int = Field(
        default=7,
        description="At most this many most recent alarming days are trained on.",
    )
    include_training_source: bool = Field(
        default=False,
        description="Train on the configured training source as well as the window's days.",
    )
    max_attempts: int = Field(
        default=3,
        description=(
            "Failed retrainings tolerated per drift episode (a run of consecutive alarming days "
            "after the last successful retraining); then the sensor waits for a person."
        ),
    )
    min_interval_minutes: float = Field(
        default=10.0,
        description=(
            "Wall-clock minimum between two launches: a guard against loops, not a cooldown."
        ),
    )
    catch_up_days: int = Field(
        default=14,
        description=(
            "How far back, from the newest report, days not yet acted on are still retrained on (a "
            "backfill); older backlog is left alone."
        ),
    )
    refit_on_window: bool = Field(
        default=False,
        description=(
            "Register the retrained model refit on its whole window (evaluation_report's "
            "`refit_on_window`) instead of the evaluated fit; off by default, as in training_job: "
            "the monitoring references are the evaluated fit's, made on rows it held out "
            "(docs/training.md)."
        ),
    )

    @model_validator(mode="after")
    def _workable(self) -> Self:
        for name in ("debounce_days", "window_days", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1.")
        if self.cooldown_days < 0 or self.catch_up_days < 0:
            raise ValueError("cooldown_days and catch_up_days must be >= 0.")
        if self.min_interval_minutes < 0:
            raise ValueError(f"min_interval_minutes={self.min_interval_minutes} must be >= 0.")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """The policy with every MLOPS_RETRAIN_<FIELD> that is set, the defaults elsewhere; a
        value that does not parse fails naming its variable, so a typo never silently keeps
        the default."""
        values: dict[str, bool | int | float] = {}
        for name, field in cls.model_fields.items():
            variable = ENV_PREFIX + name.upper()
            raw = environ.get(variable, "").strip()
            if raw:
                values[name] = _parsed(variable, raw, field.annotation)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
            raise ValueError(f"{ENV_PREFIX}*: {problems}") from None

    @property
    def min_interval(self) -> timedelta:
        return timedelta(minutes=self.min_interval_minutes)

    @property
    def labelled_days_needed(self) -> int:
        """Labelled days of a due streak a retraining needs: as many as the debounce asks for
        (capped by the window). One labelled day would train on the noise the debounce exists
        to ignore, and the window matches the one labels in the batch would have given."""
        return min(self.debounce_days, self.window_days)

    @property
    def lookback_days(self) -> int:
        """Days of reports a decision reads: the catch-up span plus a full streak before it."""
        return self.catch_up_days + max(self.debounce_days, self.window_days) + 1


def _parsed(variable: str, raw: str, kind: object) -> bool | int | float:
    if kind is bool and raw.lower() in _TRUE + _FALSE:
        return raw.lower() in _TRUE
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        pass
    expected = "true or false" if kind is bool else "an integer" if kind is int else "a number"
    raise ValueError(f"{variable}={raw!r} is not {expected}.")
