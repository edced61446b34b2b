"""Delayed labels: check a delivery and join it to the day's predictions by id value.

Labels often arrive days after the features, from another system, in another file format:
the same id is 7 in a CSV, "7" in a Parquet file written from strings and 7.0 in a column
that once held a null. Ids are therefore compared by value (`labels_by_value`), column by
column, never by dtype. Within one delivery a repeated id keeps its last row: a system that
appends corrections to a file means the newest one. Pure pandas: no Dagster, MLflow or disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.domain.data.errors import DataSourceError
from mlops_assets.domain.performance import labels_by_value
from mlops_assets.domain.schemas import TaskType

# Separates the canonical id values of a multi-column id in its join key.
_KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class LabelJoin:
    """Predictions with the delivered label beside each (missing where none arrived yet)."""

    frame: pd.DataFrame
    labelled: int  # predictions with a label
    unlabelled_predictions: int  # predictions whose label has not arrived
    unmatched_labels: int  # delivered labels whose ids match no prediction


def id_keys(frame: pd.DataFrame, id_columns: Sequence[str]) -> pd.Series:
    """One join key per row from its id values: 7, 7.0 and "7" give the same key."""
    parts = [labels_by_value(frame[name]).fillna("").astype(str) for name in id_columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + _KEY_SEPARATOR + part
    return key


def check_delivery(
    labels: pd.DataFrame,
    *,
    source: str,
    id_columns: Sequence[str],
    target: str,
    task: TaskType,
    classes: Sequence[str] | None,
) -> pd.DataFrame:
    """The delivery's ids and target, checked: every id column and the target present, no
    missing id, each label a value the model knows (a class it was trained on, a number for a
    regressor). Rows without a label are dropped; a repeated id keeps its last row.

    Raises:
        DataSourceError: naming `source`, the column and the first bad (0-based) data row.
    """
    if not id_columns:
        raise DataSourceError(
            f"{source}: labels are joined to predictions by id, and no id columns are set; "
            "set MLOPS_ID_COLUMNS to the columns that identify a row.",
            check="id_columns_set",
        )
    for name in (*id_columns, target):
        if name not in labels.columns:
            what = "target" if name == target else "id column"
            raise DataSourceError(
                f"{source}: no {what} `{name}` (columns: {', '.join(map(str, labels.columns))}).",
                check="column_present",
                column=name,
            )
    frame = labels[[*id_columns, target]].reset_index(drop=True)
    for name in id_columns:
        missing = np.flatnonzero(frame[name].isna().to_numpy())
        if len(missing):
            raise DataSourceError(
                f"{source}: id column `{name}` is empty at row {missing[0]}; every label needs "
                "its id.",
                check="id_present",
                column=name,
                row=int(missing[0]),
            )
    frame = frame[frame[target].notna()]
    _check_target(frame[target], source=source, target=target, task=task, classes=classes)
    keys = id_keys(frame, id_columns)
    frame = frame[~keys.duplicated(keep="last").to_numpy()].reset_index(drop=True)
    # Stored as one type per column (Parquet needs it): a column read with mixed types keeps
    # its values as canonical text, and labels as the model sees them.
    for name in id_columns:
        if frame[name].dtype == object:
            frame[name] = labels_by_value(frame[name])
    if task == "regression":
        frame[target] = pd.to_numeric(frame[target].astype(object)).astype(float)
    else:
        frame[target] = labels_by_value(frame[target])
    return frame


def _check_target(
    values: pd.Series, *, source: str, target: str, task: TaskType, classes: Sequence[str] | None
) -> None:
    if task == "regression":
        numeric = pd.to_numeric(values.astype(object), errors="coerce")
        bad = values.index[numeric.isna().to_numpy()]
        expected = "a number (the model is a regressor)"
    elif classes is not None:
        known = set(labels_by_value(pd.Series(list(classes), dtype=object)))
        bad = values.index[~labels_by_value(values).isin(known).to_numpy()]
        expected = f"one of the model's classes {', '.join(sorted(known))}"
    else:
        return
    if len(bad):
        row = int(bad[0])
        raise DataSourceError(
            f"{source}: target `{target}` at row {row} is {values.loc[row]!r}; expected "
            f"{expected}. {len(bad)} row(s) like it.",
            check="target_type",
            column=target,
            row=row,
            value=values.loc[row],
        )


def join_labels(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    source: str,
    id_columns: Sequence[str],
    target: str,
) -> LabelJoin:
    """The predictions with the label of the same id in `target` (replacing any it had).

    Raises:
        DataSourceError: when no delivered id matches a prediction (wrong file, wrong day or
            wrong id columns), naming the first delivered id.
    """
    # Object indexes: pandas 3's Arrow strings fall back to a Python loop in `isin`.
    label_keys = pd.Index(id_keys(labels, id_columns).to_numpy(dtype=object), dtype=object)
    prediction_keys = pd.Index(
        id_keys(predictions, id_columns).to_numpy(dtype=object), dtype=object
    )
    values = pd.Series(labels[target].to_numpy())
    if not label_keys.is_unique:  # a repeated id keeps its last label, as check_delivery does
        last = ~label_keys.duplicated(keep="last")
        label_keys, values = label_keys[last], values[last].reset_index(drop=True)
    # Hash-table lookups, not Python sets: a million ids join in a fraction of a second.
    position = label_keys.get_indexer(prediction_keys)
    matched = label_keys.isin(prediction_keys)
    if len(labels) and not matched.any():
        first = {name: labels[name].iloc[0] for name in id_columns}
        raise DataSourceError(
            f"{source}: none of its {len(labels)} label ids matches a prediction of the day "
            f"(row 0 has {first}); check the day, the file and MLOPS_ID_COLUMNS.",
            check="ids_match_predictions",
            column=id_columns[0],
            row=0,
            value=labels[id_columns[0]].iloc[0],
        )
    joined = predictions.copy()
    joined[target] = values.reindex(position).to_numpy()  # -1 (no label yet) gives NaN
    labelled = int(joined[target].notna().sum())
    return LabelJoin(
        frame=joined,
        labelled=labelled,
        unlabelled_predictions=len(joined) - labelled,
        unmatched_labels=int((~matched).sum()),
    )
