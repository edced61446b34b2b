"""A model declared in YAML (`MlopsModel`): what `dg scaffold defs` writes for it, how its YAML
becomes the same typed settings the environment gives the default model, and the errors a
wrong YAML gets (naming the field)."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster.components.resolved.errors import ResolutionException
from dagster.components.scaffold.scaffold import NoParams
from pydantic import ValidationError

from mlops_assets.components import MlopsModel
from mlops_assets.components.scaffolder import MlopsModelScaffolder
from mlops_assets.settings import Settings

CAR_LOAN = Path(__file__).resolve().parents[1] / "data" / "car_loan"

CAR_LOAN_YAML = f"""
name: car_loan
training:
  location: {CAR_LOAN / "train.csv"}
  target: repaid
  timestamp_column: timestamp
  id_columns: [id]
  exclude_columns: [car_value, debt_to_income_ratio]
scoring:
  location: {CAR_LOAN / "days"}
labels:
  delay_days: 2
retraining:
  debounce_days: 3
schedule:
  cron: "15 4 * * *"
  enabled: true
drift_sensor: true
"""


def test_scaffolded_yaml_declares_a_model_named_after_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "churn"
    target.mkdir()
    request = dg.ScaffoldRequest(
        type_name="mlops_assets.components.MlopsModel",
        target_path=target,
        scaffold_format="yaml",
        project_root=None,
        params=NoParams(),
    )

    MlopsModelScaffolder().scaffold(request)

    written = yaml.safe_load((target / "defs.yaml").read_text())
    assert written["type"] == "mlops_assets.components.MlopsModel"
    model = MlopsModel.resolve_from_dict(written["attributes"])
    assert model.name == "churn"
    assert model.settings({}).model_name == "churn"
    assert model.settings({}).training_data == "data/churn/training.csv"
    assert model.drift_sensor is False and model.schedule.enabled is False


def test_yaml_model_has_the_settings_its_environment_variables_would_give() -> None:
    model = MlopsModel.resolve_from_yaml(CAR_LOAN_YAML)
    shared = {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db", "MLOPS_HOME": "/srv/mlops"}
    # The default model's variables in the same environment never leak into a YAML model.
    default_model = {
        "MLOPS_TRAINING_DATA": "/elsewhere.csv",
        "MLOPS_TARGET_COLUMN": "y",
        "MLOPS_RETRAIN_WINDOW_DAYS": "30",
        "MLOPS_DRIFT_SENSOR": "off",
    }

    settings = model.settings({**shared, **default_model})

    assert settings == Settings.from_env(
        {
            **shared,
            "MLOPS_TRAINING_DATA": str(CAR_LOAN / "train.csv"),
            "MLOPS_TARGET_COLUMN": "repaid",
            "MLOPS_TIMESTAMP_COLUMN": "timestamp",
            "MLOPS_ID_COLUMNS": "id",
            "MLOPS_EXCLUDE_COLUMNS": "car_value,debt_to_income_ratio",
            "MLOPS_SCORING_DATA": str(CAR_LOAN / "days"),
            "MLOPS_LABEL_DELAY_DAYS": "2",
            "MLOPS_MODEL_NAME": "car_loan",
            "MLOPS_SCORING_CRON": "15 4 * * *",
            "MLOPS_SCORING_SCHEDULE": "on",
            "MLOPS_DRIFT_SENSOR": "on",
            "MLOPS_RETRAIN_DEBOUNCE_DAYS": "3",
        }
    )
    # The partitions start at the sample's first day, found in its directory.
    assert settings.scoring_start == "2026-02-06"
    assert settings.tracking_uri == "sqlite:///mlflow.db"
    assert settings.retraining == model.retraining
    assert (settings.retraining.debounce_days, settings.retraining.window_days) == (3, 7)


def test_registered_model_name_can_differ_from_the_model_name() -> None:
    model = MlopsModel.resolve_from_yaml(CAR_LOAN_YAML + "registered_model_name: loans_v2\n")

    assert model.settings({}).model_name == "loans_v2"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("name: car_loan", "name: Car-Loan"), "name='Car-Loan'"),
        (("  delay_days: 2", "  delay_days: -1"), "labels.delay_days=-1"),
        (("  location: " + str(CAR_LOAN / "days"), "  start: 2026-02-31"), "scoring.start="),
        (("  debounce_days: 3", "  debounce_days: 0"), "debounce_days=0"),
        (("  debounce_days: 3", "  debounce_days: many"), "retraining.debounce_days"),
        (("  debounce_days: 3", "  debounce_dayz: 3"), "retraining.debounce_dayz"),
        (("drift_sensor: true", "gate:\n  min_improvment: 0.1"), "gate.min_improvment"),
    ],
)
def test_a_wrong_value_fails_naming_its_field(change: tuple[str, str], named: str) -> None:
    with pytest.raises((ValidationError, ResolutionException)) as error:
        MlopsModel.resolve_from_yaml(CAR_LOAN_YAML.replace(*change))

    assert named in str(error.value)


def test_a_misspelt_key_fails_instead_of_being_ignored() -> None:
    with pytest.raises(ValidationError) as error:
        MlopsModel.resolve_from_yaml(CAR_LOAN_YAML.replace("delay_days:", "delay_dayz:"))

    assert "delay_dayz" in str(error.value)


def test_a_declared_model_turns_the_watch_on_a_promotion_off_in_its_yaml() -> None:
    declared = yaml.safe_load(CAR_LOAN_YAML)
    assert MlopsModel.resolve_from_dict(declared).settings({}).shadow_former_champion is True
    off = MlopsModel.resolve_from_dict({**declared, "shadow_former_champion": False})
    # Its own YAML decides, whatever the default model's variable says.
    environ = {"MLOPS_SHADOW_FORMER_CHAMPION": "on"}
    assert off.settings(environ).shadow_former_champion is False


def test_a_declared_model_sets_its_shadow_share_in_its_yaml() -> None:
    from mlops_assets.asset_keys import ModelNames
    from mlops_assets.defs.model_resources import declared_model_resources
    from mlops_assets.resources.data_source import ScoringDataSource

    declared = yaml.safe_load(CAR_LOAN_YAML)
    # Its own YAML decides, whatever the default model's variable says.
    environ = {"MLOPS_SHADOW_SHARE": "0.5"}
    assert MlopsModel.resolve_from_dict(declared).settings(environ).shadow_share == 1.0
    tenth = MlopsModel.resolve_from_dict({**declared, "shadow_share": 0.1}).settings(environ)
    assert tenth.shadow_share == 0.1
    names = ModelNames(declared["name"])
    scoring = declared_model_resources(tenth, names)[names.resource("scoring_source")]
    assert isinstance(scoring, ScoringDataSource) and scoring.shadow_share == 0.1
    for bad in (0.0, 1.2):
        with pytest.raises(ValidationError, match=rf"shadow_share={bad} must be above 0"):
            MlopsModel.resolve_from_dict({**declared, "shadow_share": bad})
