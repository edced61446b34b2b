"""The typed values between the data assets: sidecars that round-trip, and the retraining
window that reads only its own stored, labelled days."""

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.domain.data import DataSourceError
from mlops_assets.domain.datasets import (
    DailyPartitions,
    Dataset,
    ValidatedDataset,
    labelled_window,
    window_description,
)
from mlops_assets.domain.schemas import infer_schema


def _day(target: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame({"x": range(len(target)), "label": target})


class _Recorded:
    """Daily frames whose reads are recorded: the window must read only its own days."""

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.read: list[str] = []
        self.partitions = DailyPartitions(
            {day: (lambda day=day: self._load(day, frames)) for day in frames}
        )

    def _load(self, day: str, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
        self.read.append(day)
        return frames[day]


def test_a_dataset_and_a_validated_dataset_round_trip_through_their_sidecars():
    frame = load_breast_cancer(as_frame=True).frame.head(50)
    raw = Dataset(frame, "/data/clinic.csv")
    loaded_raw = Dataset.from_sidecar(frame, raw.sidecar_json())
    assert type(loaded_raw) is Dataset and loaded_raw.source == "/data/clinic.csv"

    schema = infer_schema(frame, target="target")
    validated = ValidatedDataset(frame, "/data/clinic.csv", schema, "v3-abc")
    loaded = Dataset.from_sidecar(frame, validated.sidecar_json())
    assert isinstance(loaded, ValidatedDataset)
    assert loaded.schema == schema and loaded.schema.fingerprint() == schema.fingerprint()
    assert (loaded.source, loaded.schema_version) == ("/data/clinic.csv", "v3-abc")


def test_daily_partitions_list_days_in_order_without_reading_them():
    recorded = _Recorded({"2026-03-02": _day([1.0]), "2026-03-01": _day([0.0])})
    assert list(recorded.partitions) == ["2026-03-01", "2026-03-02"]
    assert "2026-03-01" in recorded.partitions and "2026-03-03" not in recorded.partitions
    assert recorded.read == []


def test_the_window_reads_only_its_days_and_keeps_their_labelled_rows():
    recorded = _Recorded(
        {
            "2026-02-27": _day([1.0, 0.0]),  # before the window: never read
            "2026-03-01": _day([1.0, None, 0.0]),
            "2026-03-02": pd.DataFrame({"x": [7]}),  # scored without labels: skipped
            "2026-03-04": _day([0.0]),
            "2026-03-09": _day([1.0]),  # after the window: never read
        }
    )
    window = labelled_window(recorded.partitions, "2026-03-01", "2026-03-05", "label")
    assert recorded.read == ["2026-03-01", "2026-03-02", "2026-03-04"]
    assert window.days == ("2026-03-01", "2026-03-04")
    assert window.source == "labelled scoring_data partitions 2026-03-01..2026-03-04 (2 days)"
    assert window.rows()["label"].tolist() == [1.0, 0.0, 0.0]
    training = _day([1.0, 1.0])
    assert window.rows(training)["label"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert window.rows(training).index.tolist() == [0, 1, 2, 3, 4]


def test_a_window_without_start_is_its_last_day():
    partitions = DailyPartitions(
        {"2026-03-01": lambda: _day([1.0]), "2026-03-02": lambda: _day([0.0])}
    )
    window = labelled_window(partitions, "", "2026-03-02", "label")
    assert window.days == ("2026-03-02",)
    assert window_description("", "2026-03-02") == (
        "labelled scoring_data partitions 2026-03-02..2026-03-02"
    )


def test_a_window_with_no_labelled_day_stored_says_which_days_and_column():
    partitions = DailyPartitions({"2026-03-02": lambda: pd.DataFrame({"x": [1]})})
    with pytest.raises(DataSourceError) as raised:
        labelled_window(partitions, "2026-03-01", "2026-03-03", "label")
    assert str(raised.value) == (
        "no labelled scoring_data partitions between 2026-03-01 and 2026-03-03: score those "
        "days with labels (column 'label') before retraining on them."
    )
    with pytest.raises(DataSourceError):
        labelled_window(DailyPartitions({}), "2026-03-01", "2026-03-03", "label")
