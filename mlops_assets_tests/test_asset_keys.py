"""ModelNames: the names that keep one model's definitions apart from another's."""

import dagster as dg
import pytest

from mlops_assets import asset_keys
from mlops_assets.asset_keys import DEFAULT, ModelNames


def test_the_default_model_keeps_todays_unprefixed_names():
    assert DEFAULT.raw_data == dg.AssetKey("raw_data")
    assert DEFAULT.drift_report == dg.AssetKey("drift_report")
    assert DEFAULT.group("training") == "training"
    assert DEFAULT.job("training_job") == "training_job"
    assert DEFAULT.job("drift_retraining_sensor") == "drift_retraining_sensor"
    assert DEFAULT.resource("data_source") == "data_source"


def test_the_module_constants_are_the_default_models_keys():
    assert asset_keys.REGISTERED_MODEL_VERSION.path == ["registered_model_version"]
    assert asset_keys.LABELS_ASSET == "labels"
    assert [key.to_user_string() for key in asset_keys.DAILY] == [
        "scoring_data",
        "batch_predictions",
        "drift_report",
        "estimated_performance",
        "labels",
        "realized_performance",
        "challenger_comparison",
    ]


def test_a_declared_model_prefixes_keys_groups_jobs_and_resources_as_docs_models_md_says():
    names = ModelNames("car_loan")
    assert names.raw_data == dg.AssetKey(["car_loan", "raw_data"])
    assert names.drift_report.to_user_string() == "car_loan/drift_report"
    assert names.group("training") == "car_loan_training"
    assert names.job("training_job") == "car_loan__training_job"
    assert names.job("drift_retraining_sensor") == "car_loan__drift_retraining_sensor"
    assert names.resource("data_source") == "car_loan__data_source"
    assert [key.path for key in names.training] == [
        ["car_loan", "raw_data"],
        ["car_loan", "validated_data"],
        ["car_loan", "trained_model"],
        ["car_loan", "evaluation_report"],
        ["car_loan", "registered_model_version"],
    ]


def test_two_models_share_no_name():
    churn, loans = ModelNames("churn"), ModelNames("loans")
    assert not set(churn.training + churn.daily) & set(loans.training + loans.daily)
    assert not set(churn.training + churn.daily) & set(DEFAULT.training + DEFAULT.daily)
    assert churn.resource("mlflow_registry") != loans.resource("mlflow_registry")


def test_an_asset_key_names_the_model_that_owns_it():
    assert ModelNames.of(dg.AssetKey(["car_loan", "trained_model"])) == ModelNames("car_loan")
    assert ModelNames.of(dg.AssetKey("trained_model")) is DEFAULT


@pytest.mark.parametrize("name", ["Churn", "1st", "car-loan", "car loan", "_x"])
def test_a_name_that_cannot_prefix_a_key_or_a_job_is_refused_naming_it(name):
    with pytest.raises(ValueError, match=repr(name).replace("\\", "\\\\")):
        ModelNames(name)
