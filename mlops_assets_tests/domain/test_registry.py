"""Registered-model names: what MLflow filters and lock file names take unquoted."""

import pytest

from mlops_assets.domain.registry import checked_model_name


def test_model_names_that_would_need_quoting_are_refused():
    assert checked_model_name("credit-default_v1.2") == "credit-default_v1.2"
    for bad in ("", "../etc", "a b", "x'; drop", "-leading"):
        with pytest.raises(ValueError, match="MLOPS_MODEL_NAME"):
            checked_model_name(bad)
