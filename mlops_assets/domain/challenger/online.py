"""The online service's shadow pairs as evidence for the challenger test: the rows the service
logged on a day (both models' predictions, both versions, the id columns) joined with that
day's landed labels, and put beside the batch's pairs with every row counted once.

Rows count under the day they were served (the request log's directory, which is also the
label file's day), as batch rows count under the day they were scored: the sequential test's
days are scoring days, whenever their labels land (docs/challengers.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_VERSION_COLUMN,
    CHAMPION_PREDICTION_COLUMN,
    CHAMPION_VERSION_COLUMN,
)
from mlops_assets.domain.challenger.losses import ChallengerInputError
from mlops_assets.domain.labels import id_keys

PREDICTION = "prediction"
"""The champion's prediction in a batch day's rows (and so in the pairs `paired_day` takes)."""


@dataclass(frozen=True)
class PairSources:
    """How many of a day's labelled pairs came from each source."""

    batch: int
    """Rows of batch_predictions (shadow in batch) with their label."""
    online: int
    """Rows of the service's request log with their label that the batch did not have."""
    online_duplicates: int
    """Rows of the request log already counted among the batch's (same ids): counted once."""

    def to_metadata(self) -> dict[str, int]:
        return {
            "challenger_rows_batch": self.batch,
            "challenger_rows_online": self.online,
            "challenger_rows_online_duplicates": self.online_duplicates,
        }


def served_pairs(
    served: pd.DataFrame,
    labels: pd.DataFrame,
    id_columns: Sequence[str],
    target: str,
    champion: str,
    challenger: str,
    source: str,
) -> pd.DataFrame:
    """The request log's rows in which `champion` and `challenger` both predicted, with their
    label from `labels`, shaped as batch rows (`prediction`, the challenger's prediction and
    version, the ids, `target`): rows of another pair of versions (before a promotion, a
    replaced challenger), rows one model did not score (the champion alone, a challenger that
    failed) and rows without a landed label are left out. An id served more than once counts
    its first row, as the bandit counts a retry (the same features, the same predictions).

    Raises:
        ChallengerInputError: the log (read from `source`) lacks an id column or a column of
            the two models' predictions; or the model has no id columns, so nothing joins.
    """
    if not id_columns:
        raise ChallengerInputError(
            f"{source}: the model has no id columns (MLOPS_ID_COLUMNS), so a served row cannot "
            "be joined with its label"
        )
    needed = [
        *id_columns,
        CHAMPION_PREDICTION_COLUMN,
        CHAMPION_VERSION_COLUMN,
        CHALLENGER_PREDICTION_COLUMN,
        CHALLENGER_VERSION_COLUMN,
    ]
    missing = [name for name in needed if name not in served.columns]
    if missing:
        raise ChallengerInputError(
            f"{source}: column(s) {', '.join(missing)} missing: not a request log of a service "
            "in a challenger mode (shadow, canary, bandit)"
        )
    both = served[
        (served[CHAMPION_VERSION_COLUMN].astype(str) == champion)
        & (served[CHALLENGER_VERSION_COLUMN].astype(str) == challenger)
        & served[CHAMPION_PREDICTION_COLUMN].notna()
        & served[CHALLENGER_PREDICTION_COLUMN].notna()
    ]
    keys = id_keys(both, id_columns)
    both = both[~keys.duplicated(keep="first").to_numpy()]
    rows = pd.DataFrame(
        {
            **{name: both[name].to_numpy() for name in id_columns},
            PREDICTION: both[CHAMPION_PREDICTION_COLUMN].to_numpy(),
            CHALLENGER_PREDICTION_COLUMN: both[CHALLENGER_PREDICTION_COLUMN].to_numpy(),
            CHALLENGER_VERSION_COLUMN: challenger,
        }
    )
    landed = labels[labels[target].notna()]
    label_keys = id_keys(landed, id_columns)
    truth = pd.Series(landed[target].to_numpy(), index=label_keys.to_numpy())
    truth = truth[~truth.index.duplicated(keep="last")]  # a repeated id keeps its last label
    rows[target] = truth.reindex(id_keys(rows, id_columns).to_numpy()).to_numpy()
    return rows[rows[target].notna()].reset_index(drop=True)


def with_served_pairs(
    batch: pd.DataFrame, online: pd.DataFrame, id_columns: Sequence[str], challenger: str
) -> tuple[pd.DataFrame, PairSources]:
    """The batch's labelled pairs of `challenger` and the online ones it does not already hold
    (by id: the batch first, so a row scored in both is counted once), one frame."""
    if CHALLENGER_VERSION_COLUMN in batch.columns:
        batch = batch[batch[CHALLENGER_VERSION_COLUMN].astype(str) == challenger]
    else:
        batch = batch.iloc[0:0]
    if online.empty:
        return batch, PairSources(len(batch), 0, 0)
    seen = set(id_keys(batch, id_columns)) if len(batch) else set()
    new = ~id_keys(online, id_columns).isin(seen).to_numpy()
    columns = [c for c in online.columns if c in batch.columns] if len(batch) else online.columns
    combined = pd.concat([batch, online.loc[new, columns]], ignore_index=True)
    return combined, PairSources(len(batch), int(new.sum()), int((~new).sum()))
