"""challenger_comparison on real days: a real registered challenger scores in shadow, the day's
labels judge both, the evidence accumulates from the stored days, a re-run day is recounted
(never counted twice), and a day with no challenger says there is nothing to compare."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.asset_keys import BATCH_PREDICTIONS, CHALLENGER_COMPARISON
from mlops_assets.contracts import (
    CHALLENGER_CHECK,
    CHALLENGER_PREDICTION_COLUMN,
    LABELS_JOB,
)
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.assets.test_challenger_shadow import (
    SMALL,
    SMALLER,
    _score_day,
    set_role_by_hand,
)

FIRST, SECOND, THIRD = "2026-01-05", "2026-01-06", "2026-01-07"


def _comparison(project, day: str):
    """The day's latest challenger_comparison materialisation's metadata, as the UI shows."""
    import dagster as dg

    records = project.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHALLENGER_COMPARISON, asset_partitions=[day]), limit=1
    ).records
    return {k: getattr(v, "value", v) for k, v in records[0].asset_materialization.metadata.items()}


def _checked(project, day: str):
    import dagster as dg

    key = dg.AssetCheckKey(CHALLENGER_COMPARISON, CHALLENGER_CHECK)
    for record in project.instance.event_log_storage.get_asset_check_execution_history(
        key, limit=50
    ):
        evaluation = record.event.asset_check_evaluation
        if evaluation.partition == day:
            return evaluation
    raise AssertionError(f"no {CHALLENGER_CHECK} evaluation for {day}")


def _zero_one_differences(day: str) -> np.ndarray:
    frame = pd.read_parquet(asset_path(BATCH_PREDICTIONS, day))
    truth = frame["default"].astype(str)
    champion = (frame["prediction"].astype(str) != truth).to_numpy(dtype=float)
    challenger = (frame[CHALLENGER_PREDICTION_COLUMN].astype(str) != truth).to_numpy(dtype=float)
    return champion - challenger


def test_challenger_comparison_accumulates_the_labelled_days_in_the_sequential_test(project):
    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")

    _score_day(project, FIRST)
    first = _comparison(project, FIRST)
    d1 = _zero_one_differences(FIRST)
    assert (first["champion_version"], first["challenger_version"]) == ("1", "2")
    assert (first["challenger_rows"], first["challenger_days"]) == (600, 1)
    assert first["challenger_effect"] == pytest.approx(d1.mean(), abs=1e-4)
    assert first["challenger_low"] < first["challenger_effect"] < first["challenger_high"]
    assert first["challenger_decision"] in {"keep_collecting", "promote", "retire"}
    stored = pd.read_parquet(asset_path(BATCH_PREDICTIONS, FIRST))
    truth = stored["default"].astype(str)
    accuracy = (stored["prediction"].astype(str) == truth).mean()
    assert first["champion_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert "| version | v1 | v2 |" in first["summary"]
    assert _checked(project, FIRST).passed == (
        first["challenger_reason"] not in ("proven_worse", "not_better_by_min_effect")
    )

    _score_day(project, SECOND)
    second = _comparison(project, SECOND)
    both = np.concatenate([d1, _zero_one_differences(SECOND)])
    assert (second["challenger_rows"], second["challenger_days"]) == (1200, 2)
    assert second["challenger_effect"] == pytest.approx(both.mean(), abs=1e-4)
    # The running intersection only narrows.
    assert second["challenger_low"] >= first["challenger_low"] - 1e-4
    assert second["challenger_high"] <= first["challenger_high"] + 1e-4

    # The second day again: recounted from the evidence before it, not counted twice.
    _score_day(project, SECOND)
    again = _comparison(project, SECOND)
    assert (again["challenger_rows"], again["challenger_days"]) == (1200, 2)
    assert again["challenger_effect"] == second["challenger_effect"]

    # Retired: the next day has nothing to compare, and says so.
    set_role_by_hand(project, "2", "none")
    _score_day(project, THIRD)
    third = _comparison(project, THIRD)
    assert "challenger_decision" not in third
    assert third["nothing_to_compare"].startswith(f"{THIRD}: nothing to compare")
    assert _checked(project, THIRD).passed


def test_a_day_scored_before_a_promotion_says_it_has_no_distinct_pair(project):
    """v2 shadows v1 on a day, then v2 is promoted and v1, the former champion, takes
    `challenger` under watch: that day, judged again, was scored by the version now holding
    `challenger`. It says so, not "scored by both v1 and v1"."""
    from mlops_assets.definitions import defs
    from mlops_assets_tests.assets.test_challenger_shadow import SCORING

    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    _score_day(project, FIRST)
    set_role_by_hand(project, "2", "champion")
    assert project.registry().version_by_alias("challenger").version == "1"

    # The day's labels delivered again after the promotion: labels_job judges the day anew.
    result = defs.resolve_job_def(LABELS_JOB).execute_in_process(
        partition_key=FIRST,
        instance=project.instance,
        resources=project.resources(data_source=SMALL, scoring_source=SCORING),
    )
    assert result.success
    day = _comparison(project, FIRST)
    assert (day["champion_version"], day["challenger_version"]) == ("1", "1")
    assert "challenger_decision" not in day
    assert day["nothing_to_compare"] == (
        f"{FIRST}: nothing to compare: the day was scored by v1, which now holds `challenger` "
        "itself: no distinct champion and challenger pair scored it"
    )
    assert "v1 and v1" not in _checked(project, FIRST).description


def test_a_day_the_challenger_did_not_score_keeps_the_pairs_evidence():
    """A day recorded as (champion, "none") with no evidence sits between two of the pair's
    days: the next day continues the pair's evidence instead of restarting the test."""
    import dagster as dg

    from mlops_assets.defs.monitoring.comparison import (
        CHALLENGER_VERSION_KEY,
        CHAMPION_VERSION_KEY,
        EVIDENCE_KEY,
        NOTHING_TO_COMPARE_KEY,
        ROLES_SINCE_KEY,
        evidence_json,
        stored_evidence,
    )
    from mlops_assets.domain.challenger import ChallengerEvidence

    since = "2026-01-01T00:00:00+00:00"
    evidence = ChallengerEvidence().add_day(FIRST, np.array([1.0, 0.0, -1.0, 1.0]))
    with dg.DagsterInstance.ephemeral() as instance:
        for day, metadata in (
            (
                FIRST,
                {
                    CHAMPION_VERSION_KEY: "1",
                    CHALLENGER_VERSION_KEY: "2",
                    ROLES_SINCE_KEY: since,
                    EVIDENCE_KEY: dg.MetadataValue.json(evidence_json(evidence)),
                },
            ),
            (
                SECOND,
                {
                    NOTHING_TO_COMPARE_KEY: "no challenger scored the day's rows",
                    CHAMPION_VERSION_KEY: "1",
                    CHALLENGER_VERSION_KEY: "none",
                },
            ),
        ):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(CHALLENGER_COMPARISON, partition=day, metadata=metadata)
            )
        carried = stored_evidence(instance, CHALLENGER_COMPARISON, THIRD, "1", "2", since)
    assert carried is not None
    assert (carried.rows, carried.total) == (4, 1.0)


def test_a_regression_challenger_has_nothing_to_compare(project, tmp_path):
    """No bounded loss for a regressor yet: 0/1 loss would call it wrong on almost every row
    and retire it, so the day says why it is not judged and carries no verdict."""
    from mlops_assets.definitions import defs
    from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
    from mlops_assets_tests.monitoring_runs import QUICK

    rng = np.random.default_rng(0)

    def houses(rows: int) -> pd.DataFrame:
        frame = pd.DataFrame(
            {"area": rng.uniform(30, 200, rows), "city": rng.choice(["a", "b"], rows)}
        )
        frame["price"] = 3000 * frame["area"] + rng.normal(0, 20_000, rows)
        return frame

    sources = []
    for rows in (1500, 1000):
        path = tmp_path / f"houses-{rows}.parquet"
        houses(rows).to_parquet(path)
        sources.append(TrainingDataSource(location=str(path), target_column="price"))
        assert project.train(data_source=sources[-1]).success
    # Whichever fit the gate kept as champion, the other is made the challenger by hand.
    champion = project.registry().version_by_alias("champion").version
    challenger = "1" if champion == "2" else "2"
    set_role_by_hand(project, challenger, "challenger")
    days = tmp_path / "days"
    days.mkdir()
    houses(300).to_csv(days / f"{FIRST}.csv", index=False)
    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=FIRST,
        instance=project.instance,
        resources=project.resources(
            data_source=sources[0], scoring_source=ScoringDataSource(location=str(days))
        ),
        run_config=QUICK,
        raise_on_error=False,
    )
    day = _comparison(project, FIRST)
    assert day["challenger_version"] == challenger, result.success
    assert "challenger_decision" not in day
    assert "regression: no bounded loss for a regressor yet" in day["nothing_to_compare"]
    assert _checked(project, FIRST).passed
