"""Our engine's `evidently_drifted` is evidently's own per-column verdict: same test, same
score, same decision, column by column, on both sides of evidently's 1000-row switch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.drift import build_reference_profile, compute_drift
from mlops_assets.domain.evidently_report import evidently_column_drift, evidently_drift

# Importing and running evidently takes seconds.
pytestmark = pytest.mark.slow

NUMERIC = ("n_normal", "n_lognormal", "n_beta", "n_gamma", "n_int", "n_wide", "n_level", "n_flag")
CATEGORICAL = ("c_three", "c_five", "c_binary")


def frame(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    """8 numeric columns (n_level has 4 values, n_flag 2) and 3 categorical ones, with missing
    values. When `drifted`, about half of the columns move, by clearly different amounts."""
    s = 1.0 if drifted else 0.0
    out = pd.DataFrame(
        {
            "n_normal": rng.normal(0.3 * s, 1, n),
            "n_lognormal": rng.lognormal(0, 0.5 + 0.2 * s, n),
            "n_beta": rng.beta(2, 3, n),
            "n_gamma": rng.gamma(2 + s, 2, n),
            "n_int": rng.integers(0, 30, n).astype(float),
            "n_wide": rng.normal(100, 20, n).round(1),
            "n_level": rng.choice([0.0, 1.0, 2.0, 3.0], n, p=[0.4, 0.3, 0.2, 0.1]),
            "n_flag": (rng.random(n) < 0.3 + 0.15 * s).astype(float),
            "c_three": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "c_five": rng.choice(
                list("vwxyz"), n, p=[0.3 - 0.15 * s, 0.2, 0.2, 0.15, 0.15 + s * 0.15]
            ),
            "c_binary": rng.choice(["yes", "no"], n, p=[0.6, 0.4]),
        }
    )
    out["n_normal"] = out["n_normal"].mask(rng.random(n) < 0.03)
    out["c_three"] = out["c_three"].mask(rng.random(n) < 0.02)
    return out


@pytest.mark.parametrize(
    ("reference_rows", "expected_tests"),
    [
        (2000, {"wasserstein", "jensenshannon"}),
        (800, {"ks", "chisquare", "z"}),
    ],
    ids=["distance-tests", "p-value-tests"],
)
def test_evidently_drifted_equals_evidently_per_column_verdict(reference_rows, expected_tests):
    rng = np.random.default_rng(reference_rows)
    reference = frame(rng, reference_rows, drifted=False)
    current = frame(rng, 1000, drifted=True)

    theirs = evidently_column_drift(reference, current, NUMERIC, CATEGORICAL)
    profile = build_reference_profile(reference, NUMERIC, CATEGORICAL)
    assert all(c.exact for c in profile.numeric)
    ours = {f.feature: f for f in compute_drift(profile, current).features}

    assert set(ours) == set(theirs) == set(NUMERIC + CATEGORICAL)
    assert {f.test for f in ours.values()} == expected_tests
    for column, evidently in theirs.items():
        mine = ours[column]
        assert mine.test == evidently.test, column
        score = mine.statistic if mine.p_value is None else mine.p_value
        assert score == pytest.approx(evidently.score, rel=1e-8, abs=1e-12), column
        assert mine.threshold == evidently.threshold, column
        assert mine.evidently_drifted == evidently.drifted, column
    verdicts = [f.evidently_drifted for f in ours.values()]
    assert any(verdicts) and not all(verdicts)


def test_evidently_drift_writes_its_html_report_atomically(tmp_path):
    rng = np.random.default_rng(1)
    reference, current = frame(rng, 300, drifted=False), frame(rng, 200, drifted=True)
    html = tmp_path / "reports" / "2026-01-02.html"
    verdicts = evidently_drift(reference, current, NUMERIC, CATEGORICAL, html_path=html)
    assert set(verdicts) == set(NUMERIC + CATEGORICAL)
    assert all(isinstance(v, bool) for v in verdicts.values())
    text = html.read_text(encoding="utf-8").strip().lower()
    assert text.startswith("<!doctype html>") and text.endswith("</html>")
    assert [p.name for p in html.parent.iterdir()] == [html.name]
