"""The share of a day's rows a label-free estimate cannot vouch for: a category training never
had, or a value missing in a feature training never had missing."""

import numpy as np
import pandas as pd

from mlops_assets.domain.drift import build_reference_profile
from mlops_assets.domain.estimation.unvouched import unvouched_note, unvouched_share

TRAINING = pd.DataFrame(
    {
        "income": [1.0, 2.0, 3.0, 4.0],
        "age": [30.0, np.nan, 50.0, 60.0],  # training had gaps here
        "region": ["north", "south", "north", "east"],
        "code": [1.0, 2.0, 2.0, 1.0],  # a code column read as float
    }
)
PROFILE = build_reference_profile(TRAINING, ("income", "age"), ("region", "code"))


def test_rows_like_the_training_rows_are_all_vouched_for():
    day = pd.DataFrame(
        {"income": [9.0, 1.5], "age": [np.nan, 20.0], "region": ["east", "south"], "code": [1, 2]}
    )
    # Outside the training range (9.0) and a gap where training had gaps are vouched for.
    assert unvouched_share(PROFILE, day) == 0.0
    assert unvouched_note(0.0) == "vouches for every row of the day"


def test_unseen_categories_and_new_gaps_are_counted_once_per_row():
    day = pd.DataFrame(
        {
            "income": [1.0, np.nan, 2.0, 3.0, np.inf],  # income never missing in training
            "age": [30.0, 40.0, 50.0, 60.0, 30.0],
            "region": ["west", "west", None, "north", "north"],  # region never missing either
            "code": [1.0, 2.0, 2.0, 3.0, 1.0],  # 3 never seen
        }
    )
    # rows 0 (west), 1 (west and a gap), 2 (a gap in region), 3 (code 3), 4 (inf income)
    assert unvouched_share(PROFILE, day) == 1.0
    assert unvouched_share(PROFILE, day.iloc[[0, 1, 4]].assign(region="north")) == 2 / 3
    note = unvouched_note(0.25)
    assert note.startswith("could not vouch for 25.0% of the day's rows")


def test_a_float_category_column_with_fractions_is_read_as_the_profile_reads_it():
    """A categorical column of floats that are not all whole (a grade of 1, 1.5, 2, 2.5): the
    profile keeps its categories as pandas writes them ("1.0", "1.5"), and the day must be read
    the same way. Read value by value (whole floats as integers), the training rows themselves
    were half unvouched for ("1" is not "1.0"), while the data-quality check beside it found no
    unseen category."""
    from mlops_assets.domain.data_quality import assess_data_quality

    grades = pd.DataFrame({"grade": [1.0, 1.5, 2.0, 2.5] * 10, "income": np.arange(40.0)})
    profile = build_reference_profile(grades, ("income",), ("grade",))
    assert unvouched_share(profile, grades) == 0.0
    assert assess_data_quality(profile, grades).features[-1].unseen_share == 0.0
    day = grades.assign(grade=[1.0, 3.5, 2.0, 2.5] * 10)  # 3.5: a grade training never had
    assert unvouched_share(profile, day) == 0.25
    assert assess_data_quality(profile, day).features[-1].unseen_share == 0.25
