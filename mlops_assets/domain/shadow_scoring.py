"""Shadow in batch: the champion and the challenger scored on the same rows, the preprocessing
their fitted pipelines have in common computed once.

A day scored with a challenger pays a second model. Of one model's cost on the built-in data
(docs/performance.md, "Shadow in batch") the trees are about 80 %, the ColumnTransformer about
15 %, nearly all of it the categorical encoder on text columns. A challenger retrained on a
later window usually keeps the champion's category lists (its encoder is the same, fitted
state and all) while its numeric imputer's medians move. So the pipelines are compared block
by block: each fitted transformer of their ColumnTransformers, with its columns, is computed
once per chunk and handed to every pipeline that has an identical one. Each model's final
estimator then scores exactly the matrix its own `ColumnTransformer.transform` would have
given it (scikit-learn's dense `np.hstack` of the blocks, in its order).

Pure: no Dagster, MLflow or disk; scikit-learn and joblib are imported where used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_assets.domain.schemas.model import TaskType
from mlops_assets.domain.training import predict_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Prediction = tuple["np.ndarray", "np.ndarray | None", "tuple[Any, ...] | None"]
"""What `predict_frame` returns: the predictions, class probabilities and class order."""


@dataclass(frozen=True)
class SharedPreprocessing:
    """Two fitted pipelines' preprocessing as distinct blocks, each computed once per chunk.

    `blocks` are the distinct fitted transformers with their input columns; `champion` and
    `challenger` are the positions in `blocks` of each pipeline's ColumnTransformer outputs, in
    its own order; `estimators` are the two final estimators, champion first."""

    blocks: tuple[tuple[Any, tuple[str, ...]], ...]
    champion: tuple[int, ...]
    challenger: tuple[int, ...]
    estimators: tuple[Any, Any]

    @property
    def shared_blocks(self) -> int:
        """Blocks computed once for both models (0: nothing in common)."""
        return len(set(self.champion) & set(self.challenger))

    def matrices(
        self, rows: pd.DataFrame, sampled: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Each model's preprocessed `rows` (the challenger's only of the `sampled` rows, when
        given), every distinct block computed once, a block of the challenger's alone only on
        its rows; None when a block is not a 2-D numpy array (a sparse or pandas output),
        which scikit-learn would stack otherwise."""
        import numpy as np

        champion_blocks = set(self.champion)
        subset = rows if sampled is None else rows[sampled]
        outputs = []
        for position, (transformer, columns) in enumerate(self.blocks):
            own = rows if position in champion_blocks else subset
            block = transformer.transform(own[list(columns)])
            if not isinstance(block, np.ndarray) or block.ndim != 2:
                return None
            outputs.append(block)

        def challenger_block(position: int) -> np.ndarray:
            whole = sampled is not None and position in champion_blocks
            return outputs[position][sampled] if whole else outputs[position]

        return (
            np.hstack([outputs[i] for i in self.champion]),
            np.hstack([challenger_block(i) for i in self.challenger]),
        )


@dataclass(frozen=True)
class PairedScorer:
    """The champion and the challenger, each with its own feature columns, scored on the same
    chunks; `shared` is None when their preprocessing has nothing in common (or is not a
    ColumnTransformer this module can split), and each pipeline is then scored whole."""

    champion: Any
    champion_features: tuple[str, ...]
    challenger: Any
    challenger_features: tuple[str, ...]
    task: TaskType
    shared: SharedPreprocessing | None

    def predict(
        self, rows: pd.DataFrame, sampled: np.ndarray | None = None
    ) -> tuple[Prediction, Prediction]:
        """Both models' `predict_frame` of `rows` (which hold both models' features), the
        challenger's only of the `sampled` rows (a boolean mask; None: all, at least one): the
        same figures as scoring each pipeline whole on those rows."""
        matrices = None if self.shared is None else self.shared.matrices(rows, sampled)
        if self.shared is None or matrices is None:
            challenger_rows = rows if sampled is None else rows[sampled]
            return (
                predict_frame(self.champion, rows[list(self.champion_features)], self.task),
                predict_frame(
                    self.challenger,
                    challenger_rows[list(self.challenger_features)],
                    self.task,
                ),
            )
        champion, challenger = self.shared.estimators
        return (
            predict_frame(champion, matrices[0], self.task),
            predict_frame(challenger, matrices[1], self.task),
        )


def paired_scorer(
    champion: Any,
    champion_features: tuple[str, ...],
    challenger: Any,
    challenger_features: tuple[str, ...],
    task: TaskType,
) -> PairedScorer:
    """The two models with the preprocessing blocks they share, found once for a day."""
    return PairedScorer(
        champion,
        champion_features,
        challenger,
        challenger_features,
        task,
        shared_preprocessing(champion, challenger),
    )


def shared_preprocessing(champion: Any, challenger: Any) -> SharedPreprocessing | None:
    """The blocks two fitted pipelines share, or None when they share none or when either is
    not a two-step `Pipeline` of a dense `ColumnTransformer` (selecting columns by name) and
    an estimator."""
    import joblib

    champion_blocks, challenger_blocks = _column_blocks(champion), _column_blocks(challenger)
    if champion_blocks is None or challenger_blocks is None:
        return None
    # A content hash of the fitted transformer: equal hashes are equal fitted state, hence the
    # same output for the same columns.
    keys: dict[tuple[str, tuple[str, ...]], int] = {}
    blocks: list[tuple[Any, tuple[str, ...]]] = []
    positions: list[tuple[int, ...]] = []
    for layout in (champion_blocks, challenger_blocks):
        own = []
        for transformer, columns in layout:
            key = (joblib.hash(transformer), columns)
            if key not in keys:
                keys[key] = len(blocks)
                blocks.append((transformer, columns))
            own.append(keys[key])
        positions.append(tuple(own))
    plan = SharedPreprocessing(
        blocks=tuple(blocks),
        champion=positions[0],
        challenger=positions[1],
        estimators=(champion.steps[-1][1], challenger.steps[-1][1]),
    )
    return plan if plan.shared_blocks else None


def _column_blocks(model: Any) -> list[tuple[Any, tuple[str, ...]]] | None:
    """The fitted (transformer, columns) that a pipeline's ColumnTransformer stacks, in order,
    without dropped or empty ones (as its `transform` skips them); None when the model is not
    a two-step Pipeline whose first step is a dense ColumnTransformer selecting by name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    preprocess = model.steps[0][1]
    if not isinstance(preprocess, ColumnTransformer) or getattr(preprocess, "sparse_output_", True):
        return None
    blocks = []
    for _, transformer, columns in preprocess.transformers_:
        if isinstance(transformer, str):  # "drop" (a fitted "passthrough" is a transformer)
            if transformer != "drop":
                return None
            continue
        if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
            return None
        if columns:
            blocks.append((transformer, tuple(columns)))
    return blocks
