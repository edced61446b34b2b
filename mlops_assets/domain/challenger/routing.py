"""Who answers a served row when a challenger runs beside the champion, and what a landed
label says about that answer: the serving service's modes, pure (no HTTP, MLflow or disk).

- `shadow`: the champion answers every row; the challenger scores the same rows, logged only.
- `canary`: a share of rows is answered by the challenger, chosen by a hash of the row's id
  columns, so one id always meets the same model (a client that retries, or comes back, does
  not flip between two answers) and the share holds across processes and restarts.
- `bandit`: Thompson sampling (`bandit.ThompsonSampler`) per row id, rewarded when the row's
  label lands: 1 when the answer was right.
- `champion`: the champion alone (the service without a challenger).

The list of modes and the parser of the setting are domain/serve_modes.py (the code location
reads the setting too, and must not import this module's pandas).

Batch shadow samples a day's rows by the same hash (`shadow_sample`): a share below 1 shadows
the keys the canary at that share would route, the same ids day after day.

A row is keyed by its id columns' values (`row_keys`); a row without ids is keyed by its
request id and position, which is neither sticky nor joinable with a label later.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.domain.challenger.bandit import Arm
from mlops_assets.domain.challenger.losses import ChallengerInputError

# The separator between a key's id values: a control character no id value is expected to hold.
_KEY_SEPARATOR = "\x1f"


def _id_text(value: Any) -> str:
    # 42, 42.0 (a CSV column with a blank elsewhere) and "42" are one id.
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def row_keys(ids: pd.DataFrame, request_id: str) -> list[str]:
    """One key per row from its id columns' values; a row whose ids are all missing (or a
    schema without id columns) gets `<request_id>#<position>`."""
    if ids.shape[1] == 0:
        return [f"{request_id}#{i}" for i in range(len(ids))]
    missing = ids.isna().all(axis=1).to_numpy()
    texts = [_id_texts(ids[c]) for c in ids.columns]
    keys = (
        texts[0]
        if len(texts) == 1
        else [_KEY_SEPARATOR.join(row) for row in zip(*texts, strict=True)]
    )
    for i in np.flatnonzero(missing):
        keys[i] = f"{request_id}#{i}"
    return keys


def _id_texts(column: pd.Series) -> list[str]:
    # A numpy integer column (the usual id) prints as Python's ints do, at C speed: a batch
    # day keys a million rows.
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        texts: list[str] = column.astype(str).tolist()
        return texts
    return [_id_text(value) for value in column.tolist()]


def canary_point(key: str) -> float:
    """A row key's place in [0, 1): stable across processes (not Python's salted `hash`)."""
    return float(key_points([key])[0])


def key_points(keys: Sequence[str]) -> np.ndarray:
    """Each key's `canary_point`, as one array: the 64-bit BLAKE2b digest of its UTF-8 text,
    big-endian, over 2**64 (converting a uint64 to float and halving by powers of two rounds
    as Python's int division does)."""
    digest = functools.partial(hashlib.blake2b, digest_size=8)
    digests = b"".join([digest(key.encode()).digest() for key in keys])
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2**64


def canary_roles(keys: Sequence[str], share: float) -> list[Arm]:
    """The challenger answers the keys whose point is below `share`: raising the share keeps
    every key the challenger answered before (a canary grows, it does not reshuffle)."""
    if not 0 <= share <= 1:
        raise ChallengerInputError(f"the canary share must be in [0, 1], got {share}")
    points = key_points(keys)
    return ["challenger" if point < share else "champion" for point in points.tolist()]


def shadow_sample(keys: Sequence[str], share: float) -> np.ndarray:
    """Which rows the challenger scores in batch shadow at `share` of a day's rows (in (0, 1]):
    the keys whose point is below it, so an id is shadowed every day or never, and a larger
    share keeps every row a smaller one shadowed (as the canary grows).

    Raises:
        ChallengerInputError: `share` is not in (0, 1].
    """
    if not 0 < share <= 1:
        raise ChallengerInputError(f"the shadow share must be in (0, 1], got {share}")
    return key_points(keys) < share


def label_rewards(
    labels: pd.DataFrame,
    served: pd.DataFrame,
    id_columns: Sequence[str],
    target: str,
    prediction_column: str,
    source: str,
) -> dict[str, float]:
    """Each labelled row's reward by row key: 1.0 when the prediction that answered it equals
    its label, else 0.0. `served` is the request log's rows (ids and the answered prediction);
    a key served more than once counts its first answer (a retry is not a new trial).

    Raises:
        ChallengerInputError: `labels` (read from `source`) lacks an id column or the target.
    """
    missing = [c for c in (*id_columns, target) if c not in labels.columns]
    if not id_columns:
        raise ChallengerInputError(
            f"{source}: the model has no id columns (MLOPS_ID_COLUMNS), so a label cannot be "
            "joined with the request it answers"
        )
    if missing:
        raise ChallengerInputError(
            f"{source}: column(s) {', '.join(missing)} missing; a label file holds the id "
            f"columns ({', '.join(id_columns)}) and the target {target!r}"
        )
    labels = labels[labels[target].notna()]  # a row delivered without its outcome yet
    if served.empty or labels.empty:
        return {}
    answered = pd.DataFrame(
        {
            "key": row_keys(served[list(id_columns)], "served"),
            "prediction": served[prediction_column].map(_id_text),
        }
    ).drop_duplicates("key")
    delivered = pd.DataFrame(
        {
            "key": row_keys(labels[list(id_columns)], "label"),
            "label": labels[target].map(_id_text),
        }
    )
    joined = delivered.merge(answered, on="key", how="inner").drop_duplicates("key")
    right = (joined["prediction"] == joined["label"]).astype(float)
    return dict(zip(joined["key"], right.tolist(), strict=True))
