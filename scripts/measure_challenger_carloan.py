"""The challenger test on NannyML's synthetic car-loan table: the measurement behind the
"On NannyML's synthetic car-loan table" section of docs/challengers.md.

The table (Apache-2.0, from the `nannyml` wheel's data files) is synthetic: 50,000 reference
loans, then daily batches of 5,000 labelled loans with covariate shift from the sixth day. It is
read from ../shared/realdata/car_loan (or the directory given as the first argument), which only
this machine has: run it by hand, never from a test. The champion is a
HistGradientBoostingClassifier fit on the reference; the challenger the same class fit on the
reference plus the first drifted day (2026-02-06); from the next day on, both are compared on
each day's labelled loans by the sequential test with default settings, on 0/1 and on log loss.
About half a minute of CPU; it prints the table the docs show:

    .venv/bin/python scripts/measure_challenger_carloan.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGET = "repaid"
CATEGORICAL = ["salary_range", "size_of_downpayment", "repaid_loan_on_prev_car"]
NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure"]
DRIFTED_DAY = "2026-02-06"


def fit(frame: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
            ("numbers", "passthrough", NUMERIC),
        ]
    )
    model = make_pipeline(
        encode,
        HistGradientBoostingClassifier(
            categorical_features=list(range(len(CATEGORICAL))), random_state=0
        ),
    )
    return model.fit(features(frame), frame[TARGET].astype(int))


def features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[CATEGORICAL + NUMERIC].copy()
    for column in CATEGORICAL:
        out[column] = out[column].astype(str)
    return out


def main(root: Path) -> None:
    from mlops_assets.domain.challenger import (
        ChallengerEvidence,
        SequentialTestSettings,
        judge_day,
        paired_differences,
        probability_losses,
        zero_one_losses,
    )

    reference = pd.read_csv(root / "train.csv")
    days = {path.stem: pd.read_csv(path) for path in sorted((root / "batches").glob("*.csv"))}
    champion = fit(reference)
    challenger = fit(pd.concat([reference, days[DRIFTED_DAY]], ignore_index=True))
    evidence = {
        "zero_one": ChallengerEvidence(SequentialTestSettings()),
        "log_loss": ChallengerEvidence(SequentialTestSettings(loss="log_loss")),
    }
    print(
        "| day | loss | champion accuracy | challenger accuracy | disagree | effect [interval] "
        "| verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    for day, frame in days.items():
        if day <= DRIFTED_DAY:
            continue
        y = frame[TARGET].astype(int).reset_index(drop=True)
        x = features(frame)
        predicted = {name: model.predict(x) for name, model in (("a", champion), ("b", challenger))}
        losses = {
            "zero_one": [zero_one_losses(y, pd.Series(p)) for p in predicted.values()],
            "log_loss": [
                probability_losses("log_loss", y, model.predict_proba(x), list(model.classes_))
                for model in (champion, challenger)
            ],
        }
        for kind, (a, b) in losses.items():
            differences = paired_differences(a, b, "zero_one" if kind == "zero_one" else "log_loss")
            evidence[kind], verdict = judge_day(evidence[kind], day, differences)
            print(
                f"| {day} | {kind} | {np.mean(predicted['a'] == y):.3f} "
                f"| {np.mean(predicted['b'] == y):.3f} "
                f"| {np.mean(predicted['a'] != predicted['b']):.3f} "
                f"| {verdict.effect:+.4f} [{verdict.low:+.4f}, {verdict.high:+.4f}] "
                f"| {verdict.decision} ({verdict.reason}) |"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/realdata/car_loan"))
