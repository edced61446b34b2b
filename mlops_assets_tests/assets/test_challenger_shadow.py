"""Shadow in batch: with a version holding `challenger`, batch_predictions scores the same rows
with it and stores its predictions beside the champion's, which stay the output. Real training
runs judged by the gate (the second fit on the same data becomes the challenger), a real MLflow
store and Dagster instance, the built-in generator's days."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.asset_keys import BATCH_PREDICTIONS, SCORING_DATA
from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_PROBA_COLUMN_PREFIX,
    CHALLENGER_VERSION_COLUMN,
    PROBA_COLUMN_PREFIX,
    SCORE_COLUMN,
)
from mlops_assets.domain.training import predict_frame
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.monitoring_runs import QUICK

SMALL = TrainingDataSource(synthetic_rows=2000)
# A smaller table: a different fit, so the challenger's answers are not the champion's.
SMALLER = TrainingDataSource(synthetic_rows=1200)
SCORING = ScoringDataSource(rows_per_day=600)


def _score_day(project, day: str, scoring: ScoringDataSource = SCORING):
    """The day's stored predictions and its daily assets' metadata, by asset key."""
    from mlops_assets.definitions import defs

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(data_source=SMALL, scoring_source=scoring),
        run_config=QUICK,
    )
    metadata = {
        e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    return pd.read_parquet(asset_path(BATCH_PREDICTIONS, day)), metadata


def set_role_by_hand(project, version: str, role: str) -> None:
    """promote_version_job, as a person runs it: `role` is "challenger" or "none"."""
    from mlops_assets.definitions import defs

    config = {"version": version, "role": role, "reason": "test", "requested_by": "test"}
    assert (
        defs.resolve_job_def("promote_version_job")
        .execute_in_process(
            instance=project.instance,
            resources=project.resources(),
            run_config={"ops": {"promote_version": {"config": config}}},
        )
        .success
    )


def test_batch_predictions_scores_the_challenger_in_shadow_beside_the_champion(project):
    assert project.train(data_source=SMALL).success
    # A second fit, made the challenger by hand whatever the gate said of it.
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    day = "2026-01-05"
    paired, assets = _score_day(project, day)
    metadata = assets[BATCH_PREDICTIONS]
    assert metadata["challenger_version"].value == "2"
    assert metadata["model_version"].value == "1"
    # Every row names both versions; the champion's columns are still the output.
    assert set(paired["model_version"]) == {"1"}
    assert set(paired[CHALLENGER_VERSION_COLUMN]) == {"2"}
    assert len(paired) == 600
    # The shadow predictions are v2's own on the stored day's rows.
    registry = project.registry()
    schema = registry.training_schema(registry.version("2").run_id)
    rows = pd.read_parquet(asset_path(SCORING_DATA, day))
    own, proba, classes = predict_frame(
        registry.load_model("2"), rows[schema.feature_columns], schema.task
    )
    assert (paired[CHALLENGER_PREDICTION_COLUMN].to_numpy() == own).all()
    assert proba is not None and classes is not None
    shadow = paired[[f"{CHALLENGER_PROBA_COLUMN_PREFIX}{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(shadow, proba)
    champion = paired[[f"{PROBA_COLUMN_PREFIX}{c}" for c in classes]].to_numpy()
    # Two different fits: each column holds its own model's answers.
    assert not np.allclose(champion, shadow)

    # Once the challenger is retired, the day's output is the champion's alone.
    set_role_by_hand(project, "2", "none")
    alone, assets = _score_day(project, "2026-01-06")
    metadata = assets[BATCH_PREDICTIONS]
    assert not [c for c in alone.columns if "challenger" in c]
    assert metadata["challenger_version"].value == "none"
    assert set(alone["model_version"]) == {"1"}


def test_a_challenger_that_cannot_score_does_not_fail_the_champions_day(project):
    """The challenger's logged schema is unreadable (a broken artefact in the local cache, as
    a truncated download leaves it): the day is still the champion's, and says why the
    challenger was not scored."""
    from pathlib import Path

    from mlops_assets.contracts import SCHEMA_ARTIFACT
    from mlops_assets.home import default_home

    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    run_id = project.registry().version("2").run_id
    cached = Path(default_home()).resolve() / "artifact_cache" / run_id / SCHEMA_ARTIFACT
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("{not json", encoding="utf-8")

    alone, assets = _score_day(project, "2026-01-05")
    metadata = assets[BATCH_PREDICTIONS]
    assert len(alone) == 600
    assert set(alone["model_version"]) == {"1"}
    assert not [c for c in alone.columns if "challenger" in c]
    assert metadata["challenger_version"].value == "none"
    assert metadata["challenger_not_scored"].value.startswith("challenger v2 not scored: ")


def test_at_a_shadow_share_the_challenger_scores_the_ids_its_hash_samples_and_only_those(
    project,
):
    """MLOPS_SHADOW_SHARE=0.3: the champion's output is the same as at share 1; the
    challenger's columns hold v2's own answers on the rows whose id the canary's hash puts
    below 0.3, the others none; challenger_comparison pairs exactly those rows."""
    from mlops_assets.asset_keys import CHALLENGER_COMPARISON
    from mlops_assets.domain.challenger.routing import row_keys, shadow_sample

    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    day = "2026-01-05"
    every, assets = _score_day(project, day)
    metadata = assets[BATCH_PREDICTIONS]
    assert metadata["challenger_share"].value == 1.0
    assert metadata["challenger_rows_scored"].value == 600
    share = ScoringDataSource(rows_per_day=600, shadow_share=0.3)
    sampled, assets = _score_day(project, day, share)
    metadata, comparison = assets[BATCH_PREDICTIONS], assets[CHALLENGER_COMPARISON]

    champion = ["application_id", "row", "prediction", SCORE_COLUMN, "model_version", "default"]
    champion += [c for c in every.columns if c.startswith(PROBA_COLUMN_PREFIX)]
    pd.testing.assert_frame_equal(sampled[champion], every[champion])
    expected = shadow_sample(row_keys(sampled[["application_id"]], "test"), 0.3)
    scored = sampled[CHALLENGER_VERSION_COLUMN].notna().to_numpy()
    np.testing.assert_array_equal(scored, expected)
    assert 120 < scored.sum() < 240  # about 30 % of 600
    assert metadata["challenger_share"].value == 0.3
    assert metadata["challenger_rows_scored"].value == scored.sum()
    assert set(sampled.loc[scored, CHALLENGER_VERSION_COLUMN]) == {"2"}
    challenger_columns = [c for c in sampled.columns if c.startswith("__challenger")]
    assert len(challenger_columns) == 4  # prediction, version, two class probabilities
    assert sampled.loc[~scored, challenger_columns].isna().all().all()
    # The sampled rows' answers are v2's, exactly as at share 1.
    shadow = [CHALLENGER_PREDICTION_COLUMN, *challenger_columns]
    np.testing.assert_array_equal(
        sampled.loc[scored, shadow].astype(str).to_numpy(),
        every.loc[scored, shadow].astype(str).to_numpy(),
    )
    # Only the rows both models scored are paired (every row of the built-in day is labelled).
    assert comparison["challenger_rows"].value == scored.sum()
    wrong = sampled["prediction"].astype(str) != sampled["default"].astype(str)
    challenger_wrong = sampled[CHALLENGER_PREDICTION_COLUMN].astype(str) != sampled[
        "default"
    ].astype(str)
    effect = (wrong.astype(float) - challenger_wrong.astype(float))[scored].mean()
    assert comparison["challenger_effect"].value == pytest.approx(effect, abs=1e-4)
