"""Reading the feature columns of a frame for the drift comparison, training side and batch side.

Both sides go through the same readers, so a column is summarised in training exactly as it is
counted on the day.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class DriftInputError(ValueError):
    """The batch (or training frame) cannot be compared: a column is missing or not numeric."""


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DriftInputError(
            f"{what} lacks the columns {missing}; it has {list(frame.columns)}. Drift is "
            "measured on the features of the model version's schema."
        )


def sorted_numeric_block(
    frame: pd.DataFrame, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """All numeric columns as one (columns, rows) float array, each row sorted with its
    missing and infinite values (as NaN) at the end; and the count of finite values."""
    block = np.empty((len(names), len(frame)), dtype=np.float64)
    for i, name in enumerate(names):
        try:
            block[i] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise DriftInputError(
                f"column {name!r} should be numeric but has dtype {frame[name].dtype}: {error}"
            ) from error
    block[np.isinf(block)] = np.nan
    n_valid = len(frame) - np.count_nonzero(np.isnan(block), axis=1)
    block.sort(axis=1)
    return block, n_valid


def category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of the non-missing categories as strings (`category_text`), and the number of
    missing values."""
    present = category_text(series)
    counts = present.value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}, len(series) - len(present)


def category_text(series: pd.Series) -> pd.Series:
    """The non-missing values as category strings, with their index: whole floats written as
    integers (when every present value is whole), so a code column read as float (because it
    has missing values) matches the same column read as int."""
    present = series.dropna()
    if pd.api.types.is_float_dtype(present.dtype) and bool(
        np.all(np.mod(present.to_numpy(), 1) == 0)
    ):
        present = present.astype(np.int64)
    return present.astype(str)
