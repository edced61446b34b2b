"""The one Dagster internal the code location uses (mlops_assets/dagster_internals.py) still
does what daily_monitoring relies on: these fail on the Dagster upgrade that moves or changes it.
"""

import dagster as dg

from mlops_assets.dagster_internals import latest_materialization_target

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(partitions_def=DAYS, check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers(context: dg.AssetExecutionContext):
    yield dg.Output(context.partition_key)
    yield dg.AssetCheckResult(check_name="positive", passed=True)


def test_the_target_is_the_days_latest_materialisation_and_none_before_any():
    with dg.instance_for_test() as instance:
        assert latest_materialization_target(instance, numbers.key, "2026-01-02") is None
        for _ in range(2):
            dg.materialize([numbers], partition_key="2026-01-02", instance=instance)
        dg.materialize([numbers], partition_key="2026-01-03", instance=instance)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=numbers.key, asset_partitions=["2026-01-02"]),
            limit=2,
        ).records

        target = latest_materialization_target(instance, numbers.key, "2026-01-02")

        assert target is not None
        assert (target.storage_id, target.run_id) == (records[0].storage_id, records[0].run_id)
        assert target.storage_id != records[1].storage_id


def test_a_check_evaluation_logged_with_that_target_is_stored_with_it():
    # As daily_monitoring logs a day's check evaluation inside a range run.
    with dg.instance_for_test() as instance:
        dg.materialize([numbers], partition_key="2026-01-02", instance=instance)
        target = latest_materialization_target(instance, numbers.key, "2026-01-02")
        evaluation = dg.AssetCheckEvaluation(
            asset_key=numbers.key,
            check_name="positive",
            passed=False,
            partition="2026-01-02",
            target_materialization_data=target,
        )
        instance.report_runless_asset_event(evaluation)
        key = dg.AssetCheckKey(numbers.key, "positive")
        latest = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0]

        stored = latest.event.asset_check_evaluation if latest.event else None
        assert stored is not None and stored.passed is False
        assert stored.target_materialization_data == target
