"""Delayed labels: checked deliveries and joins by id value (pure, no Dagster)."""

import pandas as pd
import pytest

from mlops_assets.domain.data import DataSourceError
from mlops_assets.domain.labels import check_delivery, join_labels

SOURCE = "/labels/2026-01-05.csv"


def _check(labels: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    settings: dict[str, object] = {
        "source": SOURCE,
        "id_columns": ["id"],
        "target": "y",
        "task": "binary",
        "classes": ("0", "1"),
    }
    return check_delivery(labels, **{**settings, **kwargs})  # type: ignore[arg-type]


def test_join_compares_ids_by_value_across_int_str_and_float():
    predictions = pd.DataFrame({"id": ["7", "8", "9"], "prediction": [1, 0, 1]})
    labels = _check(pd.DataFrame({"id": [7.0, 8.0, 100.0], "y": [1, 1, 0]}))
    joined = join_labels(predictions, labels, source=SOURCE, id_columns=["id"], target="y")
    # Stored as the model's classes are named: canonical text.
    assert joined.frame["y"].tolist()[:2] == ["1", "1"]
    assert pd.isna(joined.frame["y"].iloc[2])
    assert (joined.labelled, joined.unlabelled_predictions, joined.unmatched_labels) == (2, 1, 1)


def test_join_on_multi_column_ids_needs_every_part_to_match():
    predictions = pd.DataFrame({"shop": [1, 1, 2], "order": ["10", "11", "10"]})
    labels = _check(
        pd.DataFrame({"shop": ["1", "2"], "order": [11, 10], "y": ["1", "0"]}),
        id_columns=["shop", "order"],
    )
    joined = join_labels(
        predictions, labels, source=SOURCE, id_columns=["shop", "order"], target="y"
    )
    assert pd.isna(joined.frame["y"].iloc[0])
    assert joined.frame["y"].iloc[1:].tolist() == ["1", "0"]
    assert joined.labelled == 2


def test_partial_delivery_counts_predictions_still_unlabelled():
    predictions = pd.DataFrame({"id": range(10)})
    labels = _check(pd.DataFrame({"id": [0, 1, 2], "y": [0, 1, 0]}))
    joined = join_labels(predictions, labels, source=SOURCE, id_columns=["id"], target="y")
    assert (joined.labelled, joined.unlabelled_predictions, joined.unmatched_labels) == (3, 7, 0)


def test_repeated_id_keeps_the_last_row_of_the_delivery():
    labels = _check(pd.DataFrame({"id": [1, 2, "1"], "y": [0, 0, 1]}))
    assert labels["id"].tolist() == ["2", "1"] and labels["y"].tolist() == ["0", "1"]


def test_delivery_matching_no_prediction_fails_naming_file_column_and_row():
    predictions = pd.DataFrame({"id": [1, 2]})
    labels = _check(pd.DataFrame({"id": [50, 51], "y": [0, 1]}))
    with pytest.raises(DataSourceError, match=r"2026-01-05\.csv.*row 0") as error:
        join_labels(predictions, labels, source=SOURCE, id_columns=["id"], target="y")
    assert (error.value.column, error.value.row) == ("id", 0)


def test_missing_id_column_fails_naming_file_and_column():
    with pytest.raises(DataSourceError, match=r"2026-01-05\.csv: no id column `id`") as error:
        _check(pd.DataFrame({"key": [1], "y": [0]}))
    assert error.value.column == "id"


def test_string_label_for_an_integer_model_fails_naming_column_and_row():
    with pytest.raises(DataSourceError, match=r"target `y` at row 2 is 'yes'") as error:
        _check(pd.DataFrame({"id": [1, 2, 3], "y": [1, "0", "yes"]}))
    assert (error.value.column, error.value.row, error.value.value) == ("y", 2, "yes")


def test_non_numeric_label_for_a_regressor_fails():
    with pytest.raises(DataSourceError, match=r"row 1 .*a number") as error:
        _check(pd.DataFrame({"id": [1, 2], "y": [1.5, "n/a"]}), task="regression", classes=None)
    assert error.value.row == 1


def test_empty_id_fails_naming_its_row():
    with pytest.raises(DataSourceError, match="empty at row 1"):
        _check(pd.DataFrame({"id": [1, None], "y": [0, 1]}))


def test_retraining_window_with_delayed_labels_keeps_only_labelled_rows():
    from mlops_assets.domain.datasets import labelled_window

    scored = {
        "2026-01-05": pd.DataFrame({"id": ["1", "2", "3"], "x": [0.1, 0.2, 0.3]}),
        "2026-01-06": pd.DataFrame({"id": ["4", "5"], "x": [0.4, 0.5]}),  # no labels yet
    }
    labels = {"2026-01-05": pd.DataFrame({"id": [3, 1], "y": ["1", "0"]})}
    window = labelled_window(scored, "2026-01-05", "2026-01-06", "y", labels, ["id"])
    assert window.days == ("2026-01-05",)
    rows = window.rows()
    assert rows["id"].tolist() == ["1", "3"] and rows["y"].tolist() == [0, 1]
