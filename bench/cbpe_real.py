"""Multiclass CBPE on a real table beside NannyML's, on the same rows and the same champion's
probabilities (bench/bench_estimators.py's section prints it): ggplot2's diamonds, a
HistGradientBoosting champion predicting the cut (5 grades), days drawn from rows it never
saw leaning more and more to large stones, as scripts/measure_dle.py draws a regressor's.

The split is the product's: a random 60 % is the reference (70 % of it trains the champion,
30 % is the validation split both calibrators are fitted on), the days come from the other
40 %."""

from __future__ import annotations

from dataclasses import dataclass

import nannyml_side
import numpy as np
import pandas as pd
import real_tables
from real_tables import Table


@dataclass(frozen=True)
class ClassifierDays:
    """A champion's validation split and day rows with their probabilities, as both
    estimators receive them; `days` are positions in `pool`."""

    classes: list[str]
    target: str
    validation: pd.DataFrame
    validation_proba: np.ndarray
    pool: pd.DataFrame
    pool_proba: np.ndarray
    days: list[np.ndarray]


def classifier_days(table: Table, day_rows: int, days: int, seed: int = 0) -> ClassifierDays:
    from mlops_assets.domain.training import build_pipeline
    from scripts.measure_dle import leaning_days

    rng = np.random.default_rng(seed)
    frame = table.frame.dropna(subset=[table.target]).reset_index(drop=True)
    order = rng.permutation(len(frame))
    cut = int(0.6 * len(frame))
    reference, pool = frame.iloc[order[:cut]], frame.iloc[order[cut:]].reset_index(drop=True)
    train = reference.iloc[: int(0.7 * len(reference))]
    validation = reference.iloc[int(0.7 * len(reference)) :].reset_index(drop=True)
    champion = build_pipeline(
        table.numeric, table.categorical, "multiclass", params={"max_iter": 200}
    )
    champion.fit(train[table.features], train[table.target])
    drawn, _ = leaning_days(pool[table.shift_column], day_rows, days, rng)
    return ClassifierDays(
        [str(c) for c in champion.classes_],
        table.target,
        validation,
        champion.predict_proba(validation[table.features]),
        pool,
        champion.predict_proba(pool[table.features]),
        drawn,
    )


def employment_days(day_rows: int, days: int, seed: int = 0) -> ClassifierDays:
    """employment_MA with NannyML's own model's probabilities: its 2015 rows the validation
    split, days from the 2016-2018 rows leaning more and more to older people (`AGEP`)."""
    from scripts.measure_dle import leaning_days

    reference, analysis = real_tables.employment()

    def two_columns(p: pd.Series) -> np.ndarray:
        return np.column_stack([1 - p.to_numpy(float), p.to_numpy(float)])

    drawn, _ = leaning_days(analysis["AGEP"], day_rows, days, np.random.default_rng(seed))
    return ClassifierDays(
        ["0", "1"],
        "employed",
        reference,
        two_columns(reference["predicted_probability"]),
        analysis,
        two_columns(analysis["predicted_probability"]),
        drawn,
    )


def ours(setup: ClassifierDays) -> dict[str, np.ndarray]:
    """Per day: value, low, high of our accuracy and macro F1 estimates, and the realized."""
    from sklearn.metrics import f1_score

    from mlops_assets.domain.estimation import estimate_classification, fit_calibrator

    position = {c: i for i, c in enumerate(setup.classes)}
    calibrator = fit_calibrator(
        setup.validation_proba, setup.validation[setup.target].astype(str).map(position).to_numpy()
    )
    truth = setup.pool[setup.target].astype(str).map(position).to_numpy()
    predicted = setup.pool_proba.argmax(axis=1)
    calibrated = calibrator.apply(setup.pool_proba)
    figures: dict[str, list[float]] = {
        k: [] for k in ("accuracy", "accuracy_low", "accuracy_high", "f1", "f1_low", "f1_high")
    }
    realized: dict[str, list[float]] = {"accuracy": [], "f1": []}
    for rows in setup.days:
        estimate = estimate_classification(
            calibrated[rows],
            predicted[rows],
            raw=setup.pool_proba[rows],
            reference=calibrator.reference,
        )
        figures["accuracy"].append(estimate.accuracy)
        figures["accuracy_low"].append(estimate.accuracy_low)
        figures["accuracy_high"].append(estimate.accuracy_high)
        figures["f1"].append(estimate.f1_macro)
        figures["f1_low"].append(estimate.f1_macro_low)
        figures["f1_high"].append(estimate.f1_macro_high)
        realized["accuracy"].append(float((predicted[rows] == truth[rows]).mean()))
        realized["f1"].append(float(f1_score(truth[rows], predicted[rows], average="macro")))
    out = {k: np.array(v) for k, v in figures.items()}
    out.update({f"realized_{k}": np.array(v) for k, v in realized.items()})
    return out


def nannyml(setup: ClassifierDays, metrics: list[str]) -> pd.DataFrame:
    """NannyML's CBPE fitted on the same validation split, estimated on the same day rows:
    one row per day and metric (day, metric, value, lower, upper). Two classes: its binary
    CBPE on the second class's probability, with 0/1 labels as it requires."""
    binary = len(setup.classes) == 2
    proba = {c: f"proba_{k}" for k, c in enumerate(setup.classes)}
    labels = np.arange(2) if binary else np.array(setup.classes)

    def frame(rows: pd.DataFrame, probabilities: np.ndarray, days: np.ndarray) -> pd.DataFrame:
        truth = rows[setup.target].astype(str)
        return pd.DataFrame(
            {
                **{column: probabilities[:, k] for k, column in enumerate(proba.values())},
                "y_pred": labels[probabilities.argmax(axis=1)],
                "y_true": labels[truth.map({c: i for i, c in enumerate(setup.classes)})],
                "day": nannyml_side.day_dates(days),
            }
        )

    reference = frame(
        setup.validation,
        setup.validation_proba,
        np.arange(len(setup.validation)) * 10 // len(setup.validation),
    )
    analysis = pd.concat(
        [
            frame(setup.pool.iloc[rows], setup.pool_proba[rows], np.full(len(rows), 1000 + k))
            for k, rows in enumerate(setup.days)
        ],
        ignore_index=True,
    )
    return nannyml_side.run(
        "cbpe",
        reference,
        analysis,
        features=[],
        categorical=[],
        y_pred="y_pred",
        y_true="y_true",
        metrics=metrics,
        proba=proba,
    ).estimates.sort_values(["metric", "day"])


def compare(
    setup: ClassifierDays, metrics: tuple[str, ...] = ("accuracy", "f1")
) -> dict[str, dict[str, nannyml_side.Side]]:
    """{metric: {"ours" | "nannyml": Side}} on `setup`'s days ("f1": macro F1, multiclass
    only: NannyML's binary F1 is the positive class's)."""
    mine, theirs = ours(setup), nannyml(setup, list(metrics))
    result = {}
    for metric in metrics:
        realized = mine[f"realized_{metric}"]
        figures = theirs[theirs["metric"] == metric][["value", "lower", "upper"]].to_numpy().T
        value, low, high = figures
        result[metric] = {
            "ours": nannyml_side.side(
                mine[metric], mine[f"{metric}_low"], mine[f"{metric}_high"], realized, False
            ),
            "nannyml": nannyml_side.side(value, low, high, realized, relative=False),
        }
    return result
