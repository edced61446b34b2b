"""The label-side monitoring assets at 1,000,000 rows, against one `predict_proba` pass of the
built-in champion over the same rows (the cost every scored day already pays).

- estimated_performance: read the day's class-probability columns and features from Parquet,
  calibrate, CBPE (expected accuracy, binary precision / recall / F1 / AUC, intervals), and
  the out-of-support share against the training ranges and categories.
- realized_performance: read the day's predictions from Parquet, check a label delivery (ids
  in another order, as a feed delivers them), join it by id, and every metric with its
  interval (accuracy, balanced accuracy, macro F1, ROC AUC, log loss).

What Dagster and MLflow add per run (the instance, the champion's artefacts) is the same for
every asset and measured in the batch and training sections; this section times the work.

    python bench/bench_monitoring.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from common import Section, Target, fmt, interleaved, median

ROWS = 1_000_000
TARGET_RATIO = 1.0  # each asset's work within one predict_proba pass


def run(quick: bool) -> Section:
    from mlops_assets.domain import synthetic
    from mlops_assets.domain.estimation import estimate_classification, fit_calibrator
    from mlops_assets.domain.estimation.cbpe import out_of_support_share
    from mlops_assets.domain.labels import check_delivery, join_labels
    from mlops_assets.domain.realized import class_probabilities, realized_metrics
    from mlops_assets.domain.training import fit_model, split_data

    rows = 100_000 if quick else ROWS
    repeats = 2 if quick else 3
    numeric, categorical = synthetic.NUMERIC_FEATURES, synthetic.CATEGORICAL_FEATURES
    features = [*numeric, *categorical]
    target, ids = synthetic.TARGET_COLUMN, [synthetic.ID_COLUMN]
    training = synthetic.generate_training_data(n_rows=5000)
    split = split_data(training, target, "binary", seed=0)
    pipeline = fit_model(
        split,
        target=target,
        numeric_features=numeric,
        categorical_features=categorical,
        task="binary",
    ).pipeline
    classes = [str(c) for c in pipeline.classes_]
    calibrator = fit_calibrator(
        pipeline.predict_proba(split.validation[features]),
        np.searchsorted(pipeline.classes_, split.validation[target]),
    )
    ranges = {c: (float(training[c].min()), float(training[c].max())) for c in numeric}
    known = {c: frozenset(training[c].dropna().astype(str)) for c in categorical}
    day = synthetic.generate_daily_batch(
        date(2026, 1, 9), n_rows=rows, scenario="covariate", drift_start=date(2026, 1, 9)
    )
    raw = pipeline.predict_proba(day[features])
    scored = day.drop(columns=[target]).assign(
        prediction=pipeline.classes_[raw.argmax(axis=1)],
        **{f"__proba__{c}": raw[:, i] for i, c in enumerate(classes)},
    )
    delivery = day[[*ids, target]].sample(frac=1.0, random_state=0)

    with tempfile.TemporaryDirectory() as tmp:
        stored = Path(tmp) / "batch_predictions.parquet"
        scored.to_parquet(stored, index=False)
        proba_columns = [f"__proba__{c}" for c in classes]

        def predict_proba() -> None:
            pipeline.predict_proba(day[features])

        def estimated() -> None:
            frame = pd.read_parquet(stored, columns=[*proba_columns, *features])
            p = frame[proba_columns].to_numpy(dtype=float)
            estimate_classification(
                calibrator.apply(p), p.argmax(axis=1), raw_positive_score=p[:, 1]
            )
            out_of_support_share(
                {c: frame[c].to_numpy(dtype=float) for c in numeric},
                ranges,
                {c: frame[c].astype(object).to_numpy() for c in categorical},
                known,
            )

        def realized() -> None:
            predictions = pd.read_parquet(stored, columns=[*ids, "prediction", *proba_columns])
            checked = check_delivery(
                delivery, source="bench", id_columns=ids, target=target, task="binary",
                classes=classes,
            )  # fmt: skip
            joined = join_labels(
                predictions, checked, source="bench", id_columns=ids, target=target
            )
            frame = joined.frame
            realized_metrics(
                "binary",
                frame[target],
                frame["prediction"],
                classes=classes,
                proba=class_probabilities(frame, classes, "binary"),
            )

        times = interleaved(
            {"predict_proba": predict_proba, "estimated": estimated, "realized": realized},
            repeats,
        )
    base = median(times["predict_proba"])
    ratios = {name: median(values) / base for name, values in times.items()}
    rows_md = [
        ("bare `pipeline.predict_proba` (baseline)", "predict_proba"),
        ("`estimated_performance`'s work", "estimated"),
        ("`realized_performance`'s work", "realized"),
    ]
    lines = [f"| {what} | {fmt(times[key])} | **{ratios[key]:.2f}x** |" for what, key in rows_md]
    text = (
        f"## Label-side monitoring at {rows:,} rows: estimated and realized performance\n\n"
        "The built-in champion (HistGradientBoosting, 15 features) and one day of the built-in "
        "covariate scenario; seconds, min / median / max over "
        f"{repeats} runs each, taking turns; ratio of medians to one `predict_proba` pass. "
        "Each side reads what its asset reads from a Parquet file of the day's predictions; "
        "the delivery's ids are shuffled, as a label feed sends them.\n\n"
        "| what | seconds | / predict_proba |\n| --- | --- | ---: |\n" + "\n".join(lines) + "\n"
    )
    targets = tuple(
        Target(
            claim=f"`{name}_performance` at {rows:,} rows / one `predict_proba` pass",
            target=f"<= {TARGET_RATIO:.1f}x",
            measured=f"{ratios[name]:.2f}x",
            met=ratios[name] <= TARGET_RATIO,
        )
        for name in ("estimated", "realized")
    )
    return Section(text, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100,000 rows, fewer repeats")
    print(run(quick=parser.parse_args().quick).text)
