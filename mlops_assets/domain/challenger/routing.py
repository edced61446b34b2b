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

A row is keyed by its id columns' values (`row_keys`); a row without ids is keyed by its
request id and position, which is neither sticky nor joinable with a label later.
"""

from __future__ import annotations

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
    columns = [ids[c].tolist() for c in ids.columns]
    return [
        f"{request_id}#{i}"
        if missing[i]
        else _KEY_SEPARATOR.join(_id_text(values[i]) for values in columns)
        for i in range(len(ids))
    ]


def canary_point(key: str) -> float:
    """A row key's place in [0, 1): stable across processes (not Python's salted `hash`)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def canary_roles(keys: Sequence[str], share: float) -> list[Arm]:
    """The challenger answers the keys whose point is below `share`: raising the share keeps
    every key the challenger answered before (a canary grows, it does not reshuffle)."""
    if not 0 <= share <= 1:
        raise ChallengerInputError(f"the canary share must be in [0, 1], got {share}")
    return ["challenger" if canary_point(key) < share else "champion" for key in keys]


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
