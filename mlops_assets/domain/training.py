"""Build, split and fit the scikit-learn `Pipeline` that every model version is made of.

scikit-learn is imported inside functions: this module is loaded with the code location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_assets.domain.schemas.model import TaskType

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from mlops_assets.domain.leakage import LeakyFeature

ESTIMATORS = ("hist_gradient_boosting", "random_forest", "linear")

# Types skops must be told to trust when it loads our pipelines. Reviewed: these are the
# scikit-learn tree structures and numpy dtypes the estimators above are made of, nothing that
# executes code on load. MLflow 3 refuses anything not listed. A HistGradientBoosting with
# categorical features keeps scikit-learn's own input check, `partial(check_array, ...)`, in
# its internal preprocessor: `partial` only binds arguments (skops checks the function it
# wraps against this list too) and `check_array` validates an array.
SKOPS_TRUSTED_TYPES = (
    "functools.partial",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
)

# Randomized search spaces, sampled with a seed; values are the estimator's own parameters.
SEARCH_SPACES: Mapping[str, Mapping[str, Sequence[Any]]] = {
    "hist_gradient_boosting": {
        "learning_rate": (0.03, 0.05, 0.1, 0.2),
        "max_leaf_nodes": (15, 31, 63),
        "min_samples_leaf": (10, 20, 50),
        "l2_regularization": (0.0, 0.1, 1.0),
    },
    "random_forest": {
        "n_estimators": (100, 200),
        "max_depth": (None, 8, 16),
        "min_samples_leaf": (1, 5, 20),
    },
    "linear": {"C": (0.01, 0.1, 1.0, 10.0)},
}


@dataclass(frozen=True)
class DataSplit:
    """Train/validation/test frames (target included). The test frame is never used to fit or
    select a model: it only serves the evaluation report and the champion comparison."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    method: str


@dataclass(frozen=True)
class FitResult:
    pipeline: Pipeline
    params: dict[str, Any]
    search_results: list[dict[str, Any]] = field(default_factory=list)


def split_data(
    df: pd.DataFrame,
    target: str,
    task: TaskType,
    *,
    seed: int,
    test_size: float = 0.2,
    validation_size: float = 0.2,
    timestamp_column: str | None = None,
) -> DataSplit:
    """Reproducible split: time-ordered when a timestamp is given, else stratified by class.

    A time-ordered split tests on the most recent rows, which is how the model will be used.
    Stratification falls back to a plain shuffled split when a class is too rare to stratify.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1 or not 0 < validation_size < 1 or test_size + validation_size >= 1:
        raise ValueError(
            f"test_size={test_size} and validation_size={validation_size} must be in (0, 1) "
            "and leave rows for training."
        )
    if timestamp_column:
        # Sorted as moments, not as text: "12/31/2025" < "01/01/2026" as strings.
        moments = df[timestamp_column]
        if not pd.api.types.is_datetime64_any_dtype(moments):
            moments = pd.to_datetime(moments, format="mixed", errors="coerce", utc=True)
        order = moments.reset_index(drop=True).sort_values(kind="stable").index
        ordered = df.iloc[order.to_numpy()]
        n_test = max(1, round(len(ordered) * test_size))
        n_val = max(1, round(len(ordered) * validation_size))
        n_train = len(ordered) - n_test - n_val
        return DataSplit(
            train=ordered.iloc[:n_train],
            validation=ordered.iloc[n_train : n_train + n_val],
            test=ordered.iloc[n_train + n_val :],
            method=f"time-ordered by {timestamp_column}",
        )
    stratify = _stratify_labels(df[target], task, min_per_class=5)
    rest, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=stratify)
    stratify_rest = None if stratify is None else stratify.loc[rest.index]
    train, validation = train_test_split(
        rest,
        test_size=validation_size / (1 - test_size),
        random_state=seed,
        stratify=stratify_rest,
    )
    method = "stratified" if stratify is not None else "shuffled"
    return DataSplit(train=train, validation=validation, test=test, method=f"{method}, seed {seed}")


def _stratify_labels(y: pd.Series, task: TaskType, min_per_class: int) -> pd.Series | None:
    if task == "regression":
        return None
    counts = y.value_counts()
    return y if counts.min() >= min_per_class else None


def build_pipeline(
    numeric_features: Sequence[str],
    categorical_features: Sequence[str],
    task: TaskType,
    estimator: str = "hist_gradient_boosting",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Pipeline:
    """The preprocessing the estimator needs, then the estimator.

    HistGradientBoosting takes categories natively: its categorical columns are ordinal-encoded
    (unseen and missing categories as NaN, which the trees route as missing) and its numeric
    columns median-imputed, not scaled. Scaling does not move a tree's splits, and one-hot
    columns cost it a third of a `predict_proba` (bench/RESULTS.md) for what one categorical
    split does. Numeric NaN is imputed although the trees could route it: on the built-in data
    (missing at random; 10 splits of 5,000 rows) native NaN cost 0.005 of log loss against the
    one-hot pipeline, the median 0.0006. The other estimators get median imputation, scaling
    and one-hot encoding (unseen categories as all-zeros). Either way a new category at scoring
    time is scored rather than rejected.
    """
    from sklearn.pipeline import Pipeline

    model = make_estimator(estimator, task, params, seed)
    if estimator == "hist_gradient_boosting":
        preprocess = _native_preprocessing(numeric_features, categorical_features)
        # The encoder's columns come first in the ColumnTransformer's output.
        model.set_params(categorical_features=list(range(len(categorical_features))) or None)
    else:
        preprocess = _one_hot_preprocessing(numeric_features, categorical_features)
    return Pipeline([("preprocess", preprocess), ("model", model)])


# At most this many categories per column; rarer ones share one code (one-hot: one column).
MAX_CATEGORIES = 50


def _native_preprocessing(
    numeric_features: Sequence[str], categorical_features: Sequence[str]
) -> Any:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OrdinalEncoder

    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=MAX_CATEGORIES,
    )
    return ColumnTransformer(
        [
            ("categorical", encoder, list(categorical_features)),
            ("numeric", SimpleImputer(strategy="median"), list(numeric_features)),
        ],
        remainder="drop",
    )


def _one_hot_preprocessing(
    numeric_features: Sequence[str], categorical_features: Sequence[str]
) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="<missing>")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="ignore", sparse_output=False, max_categories=MAX_CATEGORIES
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, list(numeric_features)),
            ("categorical", categorical, list(categorical_features)),
        ],
        remainder="drop",
    )


def make_estimator(
    name: str, task: TaskType, params: Mapping[str, Any] | None = None, seed: int = 0
) -> Any:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge

    params = dict(params or {})
    regression = task == "regression"
    if name == "hist_gradient_boosting":
        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        return cls(random_state=seed, **params)
    if name == "random_forest":
        cls = RandomForestRegressor if regression else RandomForestClassifier
        return cls(random_state=seed, n_jobs=1, **params)
    if name == "linear":
        if regression:
            # Ridge's strength is alpha; the shared search space speaks of C = 1 / alpha.
            c = params.pop("C", 1.0)
            return Ridge(alpha=1.0 / c, **params)
        return LogisticRegression(max_iter=2000, random_state=seed, **params)
    raise ValueError(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}")


def fit_model(
    split: DataSplit,
    *,
    target: str,
    numeric_features: Sequence[str],
    categorical_features: Sequence[str],
    task: TaskType,
    estimator: str = "hist_gradient_boosting",
    params: Mapping[str, Any] | None = None,
    search_iterations: int = 0,
    seed: int = 0,
) -> FitResult:
    """Fit on the train split; with `search_iterations` > 0, pick parameters on validation only.

    Candidates are ranked by the validation score (accuracy or R2), never by the test split.
    """
    from sklearn.model_selection import ParameterSampler

    features = [*numeric_features, *categorical_features]
    x_train, y_train = split.train[features], split.train[target]
    x_val, y_val = split.validation[features], split.validation[target]
    base_params = dict(params or {})
    candidates: list[dict[str, Any]] = [base_params]
    if search_iterations > 0:
        space = SEARCH_SPACES[estimator]
        sampled = ParameterSampler(space, n_iter=search_iterations, random_state=seed)
        candidates = [{**base_params, **candidate} for candidate in sampled]

    results: list[dict[str, Any]] = []
    best: tuple[float, Pipeline, dict[str, Any]] | None = None
    for candidate in candidates:
        pipeline = build_pipeline(
            numeric_features, categorical_features, task, estimator, candidate, seed
        )
        pipeline.fit(x_train, y_train)
        score = float(pipeline.score(x_val, y_val))
        results.append({**candidate, "validation_score": score})
        if best is None or score > best[0]:
            best = (score, pipeline, candidate)
    assert best is not None
    return FitResult(pipeline=best[1], params=best[2], search_results=results)


def refit_on_window(
    rows: pd.DataFrame,
    *,
    target: str,
    numeric_features: Sequence[str],
    categorical_features: Sequence[str],
    task: TaskType,
    estimator: str,
    params: Mapping[str, Any],
    seed: int,
) -> Pipeline:
    """The evaluated pipeline's recipe (estimator, chosen parameters, seed) fit again on every
    labelled row of its window, as scikit-learn's searches do with `refit=True`: the held-out
    rows have judged it, and they are the newest rows of a time-ordered window."""
    pipeline = build_pipeline(numeric_features, categorical_features, task, estimator, params, seed)
    pipeline.fit(rows[[*numeric_features, *categorical_features]], rows[target])
    return pipeline


def predict_frame(
    pipeline: Pipeline, frame: pd.DataFrame | np.ndarray, task: TaskType
) -> tuple[np.ndarray, np.ndarray | None, tuple[Any, ...] | None]:
    """Predictions, class probabilities (classification) and the class order of those columns.

    A classifier's label is the argmax of its probabilities, which is how the estimators in
    ESTIMATORS decide: one pass through the pipeline, not `predict` then `predict_proba`
    (`make bench`: batch scoring went from 0.48x to 1.01x of a bare `predict`).
    """
    import numpy as np

    if task == "regression":
        return np.asarray(pipeline.predict(frame)), None, None
    proba = np.asarray(pipeline.predict_proba(frame))
    classes = np.asarray(pipeline.classes_)
    return classes[proba.argmax(axis=1)], proba, tuple(pipeline.classes_)


@dataclass(frozen=True)
class TrainingWindow:
    """The first and last day of the rows a model was fitted on, read from a date column."""

    first_day: str
    last_day: str
    column: str

    def describe(self) -> str:
        return f"{self.first_day} to {self.last_day} (`{self.column}` of the training rows)"


def training_window(rows: pd.DataFrame, date_columns: Sequence[str]) -> TrainingWindow | None:
    """The days of `rows` in the first of `date_columns` (the timestamp column, else a date
    column the schema recognised) that holds a date; None when none does."""
    import pandas as pd

    for column in date_columns:
        if column not in rows.columns:
            continue
        moments = rows[column]
        if not pd.api.types.is_datetime64_any_dtype(moments):
            moments = pd.to_datetime(moments, format="mixed", errors="coerce", utc=True)
        moments = moments.dropna()
        if len(moments):
            return TrainingWindow(f"{moments.min():%Y-%m-%d}", f"{moments.max():%Y-%m-%d}", column)
    return None


@dataclass(frozen=True)
class TrainedModelRef:
    """What `trained_model` hands downstream: where the fitted model and its test split live.

    The pipeline itself travels through MLflow (the artefact that will be registered), not
    through Dagster storage, so what is evaluated is exactly what gets registered.
    """

    run_id: str
    experiment_id: str
    model_uri: str
    estimator: str
    task: TaskType
    target: str
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    data_hash: str
    schema_json: str
    test_split_path: str
    n_train: int
    params: dict[str, Any]
    leaky_features: tuple[str, ...] = ()
    """Features the leakage guard flagged (domain/leakage.py); the gate refuses to promote
    such a model unless `allow_leaky_features` is set."""
    leakage: tuple[LeakyFeature, ...] = ()
    """The flagged features with their solo scores and reasons, for the model card."""
    window: TrainingWindow | None = None
    """The days of the training rows, for the model card; None without a date column."""
    n_validation: int = 0
    seed: int = 0

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]


def prediction_score(y_pred: np.ndarray, proba: np.ndarray | None, task: TaskType) -> np.ndarray:
    """One number per row to monitor for prediction drift: the positive-class probability
    (binary), the top-class probability (multiclass) or the predicted value (regression)."""
    import numpy as np

    if proba is None or task == "regression":
        return np.asarray(y_pred, dtype=float)
    score: np.ndarray = proba[:, -1] if task == "binary" else proba.max(axis=1)
    return score
