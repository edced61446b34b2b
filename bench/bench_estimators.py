"""Our label-free estimators beside NannyML's, on the same rows and the same model outputs:
CBPE (accuracy and macro F1) on NannyML's multiclass credit-card table, whose analysis period
shifts halfway, and DLE (MAE) on statsmodels' RAND health-insurance table under a covariate
shift drawn as scripts/measure_dle.py draws it; then seconds at 1,000,000 rows.

Error is the mean |estimate - realized| over the days (relative to the realized value for the
MAE); coverage the share of days whose realized value lies in the interval. Our interval is a
95 % one; NannyML's confidence boundaries are its estimate +- 3 sampling errors (and hold no
term for its calibration or loss model), so its coverage is measured, not like for like.
NannyML runs in an environment of its own (bench/nannyml_side.py builds it on first use).

    python bench/bench_estimators.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

import cbpe_real
import dle_real
import nannyml_side
import numpy as np
import pandas as pd
import real_tables
from common import Section, Target

CLASSES = ("prepaid_card", "highstreet_card", "upmarket_card")
PROBA = {c: f"y_pred_proba_{c}" for c in CLASSES}
MC_FEATURES = [
    "acq_channel",
    "app_behavioral_score",
    "requested_credit_limit",
    "app_channel",
    "credit_bureau_score",
    "stated_income",
    "is_customer",
]
BIG = 1_000_000


def multiclass_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    """NannyML's synthetic multiclass table (Apache-2.0, shipped in its wheel): 60,000
    reference rows and 60,000 analysis rows with their labels and the model's probabilities."""
    folder = real_tables.nannyml_data()
    reference = pd.read_csv(folder / "mc_reference.csv")
    analysis = pd.read_csv(folder / "mc_analysis.csv").merge(
        pd.read_csv(folder / "mc_analysis_gt.csv"), on="id"
    )
    return reference, analysis


def _ours_multiclass(
    reference: pd.DataFrame, analysis: pd.DataFrame
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per day: (value, low, high) of our accuracy and macro F1 estimates."""
    from mlops_assets.domain.estimation import estimate_classification, fit_calibrator

    position = {c: i for i, c in enumerate(CLASSES)}
    calibrator = fit_calibrator(
        reference[list(PROBA.values())].to_numpy(float),
        reference["y_true"].map(position).to_numpy(),
    )
    out: dict[str, list[tuple[float, float, float]]] = {"accuracy": [], "f1": []}
    for _, day in analysis.groupby("day", sort=True):
        raw = day[list(PROBA.values())].to_numpy(float)
        estimate = estimate_classification(
            calibrator.apply(raw),
            day["y_pred"].map(position).to_numpy(),
            raw=raw,
            reference=calibrator.reference,
        )
        out["accuracy"].append((estimate.accuracy, estimate.accuracy_low, estimate.accuracy_high))
        out["f1"].append((estimate.f1_macro, estimate.f1_macro_low, estimate.f1_macro_high))
    return {k: tuple(np.array(v).T) for k, v in out.items()}  # type: ignore[misc]


def _realized_multiclass(analysis: pd.DataFrame) -> dict[str, np.ndarray]:
    from sklearn.metrics import f1_score

    days = list(analysis.groupby("day", sort=True))
    return {
        "accuracy": np.array([(d["y_pred"] == d["y_true"]).mean() for _, d in days]),
        "f1": np.array([f1_score(d["y_true"], d["y_pred"], average="macro") for _, d in days]),
    }


def compare_multiclass(day_rows: int) -> dict[str, dict[str, dict[str, nannyml_side.Side]]]:
    """{metric: {period: {"ours" | "nannyml": Side}}} on the analysis period cut in days of
    `day_rows`; periods: "all", "before" and "after" its shift (its first and second half)."""
    reference, analysis = multiclass_table()
    reference = reference.assign(day=nannyml_side.day_dates(np.arange(len(reference)) // day_rows))
    analysis = analysis.sort_values("timestamp", kind="stable").reset_index(drop=True)
    analysis = analysis.assign(
        day=nannyml_side.day_dates(1000 + np.arange(len(analysis)) // day_rows)
    )
    ours = _ours_multiclass(reference, analysis)
    realized = _realized_multiclass(analysis)
    columns = [*MC_FEATURES, *PROBA.values(), "y_pred", "y_true", "day"]
    theirs = nannyml_side.run(
        "cbpe",
        reference[columns],
        analysis[columns],
        features=MC_FEATURES,
        categorical=["acq_channel", "app_channel"],
        y_pred="y_pred",
        y_true="y_true",
        metrics=["accuracy", "f1"],
        proba=PROBA,
    ).estimates
    days = len(realized["accuracy"])
    periods = {
        "all": np.arange(days),
        "before": np.arange(days // 2),
        "after": np.arange(days // 2, days),
    }
    result: dict[str, dict[str, dict[str, nannyml_side.Side]]] = {}
    for metric in ("accuracy", "f1"):
        nml = theirs[theirs["metric"] == metric].sort_values("day")
        sides = {
            "ours": np.array(ours[metric]),
            "nannyml": nml[["value", "lower", "upper"]].to_numpy().T,
        }
        result[metric] = {
            period: {
                name: nannyml_side.side(
                    figures[0, at], figures[1, at], figures[2, at], realized[metric][at], False
                )
                for name, figures in sides.items()
            }
            for period, at in periods.items()
        }
    return result


def seconds_at_scale(rows: int) -> dict[str, tuple[float, float]]:
    """{"cbpe" | "dle": (ours, nannyml)} seconds to estimate one day of `rows` rows, the
    reference fit excluded on both sides (ours is done at training)."""
    from mlops_assets.domain.estimation import estimate_classification, fit_calibrator

    reference, analysis = multiclass_table()
    big = analysis.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    position = {c: i for i, c in enumerate(CLASSES)}
    calibrator = fit_calibrator(
        reference[list(PROBA.values())].to_numpy(float),
        reference["y_true"].map(position).to_numpy(),
    )
    started = time.perf_counter()
    raw = big[list(PROBA.values())].to_numpy(float)
    estimate_classification(
        calibrator.apply(raw),
        big["y_pred"].map(position).to_numpy(),
        raw=raw,
        reference=calibrator.reference,
    )
    ours_cbpe = time.perf_counter() - started
    columns = [*MC_FEATURES, *PROBA.values(), "y_pred", "y_true"]
    theirs_cbpe = nannyml_side.run(
        "cbpe",
        reference[columns].assign(day=nannyml_side.day_dates(np.arange(len(reference)) // 6000)),
        big[columns].assign(day=nannyml_side.day_dates(np.full(rows, 1000))),
        features=MC_FEATURES,
        categorical=["acq_channel", "app_channel"],
        y_pred="y_pred",
        y_true="y_true",
        metrics=["accuracy", "f1"],
        proba=PROBA,
    ).estimate_seconds
    return {"cbpe": (ours_cbpe, theirs_cbpe), **_dle_seconds(rows)}


def _dle_seconds(rows: int) -> dict[str, tuple[float, float]]:
    import statsmodels.api as sm

    from mlops_assets.domain.estimation.dle import estimate_regression
    from scripts.measure_dle import shifted_days

    visits = sm.datasets.randhie.load_pandas().data
    features = [c for c in visits.columns if c != "mdvis"]
    setup = shifted_days(visits, "mdvis", features, [], "disea", 100, 1)
    big = setup.pool.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    predicted = setup.champion.predict(big[features])
    started = time.perf_counter()
    absolute, squared = setup.loss_model.predict(big[features], predicted)
    shift = setup.loss_model.shift(big[features], predicted)
    estimate_regression(absolute, squared, setup.loss_model, shift=shift)
    ours = time.perf_counter() - started
    reference = setup.validation[features].assign(
        y_pred=setup.champion.predict(setup.validation[features]),
        y_true=setup.validation["mdvis"].to_numpy(float),
        day=nannyml_side.day_dates(np.arange(len(setup.validation)) // 500),
    )
    theirs = nannyml_side.run(
        "dle",
        reference,
        big[features].assign(
            y_pred=predicted, y_true=np.nan, day=nannyml_side.day_dates(np.full(rows, 1000))
        ),
        features=features,
        categorical=[],
        y_pred="y_pred",
        y_true="y_true",
        metrics=["mae"],
    ).estimate_seconds
    return {"dle": (ours, theirs)}


def _row(name: str, sides: Mapping[str, nannyml_side.Side], percent: bool) -> str:
    ours, theirs = sides["ours"], sides["nannyml"]

    def f(v: float) -> str:
        return f"{v:.1%}" if percent else f"{v:.4f}"

    return (
        f"| {name} | {f(ours.error)} | {f(theirs.error)} | {ours.coverage:.0%} | "
        f"{theirs.coverage:.0%} | {f(ours.half_width)} | {f(theirs.half_width)} |"
    )


def run(quick: bool) -> Section:
    try:
        nannyml_side.python()
        real_tables.diamonds()
    except nannyml_side.NannyMLUnavailable as error:
        # Offline or without uv: the other sections still run; this one says what failed.
        return Section(f"## Label-free estimates beside NannyML 0.13\n\nNot run: {error}\n")
    day_rows = 2000 if quick else 1000
    multiclass = compare_multiclass(day_rows)
    real_days = 15 if quick else 60
    cuts = {
        size: cbpe_real.compare(
            cbpe_real.classifier_days(real_tables.diamond_cuts(), size, real_days)
        )
        for size in (1000, 3000)
    }
    employment = cbpe_real.compare(cbpe_real.employment_days(5000, real_days), ("accuracy",))
    dle_days = 30 if quick else 100
    dle = {
        f"{name}, days of {size:,}": dle_real.compare(table, size, dle_days)
        for name, table, sizes in (
            ("randhie", real_tables.randhie(), (1000, 3000)),
            ("diamonds", real_tables.diamond_prices(), (1000, 3000, 5000)),
        )
        for size in sizes
    }
    rows = 100_000 if quick else BIG
    seconds = seconds_at_scale(rows)
    periods = {"all": "all days", "before": "days before the shift", "after": "shifted days"}
    table = [
        _row(f"CBPE {label}, {periods[period]}", multiclass[metric][period], False)
        for metric, label in (("accuracy", "accuracy"), ("f1", "macro F1"))
        for period in periods
    ]
    table += [
        _row(
            f"CBPE {label}, diamonds' cut, days of {size:,} leaning to large stones",
            cuts[size][metric],
            False,
        )
        for size in cuts
        for metric, label in (("accuracy", "accuracy"), ("f1", "macro F1"))
    ]
    table.append(
        _row(
            "CBPE accuracy (binary), employment_MA, days of 5,000 leaning to older people",
            employment["accuracy"],
            False,
        )
    )
    table += [_row(f"DLE MAE (relative), {name}", sides, True) for name, sides in dle.items()]
    speed = [
        f"| {name.upper()} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.1f}x |"
        for name, (ours, theirs) in seconds.items()
    ]
    text = (
        "## Label-free estimates beside NannyML 0.13\n\n"
        "Same rows, same model outputs; NannyML in its own environment (pandas 2.3, "
        "`bench/nannyml-requirements.txt`). CBPE: NannyML's synthetic multiclass table (three "
        "classes), calibrated on its 60,000 reference rows, its 60,000 analysis rows (shifted "
        f"halfway) cut into days of {day_rows:,} rows; ggplot2's diamonds, a champion "
        "predicting the cut (5 grades), days leaning to large stones "
        "(`bench/cbpe_real.py`), both calibrated on the same validation split; binary: "
        "NannyML's employment_MA (real census rows, its own model's probabilities), "
        "calibrated on the 2015 rows, days drawn from 2016-2018 leaning to older people. DLE: "
        "statsmodels' randhie and ggplot2's diamonds (price), days as "
        "`scripts/measure_dle.py` draws them, both sides fitted on the same held-out reference "
        "rows. Error: mean |estimate - realized| (MAE: relative); coverage: days whose realized "
        "value is inside the interval (ours 95 %, NannyML's +-3 sampling errors); half-width: "
        "the interval's mean half-width.\n\n"
        "| estimate | error, ours | error, NannyML | coverage, ours | coverage, NannyML | "
        "half-width, ours | half-width, NannyML |\n| --- | ---: | ---: | ---: | ---: | ---: | "
        "---: |\n" + "\n".join(table) + f"\n\nSeconds to estimate one day of {rows:,} rows "
        "(the reference fit left out on both sides; ours includes applying the calibrator or "
        "predicting the losses; NannyML's is `estimate()` in its process, Parquet exchange "
        "excluded), once each:\n\n| estimator | ours | NannyML | NannyML / ours |\n"
        "| --- | ---: | ---: | ---: |\n" + "\n".join(speed) + "\n"
    )
    largest = dle["diamonds, days of 5,000"]
    targets = (
        *(
            Target(
                claim=f"multiclass CBPE mean error (accuracy; macro F1) on {name}, ours / "
                "NannyML's, same rows",
                target="<= NannyML's",
                measured=(
                    f"{acc['ours'].error:.4f} / {acc['nannyml'].error:.4f}; "
                    f"{f1['ours'].error:.4f} / {f1['nannyml'].error:.4f}"
                ),
                met=acc["ours"].error <= acc["nannyml"].error
                and f1["ours"].error <= f1["nannyml"].error,
            )
            for name, acc, f1 in (
                (
                    "NannyML's synthetic table",
                    multiclass["accuracy"]["all"],
                    multiclass["f1"]["all"],
                ),
                *(
                    (f"diamonds' cut, days of {size:,}", cuts[size]["accuracy"], cuts[size]["f1"])
                    for size in cuts
                ),
            )
        ),
        Target(
            claim="binary CBPE accuracy on employment_MA's days of 5,000: mean error, "
            "coverage, ours (NannyML's)",
            target="<= 0.010, >= 80 %",
            measured=f"{employment['accuracy']['ours'].error:.4f}, "
            f"{employment['accuracy']['ours'].coverage:.0%} "
            f"({employment['accuracy']['nannyml'].error:.4f}, "
            f"{employment['accuracy']['nannyml'].coverage:.0%})",
            met=employment["accuracy"]["ours"].error <= 0.010
            and employment["accuracy"]["ours"].coverage >= 0.8,
        ),
        Target(
            claim="DLE relative MAE error and coverage on diamonds' days of 5,000, ours "
            "(NannyML's on the same rows)",
            target="<= 1.5 %, >= 90 %",
            measured=f"{largest['ours'].error:.1%}, {largest['ours'].coverage:.0%} "
            f"({largest['nannyml'].error:.1%}, {largest['nannyml'].coverage:.0%})",
            met=largest["ours"].error <= 0.015 and largest["ours"].coverage >= 0.9,
        ),
        Target(
            claim=f"CBPE and DLE seconds at {rows:,} rows, NannyML / ours",
            target=">= 1.0x",
            measured=", ".join(
                f"{name.upper()} {theirs / ours:.1f}x" for name, (ours, theirs) in seconds.items()
            ),
            met=all(theirs >= ours for ours, theirs in seconds.values()),
        ),
    )
    return Section(text, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer, larger days; 100,000 rows")
    print(run(quick=parser.parse_args().quick).text)
