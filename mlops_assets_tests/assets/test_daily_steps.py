"""A daily monitoring asset is a typed step whose signature declares what it reads: the asset
graph shows those reads as edges, and the step is bound from its signature alone."""

import dagster as dg
import pytest

from mlops_assets.asset_keys import (
    BATCH_PREDICTIONS,
    CHALLENGER_COMPARISON,
    DEFAULT,
    DRIFT_REPORT,
    ESTIMATED_PERFORMANCE,
    LABELS,
    REALIZED_PERFORMANCE,
    REGISTERED_MODEL_VERSION,
    SCORING_DATA,
    ModelNames,
)
from mlops_assets.definitions import defs
from mlops_assets.defs.monitoring.daily import DAILY_STEPS, _in_order
from mlops_assets.defs.monitoring.partitions import daily_spec, scoring_partitions
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.domain.verdicts import EstimatedVerdict
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry


def test_the_asset_graph_shows_every_input_a_daily_step_reads():
    graph = defs.resolve_asset_graph()
    parents = {key: set(graph.get(key).parent_keys) for key in graph.get_all_asset_keys()}
    assert parents[BATCH_PREDICTIONS] == {SCORING_DATA, REGISTERED_MODEL_VERSION}
    assert parents[DRIFT_REPORT] == {SCORING_DATA, BATCH_PREDICTIONS}
    assert parents[LABELS] == {BATCH_PREDICTIONS}
    # It reads the day's label-free estimate to report the estimate's error.
    assert parents[REALIZED_PERFORMANCE] == {LABELS, BATCH_PREDICTIONS, ESTIMATED_PERFORMANCE}
    # The labels it reads are the ones landed in earlier runs (it runs before today's).
    assert parents[ESTIMATED_PERFORMANCE] == {SCORING_DATA, BATCH_PREDICTIONS}
    # The challenger's shadow columns in the predictions, judged on the day's labels.
    assert parents[CHALLENGER_COMPARISON] == {LABELS, BATCH_PREDICTIONS}


def test_a_steps_inputs_config_and_resources_come_from_its_signature():
    spec = daily_spec("realized_performance", "t", kinds={"pandas"}, deps=["drift_report"])
    partitions = scoring_partitions("2026-01-02")

    @daily_step(spec)
    def judged(
        context,
        partition,
        config,
        mlflow_registry: MlflowRegistry,
        batch_predictions: StoredParquetFile,
        estimated_performance: EstimatedVerdict | None,
    ):
        raise AssertionError("not run here")

    assert judged.resources == ("mlflow_registry",)
    assert judged.has_config
    streamed = judged.inputs["batch_predictions"]
    assert (streamed.asset, streamed.wanted, streamed.optional) == (
        "batch_predictions",
        StoredParquetFile,
        False,
    )
    verdict = judged.inputs["estimated_performance"]
    assert (verdict.wanted, verdict.optional) == (EstimatedVerdict, True)
    default = judged.for_model(DEFAULT, partitions)
    assert {d.asset_key for d in default.spec.deps} == {
        BATCH_PREDICTIONS,
        ESTIMATED_PERFORMANCE,
        DRIFT_REPORT,
    }
    assert default.resource_keys == {"mlflow_registry": "mlflow_registry"}
    # A declared model's step reads its own days and its own registry.
    churn = judged.for_model(ModelNames("churn"), partitions)
    assert churn.key == dg.AssetKey(["churn", "realized_performance"])
    assert churn.spec.group_name == "churn_monitoring"
    assert churn.input_key(streamed) == dg.AssetKey(["churn", "batch_predictions"])
    assert {d.asset_key for d in churn.spec.deps} == {
        dg.AssetKey(["churn", name])
        for name in ("batch_predictions", "estimated_performance", "drift_report")
    }
    assert churn.resource_keys == {"mlflow_registry": "churn__mlflow_registry"}


def test_a_step_listed_before_what_it_reads_is_refused_when_the_code_loads():
    scoring, predictions = DAILY_STEPS[0], DAILY_STEPS[1]
    with pytest.raises(ValueError, match="batch_predictions runs before its inputs scoring_data"):
        _in_order((predictions, scoring))
    assert _in_order(DAILY_STEPS) == DAILY_STEPS
    assert [DEFAULT.key(step.name) for step in DAILY_STEPS] == [
        SCORING_DATA,
        BATCH_PREDICTIONS,
        DRIFT_REPORT,
        ESTIMATED_PERFORMANCE,
        LABELS,
        REALIZED_PERFORMANCE,
        CHALLENGER_COMPARISON,
    ]
