"""Model integrity: the SHA-256 of a model version's artefact is recorded at registration and
verified before the version scores a batch or is compared with a challenger. A changed file in
the artefact store fails scoring at once, with a message naming the version and what to do."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import dagster as dg

from mlops_assets.contracts import CHAMPION_ALIAS, MODEL_HASH_TAG
from mlops_assets.definitions import defs
from mlops_assets.domain.data import directory_sha256
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.failures import failed_asset

QUICK = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}


def _score(project, day: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(scoring_source=ScoringDataSource(rows_per_day=300)),
        run_config=QUICK,
        raise_on_error=False,
    )


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, str, int]:
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    retries = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    return failed_asset(failure), failure.step_failure_data.error.message, len(retries)


def test_a_tampered_champion_artefact_fails_scoring_and_evaluation_clearly(project):
    """Also: models are stored with skops, never as pickles."""
    assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    registry = project.registry()
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    # The recorded hash is the hash of the files in the artefact store.
    model_dir = Path(
        urlparse(
            registry.client().get_model_version_download_uri(registry.model_name, champion.version)
        ).path
    )
    assert champion.tags[MODEL_HASH_TAG] == directory_sha256(model_dir, ("registered_model_meta",))
    # Stored with skops (loads only the reviewed types), no pickle that would run code on load.
    assert "serialization_format: skops" in (model_dir / "MLmodel").read_text()
    assert not [p for p in model_dir.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    assert _score(project, "2026-01-02").success

    # Someone with write access to the artefact store swaps bytes in the pickle-free model file.
    model_file = model_dir / "model.skops"
    original = model_file.read_bytes()
    model_file.write_bytes(original + b"\0")

    result = _score(project, "2026-01-03")
    assert not result.success
    step, message, retries = _failure(result)
    assert step == "batch_predictions"
    assert f"{registry.model_name} v{champion.version}" in message
    assert "does not match what was registered" in message
    assert "rollback_champion_job" in message
    assert retries == 0  # not an outage: retrying cannot help
    assert not asset_path(dg.AssetKey("batch_predictions"), "2026-01-03").exists()

    # A challenger is never compared with (or promoted over) a tampered champion either.
    challenger = project.train(
        data_source=TrainingDataSource(synthetic_rows=1500, synthetic_seed=4)
    )
    assert not challenger.success
    step, message, _ = _failure(challenger)
    assert step == "evaluation_report" and "does not match what was registered" in message
    assert [v.version for v in registry.versions()] == ["1"]

    # Restored from backup, the same version scores again.
    model_file.write_bytes(original)
    assert _score(project, "2026-01-03").success
