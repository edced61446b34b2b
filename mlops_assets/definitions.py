"""The code location: the settings read once from the environment (settings.py), each slice
of mlops_assets/defs/ built from them, and what they share (resources, the executor, links to
the code). Importing this module must stay cheap (no mlflow, sklearn or evidently): the
webserver, the daemon and every run load it. `mlops_assets.definitions:defs` is what
workspace.yaml, the deployment and `dg` load."""

import inspect
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import dagster as dg

from mlops_assets.asset_keys import DEFAULT
from mlops_assets.defs.alerts import definitions as alerts
from mlops_assets.defs.champion import definitions as champion
from mlops_assets.defs.champion.registry import PromotionGate
from mlops_assets.defs.declared import declared_models
from mlops_assets.defs.monitoring import DAY_FUNCTIONS, definitions as monitoring
from mlops_assets.defs.retraining import definitions as retraining
from mlops_assets.defs.retraining.sensors import RetrainingSettings
from mlops_assets.defs.training import definitions as training
from mlops_assets.domain.registry import default_model_name
from mlops_assets.home import default_home
from mlops_assets.process import exit_without_final_collection
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets.resources.data_source import (
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets.resources.io_managers import ParquetIOManager, RunScopedPickleIOManager
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage
from mlops_assets.run_health import in_process_executor
from mlops_assets.settings import Settings

# Where a day is scored, where a promotion is decided, where a retraining is triggered: one
# folder each, in the lifecycle's order. Each is built per model (asset_keys.ModelNames): here
# for the default model, by components/model.py for a model declared in YAML.
SLICES = (training, champion, monitoring, retraining, alerts)
SETTINGS = Settings.from_env()
"""The default model's settings, read once when the code location loads."""
ASSETS = (
    *training.assets(SETTINGS, DEFAULT),
    *champion.assets(SETTINGS, DEFAULT),
    *monitoring.assets(SETTINGS, DEFAULT),
)
"""The default model's assets (before their code references), as `defs` builds them."""

# Every process that loads the code location exits without the shutdown's garbage collection
# (0.8 to 1.2 s of each run's process; mlops_assets/process.py says what still runs at exit).
exit_without_final_collection()


def _setting(name: str, value: str, default: str) -> str | dg.EnvVar:
    """An environment-backed setting: `EnvVar` when set (resolved at run time, never shown or
    stored in the instance; URLs may carry passwords), else the default."""
    return dg.EnvVar(name) if value else default


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resources the settings configure (the environment's when None: tests and benches
    build them again with a variable changed)."""
    s = Settings.from_env() if settings is None else settings
    return {
        "storage": ProjectStorage(),
        "data_source": TrainingDataSource(
            location=_setting("MLOPS_TRAINING_DATA", s.training_data, ""),
            table=_setting("MLOPS_TRAINING_TABLE", s.training_table, ""),
            target_column=_setting("MLOPS_TARGET_COLUMN", s.target_column, "default"),
            timestamp_column=_setting("MLOPS_TIMESTAMP_COLUMN", s.timestamp_column, ""),
            id_columns=_setting("MLOPS_ID_COLUMNS", s.id_columns, ""),
            exclude_columns=_setting("MLOPS_EXCLUDE_COLUMNS", s.exclude_columns, ""),
        ),
        "scoring_source": ScoringDataSource(
            location=_setting("MLOPS_SCORING_DATA", s.scoring_data, ""),
            table=_setting("MLOPS_SCORING_TABLE", s.scoring_table, ""),
            date_column=_setting("MLOPS_SCORING_DATE_COLUMN", s.scoring_date_column, ""),
            drift_scenario=_setting("MLOPS_DRIFT_SCENARIO", s.drift_scenario, "both"),
            drift_start=s.drift_start,
            label_delay_days=(
                dg.EnvVar.int("MLOPS_LABEL_DELAY_DAYS") if s.label_delay_days is not None else 0
            ),
            shadow_share=s.shadow_share,
        ),
        "labels_source": LabelsDataSource(
            location=_setting("MLOPS_LABELS_DATA", s.labels_data, ""),
            table=_setting("MLOPS_LABELS_TABLE", s.labels_table, ""),
            date_column=_setting("MLOPS_LABELS_DATE_COLUMN", s.labels_date_column, ""),
            # Where `make serve` logs by default: its shadow pairs feed challenger_comparison.
            request_log=_setting(
                "MLOPS_SERVE_LOG_DIR", s.serve_log_dir, str(Path(default_home()) / "requests")
            ),
        ),
        "retraining_settings": RetrainingSettings.of(s.retraining),
        "promotion_gate": PromotionGate.of(s.gate),
        "mlflow_registry": MlflowRegistry(
            tracking_uri=_setting("MLFLOW_TRACKING_URI", s.tracking_uri, ""),
            model_name=_setting(
                "MLOPS_MODEL_NAME",
                s.model_name,
                default_model_name(s.training_data, s.training_table),
            ),
            ui_url=_setting("MLOPS_MLFLOW_UI_URL", s.mlflow_ui_url, "http://127.0.0.1:5000"),
        ),
        "alert_webhook": AlertWebhook(
            url=_setting("MLOPS_ALERT_WEBHOOK_URL", s.alert_webhook_url, ""),
            dagster_ui_url=_setting(
                "MLOPS_DAGSTER_UI_URL", s.dagster_ui_url, "http://127.0.0.1:3000"
            ),
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
    # The code object's own file and first line (its first decorator's, as
    # `inspect.getsourcelines` gives): that function tokenizes the source and scans every
    # loaded module for its file, costing every process that loads the code location.
    code = inspect.unwrap(wrapped).__code__
    return dg.LocalFileCodeReference(
        file_path=str(Path(code.co_filename).resolve()), line_number=code.co_firstlineno
    )


def _with_reference(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
    def referenced(spec: dg.AssetSpec) -> dg.AssetSpec:
        references = dg.CodeReferencesMetadataValue(code_references=[_defined_at(asset, spec.key)])
        return spec.merge_attributes(metadata={"dagster/code_references": references})

    return asset.map_asset_specs(referenced)


def with_code_references(
    assets: Sequence[dg.AssetsDefinition], settings: Settings
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
        if not settings.git_url:
            return referenced
        linked = dg.link_code_references_to_git(
            referenced,
            git_url=settings.git_url,
            git_branch=settings.git_branch,
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=Path(__file__),
                file_anchor_path_in_repository="mlops_assets/definitions.py",
            ),
        )
    # It returns the kinds of definition it was given: assets definitions here.
    return cast(list[dg.AssetsDefinition], list(linked))


def build_defs(settings: Settings) -> dg.Definitions:
    """The code location: every slice built from the settings, with what they share."""
    merged = dg.Definitions.merge(
        *(piece.build(settings, DEFAULT) for piece in SLICES),
    )
    assets = cast(Sequence[dg.AssetsDefinition], merged.assets or ())
    return dg.Definitions(
        assets=with_code_references(assets, settings),
        jobs=merged.jobs,
        schedules=merged.schedules,
        sensors=merged.sensors,
        resources=build_resources(settings),
        # Every job, and a materialisation started from the asset graph, runs its steps in the run's
        # own process. A process per step (Dagster's default) imports pandas, scikit-learn and
        # MLflow again in each step, about 10 s each (`make bench`: 26 s of overhead for `dagster
        # job execute -j training_job` against 9 s), and the steps form chains, so nothing would run
        # side by side anyway; runs stay isolated from each other by the run launcher. (An executor,
        # not default run config on the jobs: with that, Dagster 1.13 ignores the resources that
        # tests pass to `execute_in_process`.) It records the run's process (run_health.py), so that
        # run monitoring can fail a run whose worker was killed instead of letting it block the
        # queue.
        executor=in_process_executor,
    )


# The default model from the environment, then each model declared in YAML (defs/declared.py).
defs = dg.Definitions.merge(build_defs(SETTINGS), declared_models())
