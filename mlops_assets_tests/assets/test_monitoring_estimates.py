"""estimated_performance end to end: real MLflow, real Dagster instance, scikit-learn's breast
cancer table trained, then a held-out day scored and estimated without looking at its labels."""

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.contracts import (
    CALIBRATOR_ARTIFACT,
    PROBA_COLUMN_PREFIX,
)
from mlops_assets.domain.evaluation import significant
from mlops_assets.domain.verdicts import EstimatedVerdict
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource

DAY = date(2026, 1, 5)


def _metadata(result, asset: str):  # type: ignore[no-untyped-def]
    return next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(asset)
    )


def test_estimated_performance_materialises_with_calibration_recorded_at_training(
    project, tmp_path
):
    from sklearn.datasets import load_breast_cancer

    from mlops_assets.definitions import defs
    from mlops_assets.domain.estimation import ProbabilityCalibrator

    cancer = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    train_csv = tmp_path / "train.csv"
    cancer.iloc[:450].to_csv(train_csv, index=False)
    days = tmp_path / "days"
    days.mkdir()
    cancer.iloc[450:].to_csv(days / f"{DAY}.csv", index=False)
    data_source = TrainingDataSource(location=str(train_csv), target_column="target")
    training = project.train(data_source=data_source)
    assert training.success
    trained = _metadata(training, "trained_model")
    assert trained["calibration_method"].value in ("isotonic", "sigmoid", "identity")
    assert 0 <= trained["ece_after"].value <= trained["ece_before"].value
    run_id = trained["mlflow_run_id"].value
    registry = project.resources(data_source=data_source)["mlflow_registry"]
    calibrator = ProbabilityCalibrator.from_json(
        registry.run_artifact(run_id, CALIBRATOR_ARTIFACT).read_text("utf-8")
    )
    assert trained["ece_after"].value == significant(calibrator.ece_after)

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=project.instance,
        resources=project.resources(
            data_source=data_source, scoring_source=ScoringDataSource(location=str(days))
        ),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    assert result.success
    predictions = pd.read_parquet(_metadata(result, "batch_predictions")["path"].value)
    assert {f"{PROBA_COLUMN_PREFIX}0", f"{PROBA_COLUMN_PREFIX}1"} <= set(predictions.columns)
    estimate = _metadata(result, "estimated_performance")
    verdict = EstimatedVerdict.from_metadata(DAY, estimate)
    realized = float((predictions["prediction"] == predictions["target"]).mean())
    assert verdict.low <= verdict.value <= verdict.high
    assert abs(verdict.value - realized) < 0.06  # 119 rows: a few points of sampling noise
    assert verdict.dropped is False
    assert isinstance(estimate["estimate_trusted"].value, bool)
    assert estimate["estimate_trust_reason"].value
    assert 0.5 < estimate["estimated_roc_auc"].value <= 1.0
    from sklearn.metrics import f1_score

    f1_macro = f1_score(predictions["target"], predictions["prediction"], average="macro")
    low, high = estimate["estimated_f1_macro_low"].value, estimate["estimated_f1_macro_high"].value
    assert low <= f1_macro <= high
    assert abs(estimate["estimated_f1_macro"].value - f1_macro) < 0.06
    assert estimate["out_of_support_share"].value < 0.25

    # The day's labels have all landed (the run stored them): estimated_performance run again
    # combines them, and with every row labelled its progressive interval is the realized one.
    from mlops_assets.domain.performance import wilson

    again = dg.materialize(
        [defs.get_assets_def("estimated_performance")],
        selection=["estimated_performance"],
        partition_key=DAY.isoformat(),
        instance=project.instance,
        resources=project.resources(
            data_source=data_source, scoring_source=ScoringDataSource(location=str(days))
        ),
    )
    assert again.success
    progressive = _metadata(again, "estimated_performance")
    hits = int((predictions["prediction"] == predictions["target"]).sum())
    low, high = wilson(hits, len(predictions), 0.95)
    assert progressive["labelled_rows"].value == len(predictions)
    assert progressive["progressive_accuracy"].value == pytest.approx(realized, abs=1e-4)
    assert progressive["progressive_accuracy_low"].value == pytest.approx(low, abs=1e-4)
    assert progressive["progressive_accuracy_high"].value == pytest.approx(high, abs=1e-4)
    assert "calibration on" in progressive["estimate_interval"].value
