"""The built-in scoring source's label delay (MLOPS_LABEL_DELAY_DAYS) and the built-in id."""

from datetime import date

import pandas as pd
import pytest

from mlops_assets.domain.data import DataSourceError
from mlops_assets.domain.synthetic import ID_COLUMN, TARGET_COLUMN
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource

DAY = date(2026, 1, 10)


def test_a_label_delay_leaves_the_target_out_and_delivers_it_as_its_own_file(tmp_path):
    in_batch = ScoringDataSource(rows_per_day=300).load_day(DAY)
    delayed = ScoringDataSource(rows_per_day=300, label_delay_days=3)
    batch = delayed.load_day(DAY)
    assert TARGET_COLUMN in in_batch.columns and TARGET_COLUMN not in batch.columns
    path = delayed.write_builtin_labels(tmp_path, DAY)
    assert path.name == "2026-01-10.parquet"
    labels = pd.read_parquet(path)
    pd.testing.assert_frame_equal(labels, in_batch[[ID_COLUMN, TARGET_COLUMN]])
    assert set(labels[ID_COLUMN]) == set(batch[ID_COLUMN])


def test_labels_are_generated_for_the_built_in_batches_only(tmp_path):
    users = ScoringDataSource(location=str(tmp_path), label_delay_days=3)
    with pytest.raises(DataSourceError, match="MLOPS_LABELS_DATA"):
        users.write_builtin_labels(tmp_path / "labels", DAY)


def test_the_built_in_id_is_an_id_by_default_and_never_for_a_users_table():
    assert TrainingDataSource().id_column_names == (ID_COLUMN,)
    assert TrainingDataSource(id_columns="a,b").id_column_names == ("a", "b")
    assert TrainingDataSource(location="loans.csv").id_column_names == ()
