"""The request log's rows: each scored request as the serving service keeps it until its rows
are written (ids and features as scored, the answer, who gave it, both models' predictions).
Pure: no MLflow or disk; mlops_assets/serving/request_log.py writes them as Parquet parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_VERSION_COLUMN,
    CHAMPION_PREDICTION_COLUMN,
    CHAMPION_VERSION_COLUMN,
    REQUEST_ID_COLUMN,
    SERVED_AT_COLUMN,
    SERVED_MODEL_VERSION_COLUMN,
    SERVED_PREDICTION_COLUMN,
    SERVED_ROLE_COLUMN,
    SERVED_SCORE_COLUMN,
)
from mlops_assets.domain.serving import PreparedRows


@dataclass(frozen=True)
class BothScored:
    """A request's rows under the champion and the challenger, and who answered each.

    Only the answering model scores on the request's path; the other one's predictions are
    None until `unscored` (its pipeline, as loaded when the request came) scores them, in one
    batch with other requests' rows before the log is written (serving/request_log.py): one
    call on a thousand rows costs about what one call on one row costs."""

    roles: np.ndarray
    """Per row `champion` or `challenger`: the role whose prediction the client got."""
    champion_version: str
    champion_pred: np.ndarray | None
    challenger_version: str
    challenger_pred: np.ndarray | None
    unscored: Any = None
    """The pipeline of the role whose predictions are None (None once both are in)."""


@dataclass(frozen=True)
class ServedRequest:
    """One scored request, as the request log keeps it until it writes the rows
    (`served_rows`), off the request's path."""

    prepared: PreparedRows
    y_pred: np.ndarray
    """The predictions the client got."""
    scores: np.ndarray
    model_version: str
    """The version that answered, when the champion scored alone (`both` is None)."""
    served_at: datetime
    request_id: str
    both: BothScored | None = None


def served_rows(requests: Sequence[ServedRequest]) -> pd.DataFrame:
    """The request log's rows: ids and features as scored, the prediction the client got, its
    monitored score, the version and role that answered, the time (UTC), and both models'
    predictions and versions (the challenger's null where it did not score), one row per row
    scored."""
    rows = pd.concat(
        [
            pd.concat([r.prepared.ids, r.prepared.features], axis=1).reset_index(drop=True)
            for r in requests
        ],
        ignore_index=True,
    )
    counts = [len(r.y_pred) for r in requests]
    pairs = list(zip(requests, counts, strict=True))
    rows[SERVED_PREDICTION_COLUMN] = np.concatenate([r.y_pred for r in requests])
    rows[SERVED_SCORE_COLUMN] = np.concatenate([r.scores for r in requests])
    roles = [
        r.both.roles if r.both is not None else np.full(n, "champion", dtype=object)
        for r, n in zip(requests, counts, strict=True)
    ]
    rows[SERVED_ROLE_COLUMN] = np.concatenate(roles).astype(object)
    rows[SERVED_MODEL_VERSION_COLUMN] = np.concatenate(
        [
            np.where(role == "challenger", r.both.challenger_version, r.both.champion_version)
            if r.both is not None
            else np.full(len(role), r.model_version)
            for r, role in zip(requests, roles, strict=True)
        ]
    ).astype(object)
    rows[SERVED_AT_COLUMN] = pd.DatetimeIndex(
        np.repeat([pd.Timestamp(r.served_at) for r in requests], counts)
    )
    rows[REQUEST_ID_COLUMN] = np.repeat([r.request_id for r in requests], counts)
    rows[CHAMPION_PREDICTION_COLUMN] = _column(
        [(r.both.champion_pred if r.both is not None else r.y_pred, n) for r, n in pairs]
    )
    rows[CHAMPION_VERSION_COLUMN] = np.repeat(
        [r.both.champion_version if r.both is not None else r.model_version for r in requests],
        counts,
    ).astype(object)
    rows[CHALLENGER_PREDICTION_COLUMN] = _column(
        [(r.both.challenger_pred if r.both is not None else None, n) for r, n in pairs]
    )
    rows[CHALLENGER_VERSION_COLUMN] = np.repeat(
        [r.both.challenger_version if r.both is not None else None for r in requests], counts
    ).astype(object)
    return rows


def _column(parts: Sequence[tuple[np.ndarray | None, int]]) -> pd.Series:
    """Predictions with None where a model did not score (an object column: Parquet keeps the
    nulls and the predictions' type)."""
    return pd.concat(
        [
            pd.Series(values if values is not None else [None] * n, dtype=object)
            for values, n in parts
        ],
        ignore_index=True,
    )
