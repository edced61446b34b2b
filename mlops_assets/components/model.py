"""`MlopsModel`: a model declared in YAML, turned into the same typed `Settings` the
environment gives the default model, so one builder serves both.

Shared infrastructure (the MLflow tracking server, the alert webhook, the UI links, MLOPS_HOME)
stays in the environment: those may hold secrets and are one per deployment, not per model.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from mlops_assets.asset_keys import MODEL_NAME
from mlops_assets.components.scaffolder import MlopsModelScaffolder
from mlops_assets.domain.promotion.gate import GateConfig
from mlops_assets.domain.retraining_policy import RetrainingPolicy
from mlops_assets.domain.serve_modes import ServeMode
from mlops_assets.settings import Settings, request_log_problem

if TYPE_CHECKING:
    from typing import Self


# Variables every model of the deployment shares; a model's YAML never holds them.
SHARED_VARIABLES = (
    "MLOPS_HOME",
    "MLFLOW_TRACKING_URI",
    "MLOPS_MLFLOW_UI_URL",
    "MLOPS_ALERT_WEBHOOK_URL",
    "MLOPS_DAGSTER_UI_URL",
    "MLOPS_GIT_URL",
    "MLOPS_GIT_BRANCH",
    "MLOPS_SENSOR_INTERVAL_SECONDS",
    "MLOPS_MLFLOW_MAX_RETRIES",
    "MLOPS_MLFLOW_RETRY_DELAY",
)


class _Strict(BaseModel):
    # A misspelt key in the YAML fails `dg check defs` instead of being ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingSource(_Strict):
    location: str = ""
    """A file, a directory or a SQL URL (read from the environment when it holds a password:
    use `table` with MLOPS_TRAINING_DATA instead)."""
    table: str = ""
    target: str
    """The column the model predicts."""
    timestamp_column: str = ""
    id_columns: list[str] = Field(default_factory=list)
    """Columns that identify a row (join delayed labels); never features."""
    exclude_columns: list[str] = Field(default_factory=list)


class ScoringSource(_Strict):
    location: str = ""
    """A directory of daily files (YYYY-MM-DD.csv or .parquet), or a SQL URL."""
    table: str = ""
    date_column: str = ""
    start: str = ""
    """The first daily partition (YYYY-MM-DD); default: the directory's earliest day."""

    @field_validator("start")
    @classmethod
    def _a_day(cls, value: str) -> str:
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"scoring.start={value!r} is not a day (YYYY-MM-DD)") from None
        return value


class LabelsSource(_Strict):
    location: str = ""
    """Empty: labels come with the scoring data (its target column)."""
    table: str = ""
    date_column: str = ""
    delay_days: int = 0
    """Days between a scoring day and its labels' arrival."""

    @field_validator("delay_days")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"labels.delay_days={value} must be 0 or more")
        return value


class Serve(_Strict):
    """How the model's online service runs (`python -m mlops_assets.serving` with
    MLOPS_MODEL_NAME, MLOPS_SERVE_LOG_DIR and MLOPS_SERVE_MODE set to these: docs/models.md)."""

    log_dir: str = ""
    """The service's request log (MLOPS_SERVE_LOG_DIR): its logged shadow pairs are judged by
    the model's challenger_comparison. A relative path is from the working directory, as the
    other locations; empty: the service's log is not read."""
    mode: ServeMode = "champion"
    """The service's MLOPS_SERVE_MODE: the challenger sensor steps the canary's share only in
    `canary`."""

    @field_validator("log_dir")
    @classmethod
    def _a_directory(cls, value: str) -> str:
        problem = request_log_problem(value)
        if problem:
            raise ValueError(f"serve.log_dir={value!r} {problem}")
        return value


class Schedule(_Strict):
    cron: str = Settings.scoring_cron
    enabled: bool = False


class MlopsModel(dg.Component, dg.Model, dg.Resolvable):
    """One model: its training, scoring and labels sources, its promotion gate, its retraining
    policy, when its days are scored and whether drift retrains it."""

    name: str
    """Prefixes the model's asset keys (`churn/raw_data`), groups (`churn_training`) and jobs
    (`churn__training_job`); the default MLflow registered model name."""
    registered_model_name: str = ""
    """The MLflow registered model; default: the model's name."""
    training: TrainingSource
    scoring: ScoringSource = ScoringSource()
    labels: LabelsSource = LabelsSource()
    gate: GateConfig = GateConfig()
    retraining: RetrainingPolicy = RetrainingPolicy()
    schedule: Schedule = Schedule()
    serve: Serve = Serve()
    drift_sensor: bool = False
    """Whether the model's drift sensor starts running (else turn it on in the UI)."""
    shadow_former_champion: bool = True
    """Whether a promotion (the gate's or by hand) keeps the champion it replaced as the
    challenger, so the challenger test can roll the promotion back (docs/challengers.md)."""
    shadow_share: float = 1.0
    """The share of a day's rows the challenger scores beside the champion in
    batch_predictions (above 0, at most 1), sampled by the hash of their ids
    (docs/challengers.md)."""

    @classmethod
    def model(cls) -> type[BaseModel]:
        """The YAML's schema: the fields as declared. Dagster's derived schema lets every
        field be a string too (a template), so a wrong value under `retraining:` failed
        `dg check defs` with "not valid under any of the given schemas" and no field named;
        here it names `retraining.window_days` and what it takes. Templates still work in
        string values."""
        return _attributes_model(cls)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not MODEL_NAME.match(self.name):
            raise ValueError(
                f"name={self.name!r}: a model's name is lower-case letters, digits and "
                "underscores, starting with a letter (it prefixes asset keys and job names)"
            )
        if not (self.training.location or self.training.table):
            raise ValueError(f"model {self.name!r}: training needs a location or a table")
        if not 0 < self.shadow_share <= 1:
            raise ValueError(
                f"model {self.name!r}: shadow_share={self.shadow_share} must be above 0 and at "
                "most 1 (the share of a day's rows the challenger scores)"
            )
        return self

    @property
    def model_name(self) -> str:
        return self.registered_model_name or self.name

    def settings(self, environ: Mapping[str, str] | None = None) -> Settings:
        """The model's settings: its YAML, with the deployment's shared variables from
        `environ` (the process's environment when None)."""
        env = os.environ if environ is None else environ
        declared = {
            "MLOPS_TRAINING_DATA": self.training.location,
            "MLOPS_TRAINING_TABLE": self.training.table,
            "MLOPS_TARGET_COLUMN": self.training.target,
            "MLOPS_TIMESTAMP_COLUMN": self.training.timestamp_column,
            "MLOPS_ID_COLUMNS": ",".join(self.training.id_columns),
            "MLOPS_EXCLUDE_COLUMNS": ",".join(self.training.exclude_columns),
            "MLOPS_SCORING_DATA": self.scoring.location,
            "MLOPS_SCORING_TABLE": self.scoring.table,
            "MLOPS_SCORING_DATE_COLUMN": self.scoring.date_column,
            "MLOPS_SCORING_START": self.scoring.start,
            "MLOPS_LABEL_DELAY_DAYS": str(self.labels.delay_days),
            "MLOPS_LABELS_DATA": self.labels.location,
            "MLOPS_LABELS_TABLE": self.labels.table,
            "MLOPS_LABELS_DATE_COLUMN": self.labels.date_column,
            "MLOPS_SERVE_LOG_DIR": self.serve.log_dir,
            "MLOPS_SERVE_MODE": self.serve.mode,
            "MLOPS_MODEL_NAME": self.model_name,
            "MLOPS_SCORING_CRON": self.schedule.cron,
            "MLOPS_SCORING_SCHEDULE": "on" if self.schedule.enabled else "off",
            "MLOPS_DRIFT_SENSOR": "on" if self.drift_sensor else "off",
            "MLOPS_SHADOW_FORMER_CHAMPION": "on" if self.shadow_former_champion else "off",
            "MLOPS_SHADOW_SHARE": repr(self.shadow_share),
        }
        shared = {name: env[name] for name in SHARED_VARIABLES if name in env}
        # One parser for both ways of declaring a model: Settings.from_env. The retraining
        # policy and the gate are already the typed models the YAML resolved (never the
        # default model's MLOPS_RETRAIN_* from the environment).
        settings = Settings.from_env({**shared, **declared})
        return dataclasses.replace(settings, retraining=self.retraining, gate=self.gate)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The model's training, champion, monitoring, retraining and alerts slices under its
        names (asset_keys.ModelNames), with its own sources, registry, MLflow experiment and
        retraining policy under its resource keys; `drift_sensor` sets whether its
        drift_retraining_sensor (and labels_arrival_sensor) start running; its `gate` is the
        gate of its training and retraining runs. What every model
        shares (storage, the IO managers, the alert webhook, the executor) comes from the code
        location's default definitions, which this merges into."""
        from mlops_assets.asset_keys import ModelNames
        from mlops_assets.defs.alerts import definitions as alerts
        from mlops_assets.defs.champion import definitions as champion
        from mlops_assets.defs.model_resources import declared_model_resources
        from mlops_assets.defs.monitoring import definitions as monitoring
        from mlops_assets.defs.retraining import definitions as retraining
        from mlops_assets.defs.training import definitions as training

        settings, names = self.settings(), ModelNames(self.name)
        return dg.Definitions.merge(
            *(
                piece.build(settings, names)
                for piece in (training, champion, monitoring, retraining, alerts)
            ),
            dg.Definitions(resources=declared_model_resources(settings, names)),
        )


@functools.cache
def _attributes_model(component: type[MlopsModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (field.annotation, field) for name, field in component.model_fields.items()
    }
    return create_model(f"{component.__name__}Attributes", __base__=_Strict, **fields)


dg.scaffold_with(MlopsModelScaffolder)(MlopsModel)
