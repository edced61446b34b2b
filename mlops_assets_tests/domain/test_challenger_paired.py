"""paired_day: a day's joined predictions and labels as the test's paired differences."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_PROBA_COLUMN_PREFIX,
    CHALLENGER_VERSION_COLUMN,
    PROBA_COLUMN_PREFIX,
)
from mlops_assets.domain.challenger import ChallengerInputError
from mlops_assets.domain.challenger.paired import paired_day


def _day() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": [1, 0, 1, 0, 1],
            "prediction": [1, 1, 0, 0, 1],
            f"{PROBA_COLUMN_PREFIX}0": [0.2, 0.4, 0.6, 0.9, 0.1],
            f"{PROBA_COLUMN_PREFIX}1": [0.8, 0.6, 0.4, 0.1, 0.9],
            CHALLENGER_PREDICTION_COLUMN: [1, 0, 1, 0, 0],
            f"{CHALLENGER_PROBA_COLUMN_PREFIX}0": [0.3, 0.7, 0.2, 0.8, 0.6],
            f"{CHALLENGER_PROBA_COLUMN_PREFIX}1": [0.7, 0.3, 0.8, 0.2, 0.4],
            # The last row was scored by an earlier challenger: not paired with this one.
            CHALLENGER_VERSION_COLUMN: ["2", "2", "2", "2", "1"],
        }
    )


def test_zero_one_pairs_only_the_rows_the_challenger_scored():
    paired = paired_day(_day(), "y", "2", "zero_one")
    # Champion wrong on rows 1 and 2, the challenger on none of the four.
    np.testing.assert_array_equal(paired.differences, [0.0, 1.0, 1.0, 0.0])
    assert (paired.champion_accuracy, paired.challenger_accuracy) == (0.5, 1.0)


def test_brier_reads_both_models_probabilities():
    paired = paired_day(_day(), "y", "2", "brier", classes=[0, 1])
    champion = np.array([0.08, 0.72, 0.72, 0.02])
    challenger = np.array([0.18, 0.18, 0.08, 0.08])
    np.testing.assert_allclose(paired.differences, champion - challenger)


def test_a_day_without_shadow_columns_says_so():
    frame = _day().drop(columns=[CHALLENGER_VERSION_COLUMN])
    with pytest.raises(ChallengerInputError, match="no challenger scored them"):
        paired_day(frame, "y", "2", "zero_one")


def test_the_verdict_check_warns_only_on_evidence_the_challenger_is_worse():
    import dagster as dg

    from mlops_assets.defs.monitoring.comparison import verdict_check
    from mlops_assets.domain.challenger import ChallengerEvidence

    def checked(differences: list[float]) -> dg.AssetCheckResult:
        evidence = ChallengerEvidence().add_day("2026-01-05", np.array(differences))
        return verdict_check(evidence.verdict())

    worse = checked([-1.0] * 3000)
    assert (worse.passed, worse.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert worse.description.startswith("retire (proven_worse)")
    better = checked([1.0] * 3000)
    assert better.passed and better.description.startswith("promote (proven_better)")
    assert checked([0.0] * 100).passed  # keep collecting


@pytest.mark.parametrize("loss", ["zero_one", "brier", "log_loss"])
def test_a_regressors_day_is_refused_with_every_loss(loss):
    # 0/1 loss on a regressor's predictions would call it wrong on almost every row.
    frame = _day().assign(y=[1.5, 0.2, 3.1, 0.7, 2.2], prediction=[1.4, 0.3, 3.0, 0.6, 2.1])
    with pytest.raises(ChallengerInputError, match="no bounded loss for a regressor"):
        paired_day(frame, "y", "2", loss, classes=[0, 1], task="regression")


def test_the_days_challenger_is_the_one_that_scored_most_rows_and_none_on_a_zero_row_day():
    from mlops_assets.domain.challenger.paired import shadow_version

    assert shadow_version(pd.Series(["2", "2", "1"])) == "2"
    assert shadow_version(pd.Series([], dtype=object)) is None
