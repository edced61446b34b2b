"""The code location's settings: the `MLOPS_*` variables that configure the default model, read
once, when `definitions.py` builds the code location, into one typed object that is passed to
what needs it (the resources, the jobs, the schedule, the sensors' switches and intervals, the
retraining policy, the MLflow retry policy, the code links). Nothing else in the code location
reads the environment.

A value that does not parse fails here, naming its variable, before anything is defined.
Values that may hold a secret (a database URL with a password, a webhook) are kept only to
choose: a resource gets `dg.EnvVar(name)` for a variable that is set, so Dagster resolves it at
run time and never shows or stores it (definitions.py). The online service reads its own
settings (serving/settings.py). A model declared in YAML gets the same object from its YAML
(components/model.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mlops_assets.domain.promotion.gate import GateConfig
from mlops_assets.domain.retraining_policy import RetrainingPolicy
from mlops_assets.domain.serve_modes import ServeMode, serve_mode
from mlops_assets.resources.data_source import BuiltinCalendar, scoring_start

_ON = ("on", "1", "true")
_OFF = ("off", "0", "false", "")


class SettingsError(ValueError):
    """A variable whose value cannot be used; the message names it and says what it takes."""


@dataclass(frozen=True)
class Settings:
    """Every field is the variable's value as set ("" when unset), or its parsed form."""

    training_data: str = ""  # MLOPS_TRAINING_DATA
    training_table: str = ""  # MLOPS_TRAINING_TABLE
    target_column: str = ""  # MLOPS_TARGET_COLUMN
    timestamp_column: str = ""  # MLOPS_TIMESTAMP_COLUMN
    id_columns: str = ""  # MLOPS_ID_COLUMNS
    exclude_columns: str = ""  # MLOPS_EXCLUDE_COLUMNS
    scoring_data: str = ""  # MLOPS_SCORING_DATA
    scoring_table: str = ""  # MLOPS_SCORING_TABLE
    scoring_date_column: str = ""  # MLOPS_SCORING_DATE_COLUMN
    drift_scenario: str = ""  # MLOPS_DRIFT_SCENARIO
    drift_start: str = ""  # MLOPS_DRIFT_START, else the built-in calendar's
    label_delay_days: int | None = None  # MLOPS_LABEL_DELAY_DAYS
    labels_data: str = ""  # MLOPS_LABELS_DATA
    labels_table: str = ""  # MLOPS_LABELS_TABLE
    labels_date_column: str = ""  # MLOPS_LABELS_DATE_COLUMN
    serve_log_dir: str = ""  # MLOPS_SERVE_LOG_DIR: the online service's request log
    # MLOPS_SERVE_MODE: who the online service lets answer (serving/settings.py reads the same
    # variable); the challenger sensor steps the canary's share only in `canary`.
    serve_mode: ServeMode = "champion"
    tracking_uri: str = ""  # MLFLOW_TRACKING_URI
    model_name: str = ""  # MLOPS_MODEL_NAME
    mlflow_ui_url: str = ""  # MLOPS_MLFLOW_UI_URL
    alert_webhook_url: str = ""  # MLOPS_ALERT_WEBHOOK_URL
    dagster_ui_url: str = ""  # MLOPS_DAGSTER_UI_URL
    # The first daily partition: MLOPS_SCORING_START, else the earliest day of a scoring
    # directory, else the built-in data's first day (resources/data_source.py: scoring_start).
    scoring_start: str = ""
    scoring_cron: str = "30 2 * * *"  # MLOPS_SCORING_CRON
    scoring_schedule_on: bool = False  # MLOPS_SCORING_SCHEDULE
    git_url: str = ""  # MLOPS_GIT_URL
    git_branch: str = "main"  # MLOPS_GIT_BRANCH
    drift_sensor_on: bool = False  # MLOPS_DRIFT_SENSOR: the retraining sensor starts running
    # MLOPS_SENSOR_INTERVAL_SECONDS: how often the daemon evaluates the drift and labels
    # sensors (defs/retraining/sensors.py says why 5 minutes).
    sensor_interval_seconds: int = 300
    retraining: RetrainingPolicy = field(default_factory=RetrainingPolicy)  # MLOPS_RETRAIN_*
    # The promotion gate of the model's training and retraining runs (the resource
    # `promotion_gate`): a declared model's YAML `gate:`; the default model's is GateConfig's
    # defaults, as it has always been (no variable; registered_model_version's run config
    # changes it for one run). Left out of the hash: its thresholds are dicts.
    gate: GateConfig = field(default_factory=GateConfig, hash=False)
    mlflow_max_retries: int = 3  # MLOPS_MLFLOW_MAX_RETRIES
    mlflow_retry_delay: float = 5.0  # MLOPS_MLFLOW_RETRY_DELAY, seconds
    # MLOPS_SHADOW_FORMER_CHAMPION (on unless off): a promotion by the gate or by hand keeps the
    # champion it replaced as the challenger, so the challenger test can roll it back.
    shadow_former_champion: bool = True
    # MLOPS_SHADOW_SHARE (0 < share <= 1, default 1): the share of a day's rows the challenger
    # scores in batch_predictions, sampled by the hash of their ids (docs/challengers.md).
    shadow_share: float = 1.0

    @property
    def alerts_on(self) -> bool:
        """Whether the alert sensors start running: a webhook to post to is set."""
        return bool(self.alert_webhook_url)

    @property
    def labels_with_features(self) -> bool:
        """Whether labels come in the scoring data (MLOPS_LABELS_DATA unset)."""
        return not self.labels_data

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of `environ` (the process's environment when None)."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str:
            return env.get(name, "").strip()

        start = _day(scoring_start(env), "MLOPS_SCORING_START")
        drift_start = text("MLOPS_DRIFT_START")
        if drift_start:
            _day(drift_start, "MLOPS_DRIFT_START")
        else:
            # The built-in generator's drift day as `make demo` laid it out (BuiltinCalendar):
            # a run started from the UI later draws the same days the demo drew. The partitions
            # never depend on that file.
            drift_start = BuiltinCalendar.read(env).drift_start
        return cls(
            training_data=text("MLOPS_TRAINING_DATA"),
            training_table=text("MLOPS_TRAINING_TABLE"),
            target_column=text("MLOPS_TARGET_COLUMN"),
            timestamp_column=text("MLOPS_TIMESTAMP_COLUMN"),
            id_columns=text("MLOPS_ID_COLUMNS"),
            exclude_columns=text("MLOPS_EXCLUDE_COLUMNS"),
            scoring_data=text("MLOPS_SCORING_DATA"),
            scoring_table=text("MLOPS_SCORING_TABLE"),
            scoring_date_column=text("MLOPS_SCORING_DATE_COLUMN"),
            drift_scenario=text("MLOPS_DRIFT_SCENARIO"),
            drift_start=drift_start,
            label_delay_days=_count(text("MLOPS_LABEL_DELAY_DAYS"), "MLOPS_LABEL_DELAY_DAYS"),
            labels_data=text("MLOPS_LABELS_DATA"),
            labels_table=text("MLOPS_LABELS_TABLE"),
            labels_date_column=text("MLOPS_LABELS_DATE_COLUMN"),
            serve_log_dir=_request_log(text("MLOPS_SERVE_LOG_DIR")),
            serve_mode=_serve_mode(text("MLOPS_SERVE_MODE")),
            tracking_uri=text("MLFLOW_TRACKING_URI"),
            model_name=text("MLOPS_MODEL_NAME"),
            mlflow_ui_url=text("MLOPS_MLFLOW_UI_URL"),
            alert_webhook_url=text("MLOPS_ALERT_WEBHOOK_URL"),
            dagster_ui_url=text("MLOPS_DAGSTER_UI_URL"),
            scoring_start=start,
            scoring_cron=text("MLOPS_SCORING_CRON") or cls.scoring_cron,
            scoring_schedule_on=_switch(text("MLOPS_SCORING_SCHEDULE"), "MLOPS_SCORING_SCHEDULE"),
            git_url=text("MLOPS_GIT_URL"),
            git_branch=text("MLOPS_GIT_BRANCH") or cls.git_branch,
            drift_sensor_on=_switch(text("MLOPS_DRIFT_SENSOR"), "MLOPS_DRIFT_SENSOR"),
            sensor_interval_seconds=_positive(
                text("MLOPS_SENSOR_INTERVAL_SECONDS"),
                "MLOPS_SENSOR_INTERVAL_SECONDS",
                cls.sensor_interval_seconds,
            ),
            retraining=_retraining_policy(env),
            mlflow_max_retries=_whole(
                text("MLOPS_MLFLOW_MAX_RETRIES"), "MLOPS_MLFLOW_MAX_RETRIES", cls.mlflow_max_retries
            ),
            mlflow_retry_delay=_seconds(
                text("MLOPS_MLFLOW_RETRY_DELAY"), "MLOPS_MLFLOW_RETRY_DELAY", cls.mlflow_retry_delay
            ),
            shadow_former_champion=_switch(
                text("MLOPS_SHADOW_FORMER_CHAMPION") or "on", "MLOPS_SHADOW_FORMER_CHAMPION"
            ),
            shadow_share=_share(text("MLOPS_SHADOW_SHARE"), "MLOPS_SHADOW_SHARE", cls.shadow_share),
        )


def _day(value: str, variable: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{variable}={value!r} is not a day (YYYY-MM-DD).") from None
    return value


def _count(value: str, variable: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise SettingsError(f"{variable}={value!r} is not a whole number of days (0 or more).")
    return int(value)


def _switch(value: str, variable: str) -> bool:
    if value.lower() not in (*_ON, *_OFF):
        raise SettingsError(f"{variable}={value!r} is not on or off.")
    return value.lower() in _ON


def _whole(value: str, variable: str, default: int) -> int:
    if not value:
        return default
    if not value.isdigit():
        raise SettingsError(f"{variable}={value!r} is not a whole number (0 or more).")
    return int(value)


def _positive(value: str, variable: str, default: int) -> int:
    number = _whole(value, variable, default)
    if number < 1:
        raise SettingsError(f"{variable}={value!r} must be at least 1.")
    return number


def _seconds(value: str, variable: str, default: float) -> float:
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"{variable}={value!r} is not a number of seconds.") from None
    if seconds < 0:
        raise SettingsError(f"{variable}={value!r} must be 0 or more.")
    return seconds


def request_log_problem(value: str) -> str:
    """What is wrong with `value` as the service's request log (a directory, created by the
    service when missing), or "" when nothing is."""
    if "://" in value:
        return "is a URL: the request log is a directory of daily Parquet parts"
    if value and Path(value).expanduser().exists() and not Path(value).expanduser().is_dir():
        return "is a file: the request log is a directory of daily Parquet parts"
    return ""


def _request_log(value: str) -> str:
    problem = request_log_problem(value)
    if problem:
        raise SettingsError(f"MLOPS_SERVE_LOG_DIR={value!r} {problem}.")
    return value


def _serve_mode(value: str) -> ServeMode:
    # One list of modes, the service's (domain/serve_modes.py), raised as a SettingsError.
    try:
        return serve_mode(value)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _share(value: str, variable: str, default: float) -> float:
    if not value:
        return default
    try:
        share = float(value)
    except ValueError:
        raise SettingsError(f"{variable}={value!r} is not a number.") from None
    if not 0 < share <= 1:
        raise SettingsError(f"{variable}={value!r} must be above 0 and at most 1.")
    return share


def _retraining_policy(env: Mapping[str, str]) -> RetrainingPolicy:
    # RetrainingPolicy.from_env names the variable; raised as a SettingsError like the rest.
    try:
        return RetrainingPolicy.from_env(env)
    except ValueError as error:
        raise SettingsError(str(error)) from None
