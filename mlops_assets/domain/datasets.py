"""The typed values the training graph passes between assets: a table with where it came from,
the validated table with the schema it was checked against, and a lazy view of stored daily
partitions (the retraining window reads only its own days)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from mlops_assets.domain.data import DataSourceError
from mlops_assets.domain.schemas import DatasetSchema

if TYPE_CHECKING:
    import pandas as pd


# eq=False: a DataFrame field has no truth value for `==`.
@dataclass(frozen=True, eq=False)
class Dataset:
    """raw_data's output: the rows, and the description of where they came from (a file, or
    the scoring partitions of a retraining window), so later messages name the same source."""

    frame: pd.DataFrame
    source: str

    def sidecar_json(self) -> str:
        """What the frame's Parquet file cannot hold, as the JSON stored beside it."""
        return json.dumps({"source": self.source}, indent=2, sort_keys=True)

    @staticmethod
    def from_sidecar(frame: pd.DataFrame, text: str) -> Dataset:
        """A `Dataset`, or a `ValidatedDataset` when the sidecar holds a schema."""
        fields = json.loads(text)
        if "schema" not in fields:
            return Dataset(frame, fields["source"])
        return ValidatedDataset(
            frame,
            fields["source"],
            schema=DatasetSchema.from_json(json.dumps(fields["schema"])),
            schema_version=fields["schema_version"],
        )


@dataclass(frozen=True, eq=False)
class ValidatedDataset(Dataset):
    """validated_data's output: the rows that passed, the schema version they passed under
    (training uses exactly that schema) and its label (`v2-<fingerprint>`, the stored file's
    stem), which the MLflow run is tagged with."""

    schema: DatasetSchema
    schema_version: str

    def sidecar_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "schema": json.loads(self.schema.to_json()),
                "schema_version": self.schema_version,
            },
            indent=2,
            sort_keys=True,
        )


class DailyPartitions(Mapping[str, "pd.DataFrame"]):
    """Stored daily partitions of a DataFrame asset by day (YYYY-MM-DD): listing them or
    asking whether a day exists reads nothing; `partitions[day]` reads that day."""

    def __init__(self, loaders: Mapping[str, Callable[[], pd.DataFrame]]) -> None:
        self._loaders = dict(sorted(loaders.items()))

    def __getitem__(self, day: str) -> pd.DataFrame:
        return self._loaders[day]()

    def __contains__(self, day: object) -> bool:
        # Mapping's own `in` reads the day through __getitem__.
        return day in self._loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


@dataclass(frozen=True, eq=False)
class LabelledWindow:
    frames: tuple[pd.DataFrame, ...]
    """Each stored day's labelled rows."""
    days: tuple[str, ...]
    """The stored days whose rows carry labels, in order."""

    def rows(self, *leading: pd.DataFrame) -> pd.DataFrame:
        """The window's rows as one table, after the `leading` ones (the training source's)."""
        import pandas as pd

        return pd.concat([*leading, *self.frames], ignore_index=True)

    @property
    def source(self) -> str:
        return (
            f"labelled scoring_data partitions {self.days[0]}..{self.days[-1]} "
            f"({len(self.days)} days)"
        )


def window_description(window_start: str, window_end: str) -> str:
    """The window as configured, for messages before its days are read."""
    return f"labelled scoring_data partitions {window_start or window_end}..{window_end}"


def labelled_window(
    partitions: Mapping[str, pd.DataFrame],
    window_start: str,
    window_end: str,
    target: str,
    labels: Mapping[str, pd.DataFrame] | None = None,
    id_columns: Sequence[str] = (),
) -> LabelledWindow:
    """The labelled rows of the stored partitions from window_start (default: window_end) to
    window_end; days not stored, or stored without the target column, are skipped.

    With `labels` (the stored labels partitions, when labels are delivered late) a day's rows
    take their label from that day's labels joined on `id_columns` by value, and keep only the
    rows whose label has arrived; a day with no stored labels is skipped.

    Raises:
        DataSourceError: no day of the window is stored with labels.
    """
    import pandas as pd

    from mlops_assets.domain.labels import id_keys

    end = date.fromisoformat(window_end)
    start = date.fromisoformat(window_start or window_end)
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    frames, used = [], []
    for day in days:
        if day not in partitions or (labels is not None and day not in labels):
            continue
        frame = partitions[day]
        if labels is not None:
            delivered = labels[day]
            by_key = pd.Series(
                delivered[target].to_numpy(), index=id_keys(delivered, id_columns).to_numpy()
            )
            frame = frame.drop(columns=[target], errors="ignore")
            joined = id_keys(frame, id_columns).map(by_key)
            # Stored labels are canonical text ("1"); numeric classes go back to numbers so the
            # window's labels are the type the training data's were.
            numeric = pd.to_numeric(joined, errors="coerce")
            frame[target] = (
                numeric if numeric.notna().sum() == joined.notna().sum() else joined
            ).to_numpy()
        if target in frame.columns:
            frames.append(frame.dropna(subset=[target]))
            used.append(day)
    if not frames:
        raise DataSourceError(
            f"no labelled scoring_data partitions between {start} and {end}: score those days "
            f"with labels (column {target!r}) before retraining on them."
        )
    return LabelledWindow(tuple(frames), tuple(used))
