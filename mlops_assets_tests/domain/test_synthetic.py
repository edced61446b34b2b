from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.synthetic import (
    CATEGORICAL_FEATURES,
    ID_COLUMN,
    NUMERIC_FEATURES,
    TARGET_COLUMN,
    TIMESTAMP_COLUMN,
    daily_labels,
    generate_daily_batch,
    generate_training_data,
    write_daily_labels,
)

START = date(2026, 1, 9)


def test_training_data_is_deterministic_and_shaped_like_a_credit_table():
    a = generate_training_data(n_rows=2000, seed=3)
    b = generate_training_data(n_rows=2000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_training_data(n_rows=2000, seed=4))
    assert list(a.columns) == [
        ID_COLUMN,
        *NUMERIC_FEATURES,
        *CATEGORICAL_FEATURES,
        TIMESTAMP_COLUMN,
        TARGET_COLUMN,
    ]
    assert len(NUMERIC_FEATURES) == 10 and len(CATEGORICAL_FEATURES) == 5
    assert set(a[TARGET_COLUMN].unique()) == {0, 1}
    assert 0.2 < a[TARGET_COLUMN].mean() < 0.5
    assert a[["income", "credit_score", "employment_type"]].isna().any().all()
    assert a[TIMESTAMP_COLUMN].is_monotonic_increasing
    assert a[TIMESTAMP_COLUMN].max() < pd.Timestamp("2026-01-01")


def test_the_target_follows_a_known_relation():
    frame = generate_training_data(n_rows=20_000, seed=0)
    low = frame["credit_score"] < 640
    high = frame["credit_score"] > 740
    assert frame.loc[low, TARGET_COLUMN].mean() > frame.loc[high, TARGET_COLUMN].mean() + 0.25


def test_daily_batches_are_deterministic_per_day_and_clean_before_drift_starts():
    day = START - timedelta(days=1)
    clean = generate_daily_batch(day, scenario="both", drift_start=START)
    same = generate_daily_batch(day, scenario="none")
    pd.testing.assert_frame_equal(clean, same)
    assert (clean[TIMESTAMP_COLUMN] == pd.Timestamp(day)).all()
    assert not clean.equals(generate_daily_batch(day + timedelta(days=-1)))


def _over_days(scenario: str, column: str, stat: str = "mean") -> float:
    """The column's daily mean (or std) averaged over five days from START."""
    days = [START + timedelta(days=i) for i in range(5)]
    return float(
        np.mean(
            [
                getattr(
                    generate_daily_batch(d, scenario=scenario, drift_start=START)[column], stat
                )()
                for d in days
            ]
        )
    )


def _mean_over_days(scenario: str, column: str) -> float:
    return _over_days(scenario, column)


def _std_over_days(scenario: str, column: str) -> float:
    return _over_days(scenario, column, "std")


def test_covariate_shift_moves_the_chosen_features_only():
    # Near-prime applicants: utilisation and debt-to-income bunched around their means.
    for column in ("utilization", "debt_to_income"):
        assert _std_over_days("covariate", column) < 0.6 * _std_over_days("none", column)
        assert _mean_over_days("covariate", column) == pytest.approx(
            _mean_over_days("none", column), abs=0.02
        )
    assert _std_over_days("covariate", "credit_score") < 0.6 * _std_over_days(
        "none", "credit_score"
    )
    assert (
        _mean_over_days("covariate", "credit_score") < _mean_over_days("none", "credit_score") - 30
    )
    assert _mean_over_days("covariate", "age") == pytest.approx(
        _mean_over_days("none", "age"), abs=1.0
    )
    moved = generate_daily_batch(
        START, scenario="covariate", drift_start=START, covariate_features=["age"]
    )
    assert moved["age"].mean() < generate_daily_batch(START)["age"].mean() - 4


def test_concept_shift_keeps_the_features_but_changes_the_relation():
    concept = generate_daily_batch(START, scenario="concept", drift_start=START, n_rows=5000)
    none = generate_daily_batch(START, scenario="none", n_rows=5000)
    pd.testing.assert_series_equal(concept["credit_score"], none["credit_score"])
    south = concept["region"] == "south"
    assert concept.loc[south, TARGET_COLUMN].mean() > none.loc[south, TARGET_COLUMN].mean() + 0.1


def test_batches_without_labels_and_bad_arguments():
    assert TARGET_COLUMN not in generate_daily_batch(START, with_labels=False).columns
    with pytest.raises(ValueError, match="unknown drift scenario"):
        generate_daily_batch(START, scenario="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown columns"):
        generate_daily_batch(START, scenario="covariate", covariate_features=["nope"])


def test_ids_are_unique_and_rise_with_time_across_training_and_days():
    training = generate_training_data(n_rows=3000, seed=2)
    days = [generate_daily_batch(START + timedelta(days=i), n_rows=500) for i in range(3)]
    ids = pd.concat([training[ID_COLUMN], *(d[ID_COLUMN] for d in days)], ignore_index=True)
    assert ids.is_unique and ids.is_monotonic_increasing
    assert ids.dtype == np.int64
    with pytest.raises(ValueError, match="at most 1000000 a day"):
        generate_daily_batch(START, n_rows=1_000_001)


def test_a_delayed_batch_has_no_target_and_its_labels_file_holds_exactly_its_labels(tmp_path):
    batch = dict(n_rows=700, scenario="both", drift_start=START, seed=4)
    day = START + timedelta(days=1)
    with_labels = generate_daily_batch(day, **batch)
    features_only = generate_daily_batch(day, **batch, with_labels=False)
    assert TARGET_COLUMN not in features_only.columns
    pd.testing.assert_frame_equal(features_only, with_labels.drop(columns=TARGET_COLUMN))

    labels = daily_labels(day, **batch)
    assert list(labels.columns) == [ID_COLUMN, TARGET_COLUMN]
    pd.testing.assert_frame_equal(labels, with_labels[[ID_COLUMN, TARGET_COLUMN]])
    path = write_daily_labels(tmp_path / "labels", day, **batch)
    assert path == tmp_path / "labels" / f"{day}.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), labels)
    # The labels join the features-only batch row for row on the id.
    joined = features_only.merge(pd.read_parquet(path), on=ID_COLUMN, validate="one_to_one")
    assert len(joined) == len(features_only)
    assert joined[TARGET_COLUMN].tolist() == with_labels[TARGET_COLUMN].tolist()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
