"""The rows of a day a label-free estimate cannot vouch for (issue 29: "the estimate says how
much of the day it could not vouch for").

The model scores every row: an unseen category is encoded as unknown, a missing value imputed.
But the calibrator (CBPE) and the loss model (DLE) learned how right the model is on rows like
the reference's, and the reference never had such a row: a category it never saw, or a value
missing in a feature it never saw missing. On those rows the estimate is an extrapolation.
Pure numpy/pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.domain.drift.profile import ReferenceProfile


def unvouched_share(profile: ReferenceProfile, frame: pd.DataFrame) -> float:
    """Share of `frame`'s rows with a category the training rows never had, or a missing
    value in a feature the training rows never had missing (0 for an empty frame)."""
    if len(frame) == 0:
        return 0.0
    unvouched = np.zeros(len(frame), dtype=bool)
    for numeric in profile.numeric:
        if numeric.n_missing == 0:
            values = frame[numeric.name].to_numpy(dtype=np.float64, na_value=np.nan)
            unvouched |= ~np.isfinite(values)  # as the profile counts missing values
    for categorical in profile.categorical:
        series = frame[categorical.name]
        missing = series.isna().to_numpy()
        known = as_categories(series).isin(list(categorical.counts)).to_numpy()
        unvouched |= ~missing & ~known
        if categorical.n_missing == 0:
            unvouched |= missing
    return float(unvouched.mean())


def as_categories(series: pd.Series) -> pd.Series:
    """The values as the profile's category strings (drift.columns.category_counts): whole
    floats written as integers, so a code column read as float matches the same read as int."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0)
        text = series.astype(str)
        text[whole] = values[whole].astype(np.int64).astype(str)
        return text
    return series.astype(str)


def unvouched_note(share: float) -> str:
    """How much of the day the estimate could not vouch for, as the asset's text says it."""
    if share == 0:
        return "vouches for every row of the day"
    return (
        f"could not vouch for {share:.1%} of the day's rows (a category training never had, "
        "or a value missing where training had none): the estimate extrapolates there"
    )
