"""Every name a model's definitions carry, defined once: asset keys, groups, jobs, sensors,
schedules and resource keys. Assets, checks, jobs, sensors and tools import them here.

A key spelt again elsewhere (`dg.AssetKey("drift_report")`) would drift from its asset the day
one is renamed, and the sensor watching it would go quiet without an error. `ModelNames("churn")`
gives a declared model's names (docs/models.md): keys prefixed by the model (`churn/raw_data`),
groups `churn_training`, jobs and sensors `churn__training_job`, resource keys
`churn__data_source`. The default model (`DEFAULT`, name '') keeps the unprefixed names an
existing instance's history is recorded under. The module constants are `DEFAULT`'s keys; the
`*_ASSET` names are the same keys as strings, for job selections and run results that take a
name.
"""

import re
from dataclasses import dataclass

import dagster as dg

from mlops_assets.contracts import DEFAULT_EXPERIMENT
from mlops_assets.domain.promotion.gate import ManualPromotion

MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

"""A declared model's name: it prefixes asset keys, groups, job and resource names and names its
MLflow registered model, so it is kept to what all of those accept."""


@dataclass(frozen=True)
class ModelNames:
    """The names of one model's definitions; `model` is '' for the default model."""

    model: str = ""

    def __post_init__(self) -> None:
        if self.model and not MODEL_NAME.match(self.model):
            raise ValueError(
                f"model name {self.model!r}: lower-case letters, digits and underscores, "
                "starting with a letter (it prefixes asset keys, groups and job names)"
            )

    @classmethod
    def of(cls, key: dg.AssetKey) -> "ModelNames":
        """The names of the model that owns the asset `key` (its prefix, if any): how an asset
        body finds its own model's resources without being told."""
        return cls(key.path[0]) if len(key.path) > 1 else DEFAULT

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.model, asset]) if self.model else dg.AssetKey(asset)

    def group(self, group: str) -> str:
        return f"{self.model}_{group}" if self.model else group

    def job(self, job: str) -> str:
        """A job's, sensor's or schedule's name (Dagster names them in one namespace)."""
        return f"{self.model}__{job}" if self.model else job

    def resource(self, resource: str) -> str:
        """A per-model resource's key: Dagster refuses two different resources under one key
        in one job (the implicit all-assets job included), so each model has its own keys."""
        return f"{self.model}__{resource}" if self.model else resource

    @property
    def manual_promotion(self) -> ManualPromotion:
        """The model's promote_version_job and its op, which the gate's reasons tell a person to
        run (`car_loan__promote_version_job`, op `car_loan__promote_version`)."""
        return ManualPromotion(self.job("promote_version_job"), self.job("promote_version"))

    @property
    def experiment(self) -> str:
        """The model's MLflow experiment: its training and monitoring runs apart from another
        model's (`mlops-assets/car_loan`; the default model keeps `mlops-assets`)."""
        return f"{DEFAULT_EXPERIMENT}/{self.model}" if self.model else DEFAULT_EXPERIMENT

    # Training: raw -> validated -> trained -> evaluated -> registered.
    @property
    def raw_data(self) -> dg.AssetKey:
        return self.key("raw_data")

    @property
    def validated_data(self) -> dg.AssetKey:
        return self.key("validated_data")

    @property
    def trained_model(self) -> dg.AssetKey:
        return self.key("trained_model")

    @property
    def evaluation_report(self) -> dg.AssetKey:
        return self.key("evaluation_report")

    @property
    def registered_model_version(self) -> dg.AssetKey:
        return self.key("registered_model_version")

    @property
    def training(self) -> tuple[dg.AssetKey, ...]:
        """What training_job (and retraining_job) materialises, in order."""
        return (
            self.raw_data,
            self.validated_data,
            self.trained_model,
            self.evaluation_report,
            self.registered_model_version,
        )

    # Daily monitoring, one partition a day.
    @property
    def scoring_data(self) -> dg.AssetKey:
        return self.key("scoring_data")

    @property
    def batch_predictions(self) -> dg.AssetKey:
        return self.key("batch_predictions")

    @property
    def drift_report(self) -> dg.AssetKey:
        return self.key("drift_report")

    @property
    def estimated_performance(self) -> dg.AssetKey:
        return self.key("estimated_performance")

    @property
    def labels(self) -> dg.AssetKey:
        """The day's delivered labels (id columns + target), replaced by a redelivery."""
        return self.key("labels")

    @property
    def realized_performance(self) -> dg.AssetKey:
        return self.key("realized_performance")

    @property
    def challenger_comparison(self) -> dg.AssetKey:
        """The day's labelled rows judged under the champion and the challenger, accumulated in
        the sequential test (docs/challengers.md)."""
        return self.key("challenger_comparison")

    @property
    def daily(self) -> tuple[dg.AssetKey, ...]:
        """The daily monitoring assets, in the order a day runs them (each after what it
        reads)."""
        return (
            self.scoring_data,
            self.batch_predictions,
            self.drift_report,
            self.estimated_performance,
            self.labels,
            self.realized_performance,
            self.challenger_comparison,
        )


DEFAULT = ModelNames()
"""The default model, configured by the MLOPS_* variables: today's unprefixed names."""

RAW_DATA = DEFAULT.raw_data
VALIDATED_DATA = DEFAULT.validated_data
TRAINED_MODEL = DEFAULT.trained_model
EVALUATION_REPORT = DEFAULT.evaluation_report
REGISTERED_MODEL_VERSION = DEFAULT.registered_model_version

SCORING_DATA = DEFAULT.scoring_data
BATCH_PREDICTIONS = DEFAULT.batch_predictions
DRIFT_REPORT = DEFAULT.drift_report
ESTIMATED_PERFORMANCE = DEFAULT.estimated_performance
LABELS = DEFAULT.labels
REALIZED_PERFORMANCE = DEFAULT.realized_performance
CHALLENGER_COMPARISON = DEFAULT.challenger_comparison

LABELS_ASSET = LABELS.to_user_string()
REALIZED_PERFORMANCE_ASSET = REALIZED_PERFORMANCE.to_user_string()
ESTIMATED_PERFORMANCE_ASSET = ESTIMATED_PERFORMANCE.to_user_string()
CHALLENGER_COMPARISON_ASSET = CHALLENGER_COMPARISON.to_user_string()

DAILY = DEFAULT.daily
