"""Who answers a served row (domain/challenger/routing.py): the mode setting, row keys, the
canary's sticky hash and the rewards a label file gives."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.challenger import ChallengerInputError
from mlops_assets.domain.challenger.routing import (
    canary_point,
    canary_roles,
    key_points,
    label_rewards,
    row_keys,
    shadow_sample,
)
from mlops_assets.domain.serve_modes import serve_mode


def test_serve_mode_reads_the_setting_and_names_the_choices_when_wrong():
    assert serve_mode("") == "champion"
    assert serve_mode(" Shadow ") == "shadow"
    with pytest.raises(ValueError, match=r"MLOPS_SERVE_MODE='ab'.*canary"):
        serve_mode("ab")


def test_row_keys_are_the_id_values_and_one_id_is_one_key_whatever_its_type():
    ids = pd.DataFrame({"a": [42, None], "b": ["x", None]})
    assert row_keys(ids, "r1") == ["42\x1fx", "r1#1"]
    assert row_keys(pd.DataFrame({"a": [42.0]}), "r") == row_keys(pd.DataFrame({"a": ["42"]}), "r")
    assert row_keys(pd.DataFrame(index=range(2)), "req") == ["req#0", "req#1"]


def test_canary_answers_about_its_share_and_a_larger_share_keeps_every_earlier_key():
    keys = [str(i) for i in range(20_000)]
    small = canary_roles(keys, 0.1)
    large = canary_roles(keys, 0.25)
    assert small == canary_roles(keys, 0.1)  # sticky: the same key, the same role
    assert abs(small.count("challenger") / len(keys) - 0.1) < 0.01
    assert abs(large.count("challenger") / len(keys) - 0.25) < 0.015
    assert all(b == "challenger" for a, b in zip(small, large, strict=True) if a == "challenger")
    assert set(canary_roles(keys[:100], 0)) == {"champion"}
    with pytest.raises(ChallengerInputError, match="share"):
        canary_roles(keys, 1.5)


def test_row_keys_of_an_integer_column_are_the_ids_as_python_prints_them():
    ids = pd.DataFrame({"id": np.array([0, 7, -3, 2**62], dtype=np.int64)})
    assert row_keys(ids, "r") == ["0", "7", "-3", str(2**62)]
    two = pd.DataFrame({"id": np.array([5, 6], dtype=np.uint32), "shop": ["a", None]})
    assert row_keys(two, "r") == ["5\x1fa", "6\x1fnan"]  # as before: a missing text is NaN


def test_key_points_are_the_canary_points_the_service_has_always_routed_by():
    keys = [str(i) for i in range(2_000)] + ["a\x1fb", "é"]
    # The hash as the service computed it before it was vectorised: a canary keeps its ids.
    before = [
        int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") / 2**64
        for k in keys
    ]
    assert key_points(keys).tolist() == before
    assert [canary_point(k) for k in keys[:50]] == before[:50]


def test_the_shadow_sample_is_the_canarys_rows_at_the_same_share_and_grows_with_it():
    keys = [str(i) for i in range(20_000)]
    small, large = shadow_sample(keys, 0.1), shadow_sample(keys, 0.3)
    assert small.dtype == bool
    assert small.tolist() == [role == "challenger" for role in canary_roles(keys, 0.1)]
    assert abs(large.mean() - 0.3) < 0.015
    assert not (small & ~large).any()  # a larger share keeps every row a smaller one shadowed
    assert shadow_sample(keys, 1.0).all()
    for share in (0, -0.5, 1.5, float("nan")):
        with pytest.raises(ChallengerInputError, match="shadow share must be in"):
            shadow_sample(keys, share)


def test_label_rewards_join_on_the_ids_and_score_the_prediction_that_answered():
    served = pd.DataFrame({"id": [1, 2, 3, 3], "pred": [1, 0, 1, 0]})
    labels = pd.DataFrame({"id": [1.0, 2.0, 3.0, 9.0, 4.0], "y": [1, 1, 1, 0, None]})
    # Row 3 was served twice (a retry): its first answer counts; 9 and 4 were never served.
    assert label_rewards(labels, served, ["id"], "y", "pred", "l.csv") == {
        "1": 1.0,
        "2": 0.0,
        "3": 1.0,
    }


def test_label_rewards_name_the_file_and_the_missing_columns():
    served = pd.DataFrame({"id": [1], "pred": [1]})
    with pytest.raises(ChallengerInputError, match=r"2026-01-12\.csv: column\(s\) y missing"):
        label_rewards(pd.DataFrame({"id": [1]}), served, ["id"], "y", "pred", "2026-01-12.csv")
    with pytest.raises(ChallengerInputError, match="no id columns"):
        label_rewards(pd.DataFrame({"y": [1]}), served, [], "y", "pred", "f.csv")
