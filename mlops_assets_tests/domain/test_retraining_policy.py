"""The retraining policy: its checks, and its one parser of the MLOPS_RETRAIN_* variables."""

from datetime import timedelta

import pytest

from mlops_assets.domain.retraining_policy import RetrainingPolicy


def test_policy_rejects_settings_that_cannot_work():
    with pytest.raises(ValueError, match="debounce_days"):
        RetrainingPolicy(debounce_days=0)
    with pytest.raises(ValueError, match="cooldown_days"):
        RetrainingPolicy(cooldown_days=-1)


def test_the_policy_reads_each_field_from_its_environment_variable():
    policy = RetrainingPolicy.from_env(
        {
            "MLOPS_RETRAIN_DEBOUNCE_DAYS": "3",
            "MLOPS_RETRAIN_INCLUDE_TRAINING_SOURCE": "on",
            "MLOPS_RETRAIN_MIN_INTERVAL_MINUTES": "0.5",
            "MLOPS_RETRAIN_CATCH_UP_DAYS": " ",  # blank: the default
        }
    )
    assert policy == RetrainingPolicy(
        debounce_days=3, include_training_source=True, min_interval_minutes=0.5
    )
    assert policy.min_interval == timedelta(seconds=30) and policy.catch_up_days == 14


def test_a_policy_variable_that_does_not_parse_or_cannot_work_is_named():
    with pytest.raises(ValueError, match=r"MLOPS_RETRAIN_WINDOW_DAYS='7d' is not an integer"):
        RetrainingPolicy.from_env({"MLOPS_RETRAIN_WINDOW_DAYS": "7d"})
    with pytest.raises(
        ValueError, match=r"^MLOPS_RETRAIN_\*: max_attempts=0 must be at least 1\.$"
    ):
        RetrainingPolicy.from_env({"MLOPS_RETRAIN_MAX_ATTEMPTS": "0"})
