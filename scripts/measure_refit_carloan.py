"""Does refitting on the whole window help? The measurement behind "Learning from the whole
window" in docs/training.md, on NannyML's synthetic car-loan table (Apache-2.0, from the
`nannyml` wheel's data files: 50,000 reference loans, then daily batches of 5,000 labelled
loans with covariate shift from the sixth day, 2026-02-06).

For each training window, the package's own functions (domain.training: the time-ordered
60/20/20 split trained_model makes, the pipeline it fits, and refit_on_window) give the two
models a retraining produces: the evaluated split fit (60% of the window) and the refit (all
of it). Both are scored on every later day; the paired difference in accuracy (refit minus
split fit) comes with a 95% normal interval over the rows. The table is read from
../shared/realdata/car_loan (or the directory given as the first argument), which only this
machine has: run it by hand, never from a test. A minute or two of CPU:

    .venv/bin/python scripts/measure_refit_carloan.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_assets.domain.training import fit_model, predict_frame, refit_on_window, split_data

TARGET = "repaid"
CATEGORICAL = ("salary_range", "size_of_downpayment", "repaid_loan_on_prev_car")
NUMERIC = ("car_value", "debt_to_income_ratio", "loan_length", "driver_tenure")
SEEDS = (42,)
# Each window a retraining could have, and the days it is then judged on.
WINDOWS = {
    "reference (50,000 rows)": ([], ["06", "07", "08", "09", "10"]),
    "reference + day 6 (55,000)": (["06"], ["07", "08", "09", "10"]),
    "days 6-7 only (10,000)": (["06", "07"], ["08", "09", "10"]),
}


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in CATEGORICAL:
        out[column] = out[column].astype(str)
    out[TARGET] = out[TARGET].astype(int)
    return out


def _correct(pipeline: object, day: pd.DataFrame) -> np.ndarray:
    y_pred, _, _ = predict_frame(pipeline, day[[*NUMERIC, *CATEGORICAL]], "binary")  # type: ignore[arg-type]
    return np.asarray(y_pred == day[TARGET].to_numpy(), dtype=float)


def main(root: Path) -> None:
    reference = _prepared(pd.read_csv(root / "train.csv"))
    days = {
        path.stem[-2:]: _prepared(pd.read_csv(path))
        for path in sorted((root / "batches").glob("*.csv"))
    }
    print("| window | seed | judged on | split fit | refit | refit - split [95% CI] |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (window_days, judged) in WINDOWS.items():
        window = pd.concat([reference] + [days[d] for d in window_days], ignore_index=True)
        for seed in SEEDS:
            split = split_data(window, TARGET, "binary", seed=seed, timestamp_column="timestamp")
            kwargs = {
                "target": TARGET,
                "numeric_features": NUMERIC,
                "categorical_features": CATEGORICAL,
                "task": "binary",
            }
            evaluated = fit_model(split, seed=seed, **kwargs)  # type: ignore[arg-type]
            refit = refit_on_window(
                window,
                estimator="hist_gradient_boosting",
                params=evaluated.params,
                seed=seed,
                **kwargs,  # type: ignore[arg-type]
            )
            later = pd.concat([days[d] for d in judged], ignore_index=True)
            split_ok, refit_ok = _correct(evaluated.pipeline, later), _correct(refit, later)
            diff = refit_ok - split_ok
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
            print(
                f"| {name} | {seed} | days {judged[0]}-{judged[-1]} ({len(later):,} rows) | "
                f"{split_ok.mean():.4f} | {refit_ok.mean():.4f} | {diff.mean():+.4f} "
                f"[{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}] |"
            )
            per_day = ", ".join(
                f"{d}: {_correct(evaluated.pipeline, days[d]).mean():.3f} -> "
                f"{_correct(refit, days[d]).mean():.3f}"
                for d in judged
            )
            print(f"|  |  | per day (split -> refit) | {per_day} |  |  |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/realdata/car_loan"))
