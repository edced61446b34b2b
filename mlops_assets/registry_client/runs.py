"""The runs the project writes to MLflow: a training run, its logged model, a day's monitoring
run. `RegistryClient` exposes each as a method; they live here to keep that module small.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.contracts import (
    EVIDENTLY_REPORT_ARTIFACT,
    MODEL_ARTIFACT,
    MONITORING_MODEL_VERSION_TAG,
    MONITORING_PARTITION_TAG,
    MONITORING_RUN_KIND,
    MONITORING_RUN_KIND_TAG,
)

if TYPE_CHECKING:
    from mlops_assets.registry_client.client import RegistryClient

# The skops serialisation, pinned: it loads only reviewed types, where a pickle runs any code.
SKOPS = "skops"


@contextmanager
def training_run(
    registry: RegistryClient, experiment_id: str, run_name: str, tags: dict[str, str]
) -> Iterator[str]:
    """A new run of the experiment, its id yielded; FINISHED when the block completes,
    FAILED when it raises (what `mlflow.start_run` records, without an active-run global).
    MLflow's context tags (user, source, git commit) are added as `start_run` adds them."""
    from mlflow.tracking.context import registry as run_context

    client = registry.client()
    run_tags = run_context.resolve_tags(tags)
    run_id = client.create_run(experiment_id, run_name=run_name, tags=run_tags).info.run_id
    try:
        yield run_id
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


def log_sklearn_model(
    registry: RegistryClient,
    run_id: str,
    pipeline: Any,
    *,
    signature: Any,
    input_example: Any,
    pip_requirements: list[str],
    skops_trusted_types: list[str],
) -> str:
    """Log `pipeline` as the run's LoggedModel `model` (skops, pinned) and return its
    `models:/<model id>` URI.

    What `mlflow.sklearn.log_model` does, with this store's client instead of the
    process-wide tracking URI and active run: create the LoggedModel, link it to the run
    and to the run's metrics, save the flavour locally, upload, mark it READY.
    """
    import mlflow.sklearn
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric
    from mlflow.models import Model
    from mlflow.tracking.context import registry as run_context

    client = registry.client()
    run = client.get_run(run_id)
    model = client.create_logged_model(
        run.info.experiment_id,
        name=MODEL_ARTIFACT,
        source_run_id=run_id,
        tags=run_context.resolve_tags(),
        params={key: str(value) for key, value in run.data.params.items()},
    )
    try:
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        client.log_batch(
            run_id,
            metrics=[
                Metric(m.key, m.value, m.timestamp, m.step, model_id=model.model_id, run_id=run_id)
                for key in run.data.metrics
                for m in client.get_metric_history(run_id, key)
                if m.step == 0 and m.model_id is None
            ],
        )
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            local = Path(tmp) / MODEL_ARTIFACT
            mlflow.sklearn.save_model(
                pipeline,
                str(local),
                mlflow_model=Model(
                    artifact_path=model.artifact_location,
                    model_uuid=model.model_id,
                    run_id=run_id,
                    model_id=model.model_id,
                ),
                serialization_format=SKOPS,
                skops_trusted_types=skops_trusted_types,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements,
            )
            client.log_model_artifacts(model.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return f"models:/{model.model_id}"


def log_monitoring_run(
    registry: RegistryClient,
    run_name: str,
    tags: dict[str, str],
    metrics: dict[str, float],
    report_html: Path | None,
) -> tuple[str, str]:
    """The day's monitoring run: its figures as metrics, evidently's HTML as the artefact
    EVIDENTLY_REPORT_ARTIFACT. Returns (experiment id, run id).

    One run per day and model version (`tags` name both, MONITORING_PARTITION_TAG and
    MONITORING_MODEL_VERSION_TAG): a re-materialised day replaces its run, so the
    experiment's monitoring history has one point per day. The figures go in one batch.
    """
    from mlflow.entities import Metric, RunTag

    client = registry.client()
    experiment_id = registry.experiment_id()
    partition = tags[MONITORING_PARTITION_TAG]
    version = tags[MONITORING_MODEL_VERSION_TAG]
    earlier = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`{MONITORING_RUN_KIND_TAG}` = '{MONITORING_RUN_KIND}' and "
            f"tags.`{MONITORING_PARTITION_TAG}` = '{partition}' and "
            f"tags.`{MONITORING_MODEL_VERSION_TAG}` = '{version}'"
        ),
    )
    for run in earlier:
        client.delete_run(run.info.run_id)
    run_tags = {**tags, MONITORING_RUN_KIND_TAG: MONITORING_RUN_KIND}
    run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
            tags=[RunTag(key, value) for key, value in run_tags.items()],
        )
        if report_html is not None:
            directory = str(Path(EVIDENTLY_REPORT_ARTIFACT).parent)
            with tempfile.TemporaryDirectory(prefix="mlops-report-") as tmp:
                named = Path(tmp) / Path(EVIDENTLY_REPORT_ARTIFACT).name
                shutil.copyfile(report_html, named)
                client.log_artifact(run_id, str(named), artifact_path=directory)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return experiment_id, run_id
