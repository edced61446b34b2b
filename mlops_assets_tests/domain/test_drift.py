"""The drift engine: its statistics against scipy, its false-alarm rate on clean days, the
scenarios it must catch, and its profile's JSON round trip. Synthetic data are made here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from mlops_assets.domain.drift import (
    DriftConfig,
    DriftInputError,
    ReferenceProfile,
    benjamini_hochberg,
    build_reference_profile,
    compute_drift,
    population_stability_index,
)

# ------------------------------------------------------------------------------- data for tests

NUMERIC = (
    "age",
    "income",
    "utilisation",
    "debt_ratio",
    "balance",
    "tenure",
    "score",
    "late_payments",
    "open_accounts",
    "term",
    "has_guarantor",
)
CATEGORICAL = ("home", "purpose", "region", "channel")
LEVELS = {
    "home": (["rent", "own", "mortgage"], [0.4, 0.2, 0.4]),
    "purpose": (["debt", "card", "home", "car", "other"], [0.3, 0.25, 0.2, 0.15, 0.1]),
    "region": (["north", "south", "east", "west"], [0.25, 0.3, 0.25, 0.2]),
    "channel": (["web", "branch"], [0.7, 0.3]),
}


def applications(
    rng: np.random.Generator,
    n: int,
    shift: dict[str, float] | None = None,
    mix: dict[str, list[float]] | None = None,
) -> pd.DataFrame:
    """15 features (11 numeric, among them low-cardinality and binary ones, 4 categorical) with
    missing values. `shift` moves a numeric feature by that many of its standard deviations;
    `mix` replaces a categorical feature's shares."""
    shift, mix = shift or {}, mix or {}
    columns = {
        "age": rng.normal(42, 12, n),
        "income": rng.lognormal(np.log(55_000), 0.45, n),
        "utilisation": rng.beta(2.0, 3.0, n),
        "debt_ratio": rng.beta(2.0, 5.0, n),
        "balance": rng.gamma(2.0, 1500.0, n),
        "tenure": rng.exponential(5.0, n),
        "score": rng.normal(690, 55, n).round(),
        "late_payments": rng.poisson(0.6, n).astype(float),
        "open_accounts": rng.poisson(4.0, n).astype(float),
        "term": rng.choice([12.0, 24.0, 36.0, 48.0, 60.0], n, p=[0.1, 0.2, 0.35, 0.15, 0.2]),
        "has_guarantor": (rng.random(n) < 0.2).astype(float),
    }
    spread = {"income": 0.45, "utilisation": 0.2, "debt_ratio": 0.16, "balance": 2100.0}
    for name, sigmas in shift.items():
        if name == "income":  # lognormal: shift its log
            columns[name] = columns[name] * np.exp(sigmas * spread[name])
        else:
            columns[name] = columns[name] + sigmas * spread.get(name, np.std(columns[name]))
    frame = pd.DataFrame(columns)
    for name, (levels, shares) in LEVELS.items():
        frame[name] = rng.choice(levels, n, p=mix.get(name, shares))
    frame["income"] = frame["income"].mask(rng.random(n) < 0.05)
    frame["region"] = frame["region"].mask(rng.random(n) < 0.03)
    return frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return applications(np.random.default_rng(7), 4000)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> ReferenceProfile:
    return build_reference_profile(reference, NUMERIC, CATEGORICAL)


def feature(result, name):
    (found,) = [f for f in result.features if f.feature == name]
    return found


def single_numeric(reference: np.ndarray, current: np.ndarray):
    profile = build_reference_profile(pd.DataFrame({"x": reference}), ("x",), ())
    return compute_drift(profile, pd.DataFrame({"x": current})).features[0]


def single_categorical(reference: list[str], current: list[str]):
    profile = build_reference_profile(pd.DataFrame({"c": reference}), (), ("c",))
    return compute_drift(profile, pd.DataFrame({"c": current})).features[0]


# ------------------------------------------------------------------- (a) statistics vs scipy


@pytest.mark.parametrize(
    ("n_ref", "n_cur"),
    [(800, 1000), (500, 300), (1000, 999), (900, 20_000)],
)
def test_ks_statistic_and_p_value_equal_scipy_ks_2samp_for_small_references(n_ref, n_cur):
    rng = np.random.default_rng(n_ref + n_cur)
    ref, cur = rng.normal(0, 1, n_ref), rng.normal(0.1, 1.1, n_cur)
    result = single_numeric(ref, cur)
    expected = stats.ks_2samp(ref, cur)
    assert result.test == "ks"
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.evidently_drifted == (expected.pvalue <= 0.05)


def test_ks_handles_ties_like_scipy():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 20, 900).astype(float)
    cur = rng.integers(1, 22, 700).astype(float)
    result = single_numeric(ref, cur)
    expected = stats.ks_2samp(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.effect == pytest.approx(
        stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9
    )


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n, s: rng.normal(s, 1, n),
        lambda rng, n, s: rng.lognormal(s, 0.8, n),
        lambda rng, n, s: rng.poisson(3 + s, n).astype(float),
    ],
    ids=["normal", "lognormal", "poisson-ties"],
)
def test_normalised_wasserstein_equals_scipy_for_large_references(draw):
    rng = np.random.default_rng(11)
    ref, cur = draw(rng, 3000, 0.0), draw(rng, 1000, 0.3)
    result = single_numeric(ref, cur)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert result.test == "wasserstein"
    assert result.p_value is None
    assert result.statistic == pytest.approx(expected, rel=1e-9)
    assert result.evidently_drifted == (expected >= 0.1)
    # Our verdict's KS (no longer evidently's test here) is scipy's asymptotic one.
    asymptotic = stats.ks_2samp(ref, cur, method="asymp")
    assert result.significance_p_value == pytest.approx(asymptotic.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(40))
def test_wasserstein_1_equals_scipy_on_weighted_references_ties_and_edges(seed):
    """`wasserstein_1` integrates between the reference points only (one read of the batch);
    scipy merges both samples. Random shapes, including a one-point reference, a one-row
    batch, heavy ties, a batch entirely outside the reference's range and large offsets."""
    from mlops_assets.domain.drift import wasserstein_1

    rng = np.random.default_rng(seed)
    kind = seed % 5
    n_ref = [1, 2, 40, 500, 3000][seed % 5]
    n_cur = [1, 7, 300, 2000][seed % 4]
    if kind == 1:  # heavy ties on both sides
        ref = rng.integers(0, 5, n_ref).astype(float)
        cur = rng.integers(-1, 7, n_cur).astype(float)
    elif kind == 2:  # disjoint: the batch lies entirely above the reference
        ref, cur = rng.normal(0, 1, n_ref), rng.normal(50, 2, n_cur)
    elif kind == 3:  # a large offset (cancellation in the prefix sums)
        ref, cur = rng.normal(1e6, 1, n_ref), rng.normal(1e6 + 0.5, 1, n_cur)
    else:
        ref, cur = rng.lognormal(0, 1, n_ref), rng.lognormal(0.2, 1.2, n_cur)
    values, counts = np.unique(ref, return_counts=True)
    weights = rng.integers(1, 5, values.size) if seed % 2 else counts  # a sketch's weights
    ours = wasserstein_1(values, np.cumsum(weights) / weights.sum(), np.sort(cur))
    expected = stats.wasserstein_distance(values, cur, u_weights=weights)
    # Far from zero the prefix sums cancel: about 1e-8 relative at a mean of 1e6 std.
    assert ours == pytest.approx(expected, rel=1e-7 if kind == 3 else 1e-9, abs=1e-12)


def test_quantile_sketch_keeps_ks_and_wasserstein_close_to_the_full_reference():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 60_000), rng.normal(0.05, 1, 1000)
    profile = build_reference_profile(pd.DataFrame({"x": ref}), ("x",), (), 5000)
    column = profile.numeric[0]
    assert not column.exact and column.n == 60_000 and column.counts.sum() == 5000
    result = compute_drift(profile, pd.DataFrame({"x": cur})).features[0]
    assert result.reference_n == 60_000
    assert result.statistic == pytest.approx(
        stats.wasserstein_distance(ref, cur) / np.std(ref), abs=2e-3
    )
    full = stats.ks_2samp(ref, cur, method="asymp")
    d = stats.kstwo.isf(result.significance_p_value, round(60_000 * 1000 / 61_000))
    assert d == pytest.approx(full.statistic, abs=1 / 5000)


def test_chi_square_equals_scipy_goodness_of_fit_and_homogeneity():
    rng = np.random.default_rng(2)
    ref = list(rng.choice(["a", "b", "c", "d"], 600, p=[0.4, 0.3, 0.2, 0.1]))
    cur = list(rng.choice(["a", "b", "c", "d"], 400, p=[0.35, 0.3, 0.2, 0.15]))
    result = single_categorical(ref, cur)
    keys = ["a", "b", "c", "d"]
    r = np.array([ref.count(k) for k in keys])
    c = np.array([cur.count(k) for k in keys])
    # evidently's test: goodness of fit to the reference shares scaled to the batch size.
    expected = stats.chisquare(c, r * len(cur) / len(ref))
    assert result.test == "chisquare"
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    # Ours: the two-sample test of homogeneity.
    homogeneity = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    assert result.significance_test == "chi2"
    assert result.significance_p_value == pytest.approx(homogeneity.pvalue, rel=1e-9)


def test_binary_columns_use_the_z_test_for_two_proportions():
    rng = np.random.default_rng(4)
    ref = list(rng.choice(["web", "branch"], 700, p=[0.7, 0.3]))
    cur = list(rng.choice(["web", "branch"], 500, p=[0.62, 0.38]))
    result = single_categorical(ref, cur)
    p1, p2 = ref.count("web") / 700, cur.count("web") / 500
    pooled = (ref.count("web") + cur.count("web")) / 1200
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 700 + 1 / 500))
    assert result.test == "z"
    assert abs(result.statistic) == pytest.approx(abs(z), rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_low_cardinality_numeric_columns_are_tested_as_categories():
    rng = np.random.default_rng(6)
    small = single_numeric(rng.integers(0, 4, 800).astype(float), rng.integers(0, 4, 500))
    assert small.test == "chisquare"
    large = single_numeric(rng.integers(0, 4, 3000).astype(float), rng.integers(0, 4, 500))
    assert large.test == "jensenshannon"
    # A batch bringing more than 5 distinct values makes it a continuous column again.
    wide = single_numeric(rng.integers(0, 4, 3000).astype(float), rng.integers(0, 9, 500))
    assert wide.test == "wasserstein"


def test_jensen_shannon_equals_scipy_and_unseen_categories_get_their_own_bin():
    rng = np.random.default_rng(8)
    ref = list(rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2]))
    cur = list(rng.choice(["a", "b", "c", "new"], 1000, p=[0.4, 0.3, 0.2, 0.1]))
    result = single_categorical(ref, cur)
    keys = ["a", "b", "c", "new"]
    p = np.array([ref.count(k) for k in keys]) / 3000
    q = np.array([cur.count(k) for k in keys]) / 1000
    assert result.test == "jensenshannon"
    assert result.statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)
    # PSI bins: the 3 reference categories, "new" (empty in the reference) and missing.
    expected_psi = population_stability_index(np.append(p, 0.0), np.append(q, 0.0))
    assert result.psi == pytest.approx(expected_psi, rel=1e-12)
    assert result.psi > 0.1  # the unseen category alone: (0.1 - 1e-4) * ln(0.1 / 1e-4)


def test_psi_on_a_hand_computed_example():
    # (0.5 - 0.25) ln 2 + 0 + (0.25 - 0.5) ln(1/2) = 0.5 ln 2
    assert population_stability_index(
        np.array([0.25, 0.25, 0.5]), np.array([0.5, 0.25, 0.25])
    ) == pytest.approx(0.5 * math.log(2), rel=1e-12)
    # An empty bin counts as 1e-4 on that side.
    assert population_stability_index(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == (
        pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5), rel=1e-12)
    )


def test_numeric_psi_uses_reference_decile_bins():
    # Reference 0..999: edges at the deciles 99.9, 199.8, ...; a batch of 0..99 falls in the
    # first bin only.
    result = single_numeric(np.arange(1000.0), np.arange(100.0))
    by_hand = (1 - 0.1) * math.log(1 / 0.1) + 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert result.psi == pytest.approx(by_hand, rel=1e-12)
    assert result.psi_band == "major"


def test_benjamini_hochberg_equals_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.5, 0.002, np.nan])
    q = benjamini_hochberg(p)
    assert np.isnan(q[-1])
    np.testing.assert_allclose(q[:-1], stats.false_discovery_control(p[:-1]), rtol=1e-12)


# ----------------------------------------------------------------- (b) false alarms, clean days


@pytest.mark.slow  # 200 simulated days
def test_clean_days_rarely_raise_dataset_drift_or_any_feature(profile):
    rng = np.random.default_rng(2026)
    days = [compute_drift(profile, applications(rng, 1000)) for _ in range(200)]
    dataset_drift = np.mean([d.dataset_drift for d in days])
    any_feature = np.mean([any(f.drifted for f in d.features) for d in days])
    assert dataset_drift <= 0.05
    assert any_feature <= 0.05
    assert np.mean([d.severity != "none" for d in days]) <= 0.05
    # evidently's own rule is no better on the same days.
    assert np.mean([d.evidently_dataset_drift for d in days]) >= dataset_drift
    assert np.mean([d.evidently_drifted_share > 0 for d in days]) >= any_feature


@pytest.mark.slow  # 200 simulated days
def test_small_reference_evidently_flags_columns_on_clean_days_while_ours_stays_quiet():
    # With <= 1000 reference rows evidently tests each column at p < 0.05, uncorrected: with
    # 15 features about half of the clean days show a "drifted" column.
    rng = np.random.default_rng(99)
    profile = build_reference_profile(applications(rng, 800), NUMERIC, CATEGORICAL)
    days = [compute_drift(profile, applications(rng, 1000)) for _ in range(200)]
    evidently_any = np.mean([d.evidently_drifted_share > 0 for d in days])
    ours_any = np.mean([any(f.drifted for f in d.features) for d in days])
    assert evidently_any >= 0.25
    assert ours_any <= 0.05
    assert np.mean([d.dataset_drift for d in days]) <= 0.05


# ---------------------------------------------------------------------- (c) drift is caught


def test_mean_shift_on_four_of_fifteen_features_is_critical(profile):
    moved = {"income": -0.6, "utilisation": 0.8, "debt_ratio": 0.7, "score": -1.0}
    rng = np.random.default_rng(1)
    for _ in range(5):
        result = compute_drift(profile, applications(rng, 1000, shift=moved))
        assert result.severity == "critical" and result.dataset_drift
        assert {f.feature for f in result.features if f.drifted} == set(moved)
        assert result.drifted_share == pytest.approx(4 / 15)
        # evidently's 0.5 share would not call this dataset drift.
        assert not result.evidently_dataset_drift


def test_category_mix_change_with_two_numeric_shifts_is_critical(profile):
    rng = np.random.default_rng(12)
    result = compute_drift(
        profile,
        applications(
            rng,
            1000,
            shift={"age": 0.5, "balance": 0.6},
            mix={"purpose": [0.55, 0.2, 0.05, 0.1, 0.1], "home": [0.6, 0.1, 0.3]},
        ),
    )
    assert result.severity == "critical"
    assert {f.feature for f in result.features if f.drifted} == {
        "age",
        "balance",
        "purpose",
        "home",
    }
    assert feature(result, "purpose").psi_band == "major"


def test_one_shifted_feature_is_a_warning(profile):
    result = compute_drift(profile, applications(np.random.default_rng(3), 1000, {"age": 0.5}))
    assert result.severity == "warning" and not result.dataset_drift
    assert [f.feature for f in result.features if f.drifted] == ["age"]


def test_tiny_shift_on_a_huge_batch_is_significant_but_below_the_effect_floor(profile):
    result = compute_drift(profile, applications(np.random.default_rng(4), 200_000, {"age": 0.05}))
    age = feature(result, "age")
    assert age.q_value < 1e-3
    assert age.effect < 0.1
    assert not age.drifted


def test_a_column_gone_missing_has_a_major_psi_that_sets_no_severity(profile):
    # PSI is descriptive; the day's severity gets the gap from the data-quality test
    # (test_monitoring.py::test_a_column_gone_missing_is_the_days_drift_through_data_quality).
    batch = applications(np.random.default_rng(5), 1000)
    batch["tenure"] = np.nan
    result = compute_drift(profile, batch)
    tenure = feature(result, "tenure")
    assert tenure.test == "none" and tenure.current_missing_share == 1.0
    assert tenure.psi_band == "major" and tenure.psi_q_value <= 0.05
    assert result.severity == "none"


def test_inputs_the_engine_cannot_compare_fail_with_the_column_named(profile):
    batch = applications(np.random.default_rng(6), 100)
    with pytest.raises(DriftInputError, match="'age'"):
        compute_drift(profile, batch.drop(columns=["age"]))
    with pytest.raises(DriftInputError, match="'score' should be numeric"):
        compute_drift(profile, batch.assign(score="high"))
    with pytest.raises(DriftInputError, match="no rows"):
        compute_drift(profile, batch.iloc[:0])
    with pytest.raises(DriftInputError, match="no rows"):
        build_reference_profile(batch.iloc[:0], NUMERIC, CATEGORICAL)


def test_drift_config_rejects_meaningless_thresholds():
    with pytest.raises(ValueError, match="fdr"):
        DriftConfig(fdr=0)
    with pytest.raises(ValueError, match="psi"):
        DriftConfig(psi_moderate=0.3, psi_major=0.2)


# ----------------------------------------------------------------------- (d) profile as JSON


def test_profile_json_round_trip_gives_the_same_verdicts(profile, reference):
    text = profile.to_json()
    restored = ReferenceProfile.from_json(text)
    assert restored.to_json() == text
    assert restored.feature_names == NUMERIC + CATEGORICAL
    assert restored.n_rows == 4000
    for before, after in zip(profile.numeric, restored.numeric, strict=True):
        np.testing.assert_array_equal(before.values, after.values)
        np.testing.assert_array_equal(before.counts, after.counts)
        assert before.exact and (before.n, before.std) == (after.n, after.std)
    assert restored.categorical[2].n_missing == reference["region"].isna().sum()
    batch = applications(np.random.default_rng(9), 1000, shift={"age": 0.7})
    pd.testing.assert_frame_equal(
        compute_drift(profile, batch).to_frame(), compute_drift(restored, batch).to_frame()
    )


def test_profile_of_25_large_continuous_columns_stays_under_a_megabyte():
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({f"x{i}": rng.normal(i, 1 + i, 50_000) for i in range(20)})
    for i in range(5):
        frame[f"c{i}"] = rng.choice([f"level{j}" for j in range(12)], 50_000)
    profile = build_reference_profile(frame, tuple(frame.columns[:20]), tuple(frame.columns[20:]))
    assert len(profile.to_json()) < 1_000_000
    assert all(c.counts.sum() == 5000 for c in profile.numeric)


def test_to_frame_has_one_row_per_feature_with_the_report_columns(profile):
    table = compute_drift(profile, applications(np.random.default_rng(2), 1000)).to_frame()
    assert list(table["feature"]) == list(NUMERIC + CATEGORICAL)
    for column in ("kind", "significance_test", "p_value", "q_value", "psi", "psi_band"):
        assert column in table.columns
    assert {"effect", "drifted", "evidently_test", "evidently_score"} <= set(table.columns)


def test_every_row_of_the_table_has_the_p_value_behind_the_verdict(profile):
    """A reference over 1000 rows makes evidently pick distance tests, which have no p-value;
    the table's p_value is the significance test's, which every feature has."""
    result = compute_drift(profile, applications(np.random.default_rng(2), 1000))
    table = result.to_frame()
    assert {f.p_value for f in result.features} == {None}
    assert table["p_value"].notna().all()
    assert list(table["p_value"]) == [f.significance_p_value for f in result.features]
    assert list(table["evidently_score"]) == [f.statistic for f in result.features]


# ------------------------------------------------------------------------ (e) prediction drift


def test_prediction_drift_flags_a_shifted_score_distribution_and_counts_in_no_share():
    """The score's drift, tested in one family with the features (compute_drift's `scores`,
    what assess_day gives it): a shifted score is drift, an unshifted one is not, and neither
    counts in the drifted share of the features."""
    rng = np.random.default_rng(13)
    reference = rng.beta(2, 5, 5000)
    features = pd.DataFrame({"x": rng.normal(size=5000)})
    profile = build_reference_profile(features, ["x"], [])
    day = pd.DataFrame({"x": rng.normal(size=1000)})
    shifted = compute_drift(profile, day, scores=(reference, rng.beta(3.5, 4, 1000)))
    assert shifted.prediction is not None
    assert shifted.prediction.feature == "prediction" and shifted.prediction.drifted
    assert shifted.prediction.psi >= 0.2
    assert shifted.drifted_share == 0 and shifted.severity == "none"
    assert [f.feature for f in shifted.features] == ["x"]
    same = compute_drift(profile, day, scores=(reference, rng.beta(2, 5, 1000))).prediction
    assert same is not None and not same.drifted and same.psi < 0.1
