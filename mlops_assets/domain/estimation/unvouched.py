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

from mlops_assets.domain.drift.columns import category_text
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
        series = frame[categorical.name].reset_index(drop=True)
        missing = series.isna().to_numpy()
        # Read as the profile counted its categories (and data_quality its unseen ones).
        text = category_text(series)
        unseen = ~text.isin(list(categorical.counts))
        unvouched[text.index[unseen.to_numpy()].to_numpy()] = True
        if categorical.n_missing == 0:
            unvouched |= missing
    return float(unvouched.mean())


def unvouched_note(share: float) -> str:
    """How much of the day the estimate could not vouch for, as the asset's text says it."""
    if share == 0:
        return "vouches for every row of the day"
    return (
        f"could not vouch for {share:.1%} of the day's rows (a category training never had, "
        "or a value missing where training had none): the estimate extrapolates there"
    )
