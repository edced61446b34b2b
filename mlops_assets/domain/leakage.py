"""Target leakage: features that alone nearly predict the target, copy it, or are named like an
earlier model's output.

A production table leaks in a few usual ways: a column filled in after the outcome (a
passenger's lifeboat, a loan's recovery amount), the label copied under another name, or the
previous model's `y_pred` / `y_pred_proba` kept beside the features. A model trained on such a
column scores brilliantly on held-out rows and fails in production, where the column is not
known yet. Each feature is scored alone on the validation split; scikit-learn is imported
inside the functions (this module loads with the code location).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_assets.domain.schemas import label_strings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_assets.domain.schemas.model import TaskType

DEFAULT_LEAKAGE_THRESHOLD = 0.98
# A feature equal to the target on this share of rows is a copy of it, whatever its solo score.
EQUAL_TO_TARGET_SHARE = 0.99
# Depth of the one-feature tree. A classification leak (a remapped copy of the label, "filled
# only when the outcome happened") needs one leaf per class: depth ceil(log2(classes)). Deeper
# trees mostly fit the validation split's noise: on breast cancer (114 validation rows) depth 2
# put an honest feature at AUC >= 0.98 for 5 of 50 seeds, depth 1 for none (best 0.963).
# Regression needs many steps for a copy of the target to reach R2 0.98 (64 leaves: ~0.9997).
REGRESSION_TREE_DEPTH = 6
SOLO_TREE_MIN_LEAF = 5

REASON_SOLO_SCORE = "solo_score"
REASON_NAME = "named_like_a_prediction"
REASON_EQUALS_TARGET = "equals_target"

# Tokens of a column name that say "an earlier model's output". Matched on whole tokens of the
# lowercased name (split at anything but letters and digits, and at camelCase humps), so
# `y_pred_proba`, `predicted_default` and `probaClass1` match but `predator` does not.
_PREDICTION_TOKENS = frozenset(
    {"pred", "preds", "prediction", "predictions", "predicted", "yhat", "probability"}
)
# "score" alone is a common honest feature (`credit_score`): flagged only as the whole name or
# qualified as a model's (`y_score`, `model_score`).
_SCORE_QUALIFIERS = frozenset({"y", "model", "pred"})
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class LeakyFeature:
    """A feature flagged as leaking the target.

    `solo_score` is what the feature alone reaches on the validation split (ROC AUC for binary,
    macro one-vs-rest AUC or accuracy for multiclass, R2 for regression); NaN when it could not
    be scored (e.g. a single-class validation split). `reason` is one or more of
    REASON_SOLO_SCORE, REASON_NAME, REASON_EQUALS_TARGET joined by ", ".
    """

    feature: str
    solo_score: float
    reason: str

    def describe(self) -> str:
        import numpy as np

        score = "n/a" if np.isnan(self.solo_score) else f"{self.solo_score:.3f}"
        return f"{self.feature} (solo score {score}; {self.reason})"


@dataclass(frozen=True)
class LeakageReport:
    """Every feature's solo score and the features flagged, with the threshold used."""

    solo_scores: dict[str, float]
    leaky: tuple[LeakyFeature, ...]
    threshold: float
    metric: str

    @property
    def leaky_features(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.leaky)

    def markdown(self, limit: int = 20) -> str:
        """The highest solo scores as a Markdown table, flagged features marked."""
        import numpy as np
        import pandas as pd

        from mlops_assets.domain.evaluation import markdown_table

        flagged = {f.feature: f.reason for f in self.leaky}
        ranked = sorted(
            self.solo_scores.items(),
            key=lambda item: (item[0] not in flagged, -np.nan_to_num(item[1], nan=-np.inf)),
        )
        rows = [
            {
                "feature": name,
                f"solo {self.metric}": score,
                "leaky": name in flagged,
                "reason": flagged.get(name, ""),
            }
            for name, score in ranked[:limit]
        ]
        more = (
            f"\n\n{len(ranked) - limit} more features below these scores."
            if len(ranked) > limit
            else ""
        )
        return (
            markdown_table(pd.DataFrame(rows))
            + f"\n\nThreshold: a feature scoring {self.threshold:g} or more alone is leaky."
            + more
        )


def named_like_a_prediction(name: str) -> bool:
    """Whether a column name reads like an earlier model's output (`y_pred`, `prediction`,
    `predicted_x`, `score`, `proba_1`, `probability`, `model_score`), case-insensitive."""
    tokens = [t for t in _NOT_ALNUM.split(_CAMEL_HUMP.sub("_", name).lower()) if t]
    if any(t in _PREDICTION_TOKENS or re.fullmatch(r"proba\d*", t) for t in tokens):
        return True
    if "score" in tokens:
        return tokens == ["score"] or bool(_SCORE_QUALIFIERS.intersection(tokens))
    return False


def solo_metric_name(task: TaskType) -> str:
    return {"binary": "roc_auc", "multiclass": "macro_ovr_roc_auc", "regression": "r2"}[task]


def find_leaky_features(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    target: str,
    numeric_features: Sequence[str],
    categorical_features: Sequence[str],
    task: TaskType,
    threshold: float = DEFAULT_LEAKAGE_THRESHOLD,
) -> LeakageReport:
    """Score each feature alone (fitted on `train`, scored on `validation`) and flag leaks.

    A feature is leaky when its solo score reaches `threshold`, when it equals the target on at
    least EQUAL_TO_TARGET_SHARE of the rows, or when its name reads like a prediction.
    Numeric features get a shallow tree (missing values split on their own);
    categorical ones a per-category target mean learned on train (unseen categories get the
    overall mean), which is the best one-feature model of a category.
    """
    import numpy as np
    import pandas as pd

    if not 0 < threshold <= 1:
        raise ValueError(f"leakage threshold {threshold} must be in (0, 1].")
    y_train = _target_values(train[target], task)
    y_val = _target_values(validation[target], task)
    classes = np.unique(y_train) if task != "regression" else None
    scores: dict[str, float] = {}
    for name in numeric_features:
        scores[name] = _score(
            task, y_val, classes, _tree_predict(train[name], validation[name], y_train, task)
        )
    for name in categorical_features:
        scores[name] = _score(
            task, y_val, classes, _category_predict(train[name], validation[name], y_train, task)
        )

    both = pd.concat([train, validation], ignore_index=True)
    target_labels = label_strings(both[target])
    leaky: list[LeakyFeature] = []
    for name in [*numeric_features, *categorical_features]:
        reasons = []
        if scores[name] >= threshold:
            reasons.append(REASON_SOLO_SCORE)
        if _equals_share(both[name], both[target], target_labels) >= EQUAL_TO_TARGET_SHARE:
            reasons.append(REASON_EQUALS_TARGET)
        if named_like_a_prediction(name):
            reasons.append(REASON_NAME)
        if reasons:
            leaky.append(LeakyFeature(name, scores[name], ", ".join(reasons)))
    return LeakageReport(scores, tuple(leaky), threshold, solo_metric_name(task))


def _target_values(y: pd.Series, task: TaskType) -> np.ndarray:
    if task == "regression":
        return y.to_numpy(dtype=float)
    # Labels as strings so 1 and 1.0 are one class, as everywhere else in the package.
    return label_strings(y).to_numpy(dtype=object).astype(str)


def _tree_predict(
    train: pd.Series, validation: pd.Series, y_train: np.ndarray, task: TaskType
) -> np.ndarray:
    """Validation predictions (class probabilities, or values) of a one-feature shallow tree."""
    import numpy as np
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    x_train = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float).reshape(-1, 1)
    x_val = pd.to_numeric(validation, errors="coerce").to_numpy(dtype=float).reshape(-1, 1)
    # scikit-learn's trees send missing values down their own branch: "filled only when the
    # outcome happened" is exactly such a split.
    if task == "regression":
        cls, depth = DecisionTreeRegressor, REGRESSION_TREE_DEPTH
    else:
        cls, depth = DecisionTreeClassifier, max(1, math.ceil(math.log2(len(np.unique(y_train)))))
    tree = cls(max_depth=depth, min_samples_leaf=SOLO_TREE_MIN_LEAF, random_state=0)
    tree.fit(x_train, y_train)
    # scikit-learn ships no type information: name what it returns.
    predicted: np.ndarray = (
        tree.predict(x_val) if task == "regression" else tree.predict_proba(x_val)
    )
    return predicted


def _category_predict(
    train: pd.Series, validation: pd.Series, y_train: np.ndarray, task: TaskType
) -> np.ndarray:
    """Per-category target mean (class shares, or mean value) from train, applied to
    validation; missing is a category of its own, an unseen one gets the overall mean."""
    import numpy as np
    import pandas as pd

    keys = pd.concat([train, validation], ignore_index=True).astype(object)
    codes, uniques = pd.factorize(keys, use_na_sentinel=False)
    train_codes, val_codes = codes[: len(train)], codes[len(train) :]
    if task == "regression":
        targets = y_train.reshape(-1, 1)
    else:
        labels, index = np.unique(y_train, return_inverse=True)
        targets = np.eye(len(labels))[index]
    sums = np.zeros((len(uniques), targets.shape[1]))
    np.add.at(sums, train_codes, targets)
    counts = np.bincount(train_codes, minlength=len(uniques)).reshape(-1, 1)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), targets.mean(axis=0))
    predicted = means[val_codes]
    return predicted[:, 0] if task == "regression" else predicted


def _score(
    task: TaskType, y_val: np.ndarray, classes: np.ndarray | None, predicted: np.ndarray
) -> float:
    import numpy as np

    if task == "regression":
        if len(y_val) < 2 or np.var(y_val) == 0:
            return float("nan")
        residual = float(np.sum((y_val - predicted) ** 2))
        return 1.0 - residual / float(np.sum((y_val - y_val.mean()) ** 2))
    assert classes is not None
    present = np.unique(y_val)
    if len(present) < 2 or len(classes) < 2:
        return float("nan")
    if task == "binary":
        auc = _auc(y_val == classes[-1], predicted[:, -1])
        # A feature that orders the rows backwards predicts the target just as well.
        return max(auc, 1 - auc)
    if set(present) == set(classes):
        return float(np.mean([_auc(y_val == c, predicted[:, i]) for i, c in enumerate(classes)]))
    # A class missing from the validation rows leaves one-vs-rest AUC undefined.
    return float(np.mean(classes[predicted.argmax(axis=1)] == y_val))


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) identity, ties counted half: the same number as
    scikit-learn's roc_auc_score at a fraction of its input checking."""
    import pandas as pd

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _equals_share(feature: pd.Series, target: pd.Series, target_labels: pd.Series) -> float:
    """The share of rows where the feature holds the target's value (1 and 1.0 agree).

    Rows where either side is missing count as different: a column equal to the target only
    where it is filled is for the solo score to judge.
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(feature) and pd.api.types.is_numeric_dtype(target):
        # Numbers compare as numbers: formatting thousands of floats as strings costs more
        # than every solo model together.
        same = feature.to_numpy(dtype=float, na_value=np.nan) == target.to_numpy(
            dtype=float, na_value=np.nan
        )
    else:
        same = (label_strings(feature) == target_labels).fillna(False).to_numpy(dtype=bool)
    return float(same.sum() / len(feature)) if len(feature) else 0.0
