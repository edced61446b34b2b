"""The one Dagster internal the code location needs, isolated here.

`AssetCheckEvaluationTargetMaterializationData` is not exported by Dagster 1.13, yet a check
evaluation recorded for one day of a partition range must carry it: the check's Partitions view
(Dagster's AssetCheckState) counts an evaluation only when it targets the day's latest
materialisation, and Dagster fills the target in itself only for a step with a single partition
key. mlops_assets_tests/test_dagster_internals.py fails on the Dagster upgrade that moves it.
"""

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def latest_materialization_target(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The partition's latest materialisation, as a check evaluation's target; None when it
    has none (the day failed before anything was recorded: the check stands alone)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=records[0].storage_id,
        run_id=records[0].run_id,
        timestamp=records[0].timestamp,
    )
