"""A day's data quality against its training rows, on real tables that packages ship
(palmerpenguins, scikit-learn's breast cancer): missing shares that rise, categories the model
never saw, duplicated rows, and clean days that stay clean."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.domain.data_quality import (
    DataQualityConfig,
    assess_data_quality,
    duplicate_rows,
    last_row_per_id,
)
from mlops_assets.domain.drift import build_reference_profile
from mlops_assets.domain.health import data_quality_health

palmerpenguins = pytest.importorskip("palmerpenguins")

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]


def _penguins() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trained on 2007-2008, the day is 2009's birds (120 rows), each with a sighting id."""
    frame = palmerpenguins.load_penguins().sort_values("year", kind="stable")
    frame.insert(0, "sighting_id", np.arange(1, len(frame) + 1))
    frame = frame.reset_index(drop=True)
    return frame[frame["year"] < 2009], frame[frame["year"] == 2009].reset_index(drop=True)


def _cancer(missing_in_training: float, missing_on_day: float, columns: list[str]):
    """Breast-cancer tumours: 369 training rows, a day of 200, with `columns` emptied on an
    exact share of each side's rows (fixed rows, so the test is deterministic)."""
    data = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    data = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, day = data.iloc[:369].copy(), data.iloc[369:].reset_index(drop=True)
    rng = np.random.default_rng(1)
    for frame, share in ((train, missing_in_training), (day, missing_on_day)):
        for column in columns:
            rows = rng.choice(len(frame), size=round(share * len(frame)), replace=False)
            frame.loc[frame.index[rows], column] = np.nan
    profile = build_reference_profile(train, list(data.columns), [])
    return profile, day


def test_a_day_whose_missing_share_doubles_in_two_features_is_flagged_naming_them():
    columns = ["mean radius", "worst texture"]
    profile, day = _cancer(0.10, 0.22, columns)

    result = assess_data_quality(profile, day)

    flagged = {f.feature for f in result.features if f.missing_flagged}
    assert flagged == set(columns)
    assert result.severity == "warning"
    assert result.max_missing_share_rise == pytest.approx(0.12, abs=0.01)
    for column in columns:
        assert f"`{column}`: 22.0% missing against 10.0% in training" in result.summary
    health = data_quality_health(result)
    assert health.level == "warn" and "mean radius" in health.summary


def test_the_same_missing_share_as_in_training_is_not_flagged():
    profile, day = _cancer(0.10, 0.10, ["mean radius", "worst texture"])

    result = assess_data_quality(profile, day)

    assert result.severity == "none", result.summary
    assert not any(f.missing_flagged for f in result.features)
    assert data_quality_health(result).passed


def test_a_clean_day_of_real_data_raises_no_finding():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)

    result = assess_data_quality(
        profile, day, id_columns=["sighting_id"], known_columns=list(day.columns)
    )

    assert result.severity == "none", result.summary
    assert result.findings == ()
    assert result.duplicate_rows == 0
    assert result.extra_columns == ()
    assert data_quality_health(result).passed


def test_a_new_category_on_five_percent_of_the_rows_is_flagged_with_its_share():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
    day.loc[day.index[:6], "island"] = "Anvers"  # 6 of 120 birds: 5 %

    result = assess_data_quality(profile, day)

    island = next(f for f in result.features if f.feature == "island")
    assert island.unseen_flagged
    assert island.unseen_share == pytest.approx(0.05)
    assert island.unseen_categories == ("Anvers",)
    assert result.severity == "warning"
    assert "`island`: 5.0% of rows have a category training never had ('Anvers')" in (
        result.summary
    )
    assert data_quality_health(result).level == "warn"


def test_a_single_unseen_category_row_is_noise_and_not_flagged():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
    day.loc[day.index[0], "island"] = "Anvers"

    result = assess_data_quality(profile, day)

    assert result.severity == "none", result.summary
    assert result.max_unseen_category_share == pytest.approx(1 / len(day))


def test_forty_five_percent_of_a_columns_categories_respelled_is_an_error_naming_the_share():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
    respelled = day.sample(frac=0.45, random_state=0).index
    day.loc[respelled, "island"] = day.loc[respelled, "island"].str.upper()

    result = assess_data_quality(profile, day)

    share = len(respelled) / len(day)
    assert result.max_unseen_category_share == pytest.approx(share)
    assert result.severity == "critical"
    health = data_quality_health(result)
    assert health.level == "error"
    assert f"`island`: {share:.1%} of rows have a category training never had" in health.summary
    assert "'BISCOE'" in health.summary or "'DREAM'" in health.summary


def test_a_file_delivered_twice_counts_its_duplicated_ids():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
    twice = pd.concat([day, day], ignore_index=True)

    result = assess_data_quality(profile, twice, id_columns=["sighting_id"])

    assert result.duplicate_rows == len(day)
    assert result.duplicate_share == pytest.approx(0.5)
    assert result.duplicate_key == "ids sighting_id"
    assert result.severity == "critical"
    assert f"{len(day)} duplicated rows (50.0% of the day, same ids sighting_id)" in (
        data_quality_health(result).summary
    )


def test_without_ids_only_rows_identical_in_every_column_are_duplicates():
    _, day = _penguins()
    day = day.drop(columns=["sighting_id"])
    again = day.iloc[:3].copy()
    changed = day.iloc[3:5].copy()
    changed["body_mass_g"] += 1  # the same bird weighed again is another row

    assert duplicate_rows(pd.concat([day, again, changed]))[0] == 3
    # Ids are compared by value: 7, 7.0 and "7" are one id.
    ids = pd.DataFrame({"id": [7, 8, 9], "x": [1, 2, 3]}).astype({"id": object})
    ids.loc[1, "id"] = "7"
    assert duplicate_rows(ids, ["id"]) == (1, "ids id")
    # A nested column (lists from Parquet) cannot be hashed: its values are compared as text.
    nested = pd.DataFrame({"tags": [["a"], ["b"], ["a"]], "x": [1, 2, 1]})
    assert duplicate_rows(nested) == (1, "all columns")


def test_extra_columns_are_listed_without_a_finding():
    train, day = _penguins()
    profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
    day["collector"] = "anon"

    result = assess_data_quality(profile, day, known_columns=[*NUMERIC, *CATEGORICAL, "year"])

    assert result.extra_columns == ("sighting_id", "species", "collector")
    assert result.severity == "none"


def test_each_id_is_judged_once_on_its_last_row():
    frame = pd.DataFrame({"id": [1, 2, 1, 3], "prediction": ["a", "b", "c", "d"]})

    kept = last_row_per_id(frame, ["id"])

    assert kept["prediction"].tolist() == ["b", "c", "d"]
    # Ids by value in a column that mixes types: 7 and "7" are one id.
    mixed = pd.DataFrame({"id": [7, "7", 8], "prediction": ["a", "b", "c"]}, dtype=object)
    assert last_row_per_id(mixed, ["id"])["prediction"].tolist() == ["b", "c"]
    # The row position is not an id: every row stays.
    assert len(last_row_per_id(frame.rename(columns={"id": "row"}), ["row"])) == 4


def test_clean_days_of_real_data_rarely_raise_a_finding():
    """Random splits of the same birds (same missingness, same islands) at the day's size: the
    false-discovery control keeps findings on clean days rare."""
    frame = palmerpenguins.load_penguins()
    flagged = 0
    for seed in range(100):
        shuffled = frame.sample(frac=1.0, random_state=seed)
        train, day = shuffled.iloc[:224], shuffled.iloc[224:]
        profile = build_reference_profile(train, NUMERIC, CATEGORICAL)
        flagged += assess_data_quality(profile, day).severity != "none"
    assert flagged <= 5


def test_the_config_refuses_thresholds_out_of_range():
    with pytest.raises(ValueError, match="min_unseen_share"):
        DataQualityConfig(min_unseen_share=0.5)
    with pytest.raises(ValueError, match="fdr"):
        DataQualityConfig(fdr=0)
