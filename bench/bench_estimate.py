"""The cost of estimating a day's performance (calibrate + CBPE with binary figures) on 1M
rows, against one `predict_proba` pass of a fitted HistGradientBoosting pipeline over the same
rows. Standalone (not yet a `run_all.py` section):

    python bench/bench_estimate.py [--rows N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from mlops_assets.domain.estimation import estimate_classification, fit_calibrator


def _best_of(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 10))
    y = (rng.random(rows) < 1 / (1 + np.exp(-x[:, :3].sum(axis=1)))).astype(int)
    model = HistGradientBoostingClassifier(max_iter=50).fit(x[:20000], y[:20000])
    calibrator = fit_calibrator(model.predict_proba(x[20000:30000]), y[20000:30000])
    raw = model.predict_proba(x)

    def estimate() -> None:
        estimate_classification(
            calibrator.apply(raw), raw.argmax(axis=1), raw_positive_score=raw[:, 1]
        )

    proba_s = _best_of(lambda: model.predict_proba(x))
    estimate_s = _best_of(estimate)
    print(
        f"{rows} rows, calibration {calibrator.method}: predict_proba {proba_s:.3f} s, "
        f"estimate {estimate_s:.3f} s, ratio estimate/predict_proba {estimate_s / proba_s:.2f}"
    )


if __name__ == "__main__":
    main()
