"""The online service's logged shadow pairs joined with the day's labels, and put beside the
batch's pairs with each id counted once (domain/challenger/online.py)."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_VERSION_COLUMN,
    CHAMPION_PREDICTION_COLUMN,
    CHAMPION_VERSION_COLUMN,
)
from mlops_assets.domain.challenger import ChallengerInputError
from mlops_assets.domain.challenger.online import PairSources, served_pairs, with_served_pairs


def _log(ids, champion, challenger, champion_pred, challenger_pred):
    n = len(ids)
    return pd.DataFrame(
        {
            "loan_id": ids,
            "x": np.arange(n, dtype=float),
            CHAMPION_PREDICTION_COLUMN: pd.Series(champion_pred, dtype=object),
            CHAMPION_VERSION_COLUMN: [champion] * n,
            CHALLENGER_PREDICTION_COLUMN: pd.Series(challenger_pred, dtype=object),
            CHALLENGER_VERSION_COLUMN: pd.Series([challenger] * n, dtype=object),
        }
    )


def test_served_pairs_keep_the_current_pairs_labelled_rows_each_id_once():
    log = pd.concat(
        [
            _log([1, 2, 3], "1", "2", [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]),
            # id 1 again (a retry): its first row counts.
            _log([1], "1", "2", [0.0], [0.0]),
            # Another pair (the challenger replaced mid-day), and a row the challenger did not
            # score (it failed): not this pair's evidence.
            _log([4], "1", "3", [1.0], [0.0]),
            _log([5], "1", "2", [1.0], [None]),
            # A row whose label has not landed.
            _log([6], "1", "2", [1.0], [0.0]),
        ],
        ignore_index=True,
    )
    labels = pd.DataFrame({"loan_id": ["1", "2", "3", "4", "5"], "repaid": [1.0, 1.0, 0.0, 1, 1]})
    pairs = served_pairs(log, labels, ["loan_id"], "repaid", "1", "2", "requests/2026-02-06")
    assert pairs["loan_id"].tolist() == [1, 2, 3]
    assert pairs["prediction"].tolist() == [1.0, 0.0, 1.0]
    assert pairs[CHALLENGER_PREDICTION_COLUMN].tolist() == [1.0, 1.0, 1.0]
    assert pairs["repaid"].tolist() == [1.0, 1.0, 0.0]
    assert set(pairs[CHALLENGER_VERSION_COLUMN]) == {"2"}


def test_a_log_without_both_models_columns_or_ids_is_named():
    log = _log([1], "1", "2", [1.0], [1.0]).drop(columns=[CHALLENGER_PREDICTION_COLUMN])
    labels = pd.DataFrame({"loan_id": [1], "repaid": [1.0]})
    with pytest.raises(ChallengerInputError, match=r"requests/d: column\(s\) __challenger_pre"):
        served_pairs(log, labels, ["loan_id"], "repaid", "1", "2", "requests/d")
    with pytest.raises(ChallengerInputError, match="no id columns"):
        served_pairs(log, labels, [], "repaid", "1", "2", "requests/d")


def test_batch_pairs_come_first_and_online_ones_add_only_new_ids():
    batch = pd.DataFrame(
        {
            "loan_id": [1, 2],
            "prediction": [1.0, 0.0],
            CHALLENGER_PREDICTION_COLUMN: [1.0, 1.0],
            CHALLENGER_VERSION_COLUMN: ["2", "2"],
            "repaid": [1.0, 1.0],
            "extra": ["a", "b"],
        }
    )
    online = pd.DataFrame(
        {
            "loan_id": ["2", 3],
            "prediction": [1.0, 0.0],
            CHALLENGER_PREDICTION_COLUMN: [0.0, 0.0],
            CHALLENGER_VERSION_COLUMN: ["2", "2"],
            "repaid": [1.0, 0.0],
        }
    )
    rows, sources = with_served_pairs(batch, online, ["loan_id"], "2")
    assert sources == PairSources(batch=2, online=1, online_duplicates=1)
    # Id 2 is the batch's row (its predictions), id 3 the service's.
    assert rows["loan_id"].tolist() == [1, 2, 3]
    assert rows["prediction"].tolist() == [1.0, 0.0, 0.0]
    # A batch scored by another challenger (or by none) leaves the service's pairs alone.
    rows, sources = with_served_pairs(batch, online, ["loan_id"], "7")
    assert sources == PairSources(batch=0, online=2, online_duplicates=0)
    assert rows["loan_id"].tolist() == ["2", 3]
    assert sources.to_metadata()["challenger_rows_online"] == 2
