"""The one `Definitions` object: assets, checks, jobs and resources configured from the
environment. Importing this module must stay cheap (no mlflow, sklearn or evidently): the
webserver, the daemon and every run load it."""

import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import dagster as dg

from mlops_assets.defs.alerts.sensors import (
    monitoring_alerts_sensor,
    rollback_alert_sensor,
    run_failure_alert_sensor,
)
from mlops_assets.defs.champion.registry import registered_model_version
from mlops_assets.defs.jobs import (
    daily_monitoring_job,
    evidently_report_job,
    labels_job,
    promote_version_job,
    retraining_job,
    rollback_champion_job,
    training_job,
)
from mlops_assets.defs.monitoring import DAY_FUNCTIONS, daily_monitoring
from mlops_assets.defs.monitoring.label_sensors import labels_arrival_sensor
from mlops_assets.defs.monitoring.schedules import daily_batch_prediction_schedule
from mlops_assets.defs.retraining.sensors import (
    drift_retraining_sensor,
    retraining_settings_from_env,
)
from mlops_assets.defs.training.evaluation import evaluation_report
from mlops_assets.defs.training.ingestion import raw_data
from mlops_assets.defs.training.training import trained_model
from mlops_assets.defs.training.validation import validated_data
from mlops_assets.domain.registry import default_model_name
from mlops_assets.process import exit_without_final_collection
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets.resources.data_source import (
    BuiltinCalendar,
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets.resources.io_managers import ParquetIOManager, RunScopedPickleIOManager
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage
from mlops_assets.run_health import in_process_executor

# Every process that loads the code location exits without the shutdown's garbage collection
# (0.8 to 1.2 s of each run's process; mlops_assets/process.py says what still runs at exit).
exit_without_final_collection()


def _setting(name: str, default: str) -> str | dg.EnvVar:
    """An environment-backed setting: `EnvVar` when set (resolved at run time, never shown or
    stored in the instance; URLs may carry passwords), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, object]:
    return {
        "storage": ProjectStorage(),
        "data_source": TrainingDataSource(
            location=_setting("MLOPS_TRAINING_DATA", ""),
            table=_setting("MLOPS_TRAINING_TABLE", ""),
            target_column=_setting("MLOPS_TARGET_COLUMN", "default"),
            timestamp_column=_setting("MLOPS_TIMESTAMP_COLUMN", ""),
            id_columns=_setting("MLOPS_ID_COLUMNS", ""),
            exclude_columns=_setting("MLOPS_EXCLUDE_COLUMNS", ""),
        ),
        "scoring_source": ScoringDataSource(
            location=_setting("MLOPS_SCORING_DATA", ""),
            table=_setting("MLOPS_SCORING_TABLE", ""),
            date_column=_setting("MLOPS_SCORING_DATE_COLUMN", ""),
            drift_scenario=_setting("MLOPS_DRIFT_SCENARIO", "both"),
            drift_start=_setting("MLOPS_DRIFT_START", BuiltinCalendar.read(os.environ).drift_start),
            label_delay_days=(
                dg.EnvVar.int("MLOPS_LABEL_DELAY_DAYS")
                if os.environ.get("MLOPS_LABEL_DELAY_DAYS")
                else 0
            ),
        ),
        "labels_source": LabelsDataSource(
            location=_setting("MLOPS_LABELS_DATA", ""),
            table=_setting("MLOPS_LABELS_TABLE", ""),
            date_column=_setting("MLOPS_LABELS_DATE_COLUMN", ""),
        ),
        "retraining_settings": retraining_settings_from_env(os.environ),
        "mlflow_registry": MlflowRegistry(
            tracking_uri=_setting("MLFLOW_TRACKING_URI", ""),
            model_name=_setting(
                "MLOPS_MODEL_NAME",
                default_model_name(
                    os.environ.get("MLOPS_TRAINING_DATA", ""),
                    os.environ.get("MLOPS_TRAINING_TABLE", ""),
                ),
            ),
            ui_url=_setting("MLOPS_MLFLOW_UI_URL", "http://127.0.0.1:5000"),
        ),
        "alert_webhook": AlertWebhook(
            url=_setting("MLOPS_ALERT_WEBHOOK_URL", ""),
            dagster_ui_url=_setting("MLOPS_DAGSTER_UI_URL", "http://127.0.0.1:3000"),
        ),
        "parquet_io_manager": ParquetIOManager(),
        "io_manager": RunScopedPickleIOManager(),
    }


def _defined_at(asset: dg.AssetsDefinition, key: dg.AssetKey) -> dg.LocalFileCodeReference:
    """The file and line of the asset's own function, looked up through the decorators that wrap
    it (`retried_on_mlflow_outage`): for a daily monitoring asset its day function, not the
    multi-asset that calls them all. Not `dg.with_source_code_references`: in Dagster 1.13 it
    takes the line of the unwrapped function but the file of the outermost wrapper
    (`inspect.getsourcefile` does not unwrap), so it pointed every MLflow-calling asset at a line
    of defs/common.py."""
    compute = asset.op.compute_fn
    # An op's compute_fn is a DecoratedOpFunction holding the decorated function.
    wrapped: Callable[..., Any] = DAY_FUNCTIONS.get(key) or cast(
        Callable[..., Any], getattr(compute, "decorated_fn", compute)
    )
    function = inspect.unwrap(wrapped)
    source = inspect.getsourcefile(function)
    assert source is not None, asset.key  # assets are defined in .py files of the package
    _, line = inspect.getsourcelines(function)
    return dg.LocalFileCodeReference(file_path=str(Path(source).resolve()), line_number=line)


def _with_reference(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
    def referenced(spec: dg.AssetSpec) -> dg.AssetSpec:
        references = dg.CodeReferencesMetadataValue(code_references=[_defined_at(asset, spec.key)])
        return spec.merge_attributes(metadata={"dagster/code_references": references})

    return asset.map_asset_specs(referenced)


def with_code_references(
    assets: Sequence[dg.AssetsDefinition], environ: Mapping[str, str]
) -> list[dg.AssetsDefinition]:
    """The assets with a link to the code that defines them (the asset page's "Code" tab): to
    the file on `MLOPS_GIT_URL` (a GitHub or GitLab repository) at `MLOPS_GIT_BRANCH` (default
    `main`) when that is set, where a browser can open it (a deployment, whose code server's
    paths mean nothing to the UI); else to the local file and line, which `make ui` shows."""
    # Code references are beta in Dagster 1.13, which warns at every load of the code location
    # (the webserver, the daemon, each run): accepted here once rather than printed by each.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        referenced = [_with_reference(asset) for asset in assets]
        git_url = environ.get("MLOPS_GIT_URL", "")
        if not git_url:
            return referenced
        linked = dg.link_code_references_to_git(
            referenced,
            git_url=git_url,
            git_branch=environ.get("MLOPS_GIT_BRANCH") or "main",
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=Path(__file__),
                file_anchor_path_in_repository="mlops_assets/definitions.py",
            ),
        )
    # It returns the kinds of definition it was given: assets definitions here.
    return cast(list[dg.AssetsDefinition], list(linked))


ASSETS = (
    raw_data,
    validated_data,
    trained_model,
    evaluation_report,
    registered_model_version,
    daily_monitoring,
)

defs = dg.Definitions(
    assets=with_code_references(ASSETS, os.environ),
    jobs=[
        training_job,
        retraining_job,
        daily_monitoring_job,
        evidently_report_job,
        labels_job,
        rollback_champion_job,
        promote_version_job,
    ],
    schedules=[daily_batch_prediction_schedule],
    sensors=[
        drift_retraining_sensor,
        labels_arrival_sensor,
        monitoring_alerts_sensor,
        run_failure_alert_sensor,
        rollback_alert_sensor,
    ],
    resources=build_resources(),
    # Every job, and a materialisation started from the asset graph, runs its steps in the run's
    # own process. A process per step (Dagster's default) imports pandas, scikit-learn and MLflow
    # again in each step, about 10 s each (`make bench`: 26 s of overhead for `dagster job
    # execute -j training_job` against 9 s), and the steps form chains, so nothing would run side
    # by side anyway; runs stay isolated from each other by the run launcher. (An executor, not
    # default run config on the jobs: with that, Dagster 1.13 ignores the resources that tests
    # pass to `execute_in_process`.) It records the run's process (run_health.py), so that run
    # monitoring can fail a run whose worker was killed instead of letting it block the queue.
    executor=in_process_executor,
)
