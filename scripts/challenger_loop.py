"""The drift -> retrain -> challenger -> shadow verdict loop on a real table, day by day.

`../shared/realdata/loop.py` with two additions: the gate and training settings of the
retraining runs (run config the drift sensor does not set) come from LOOP_RUN_CONFIG, and each
day prints who holds `champion` and `challenger` in MLflow, what `challenger_comparison` said
(rows, effect, interval, verdict) and the champion's accuracy on the day (`mlflow.pyfunc` on the
day's file as pandas reads it). Run it from the project root in fresh homes, e.g. (issue 31):

    export DAGSTER_HOME=$(mktemp -d) MLOPS_HOME=$(mktemp -d)
    export MLFLOW_TRACKING_URI=sqlite:///$MLOPS_HOME/mlflow.db; touch $DAGSTER_HOME/dagster.yaml
    MLOPS_TRAINING_DATA=../shared/realdata/car_loan/train.csv \
    MLOPS_SCORING_DATA=../shared/realdata/car_loan/batches MLOPS_SCORING_START=2026-02-01 \
    MLOPS_TARGET_COLUMN=repaid MLOPS_TIMESTAMP_COLUMN=timestamp MLOPS_MODEL_NAME=carloan \
    LOOP_RUN_CONFIG='{"trained_model": {"config": {"test_size": 0.02}},
                      "evaluation_report": {"config": {"refit_on_window": true}}}' \
    .venv/bin/python scripts/challenger_loop.py

LOOP_RUN_CONFIG: a JSON object of op name -> op run config, merged into each retraining run's.
Prints one line per day, then the retraining days, the failed runs and the last day's accuracy
of the final champion beside the first one's.
"""

import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    RunRequest,
    build_sensor_context,
)
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlops_assets.definitions import defs

batches = Path(os.environ["MLOPS_SCORING_DATA"])
name, target = os.environ["MLOPS_MODEL_NAME"], os.environ["MLOPS_TARGET_COLUMN"]
extra_ops: dict = json.loads(os.environ.get("LOOP_RUN_CONFIG", "{}"))
files = {p.stem: p for p in sorted(batches.iterdir()) if p.suffix in (".csv", ".parquet")}
instance = DagsterInstance.get()
comparison_key = AssetKey("challenger_comparison")


def holder(alias: str) -> str:
    try:
        return MlflowClient().get_model_version_by_alias(name, alias).version
    except MlflowException:
        return "-"


def accuracy(day: str, model_uri: str) -> float:
    model = mlflow.pyfunc.load_model(model_uri)
    p = files[day]
    df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    pred = pd.Series(pd.Series(model.predict(df.drop(columns=[target]))).to_numpy().ravel())
    return float((as_label(pred) == as_label(df[target])).mean())


def as_label(values: pd.Series) -> np.ndarray:
    """Class labels as text, `1.0` read as `1` (pyfunc may return floats for integer classes)."""
    return values.astype(str).str.replace(r"\.0$", "", regex=True).to_numpy()


def comparison(day: str) -> str:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=comparison_key, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return "no challenger_comparison"
    meta = records[0].asset_materialization.metadata  # type: ignore[union-attr]
    value = {k: getattr(v, "value", v) for k, v in meta.items()}
    if "challenger_rows" not in value:
        return f"comparison: {value.get('challenger_decision', value.get('reason', value))}"
    return (
        f"comparison v{value.get('challenger_version')} vs v{value.get('champion_version')}: "
        f"rows {value['challenger_rows']}, effect {value['challenger_effect']:+.4f} "
        f"[{value['challenger_low']:+.4f}, {value['challenger_high']:+.4f}], "
        f"{value['challenger_decision']} ({value.get('challenger_reason', '')}); day acc "
        f"champion {value['champion_accuracy']:.3f} challenger {value['challenger_accuracy']:.3f}"
    )


def with_extra_ops(run_config: dict) -> dict:
    """The retraining run's config with LOOP_RUN_CONFIG's op configs merged in."""
    ops = {op: dict(value) for op, value in run_config.get("ops", {}).items()}
    for op, extra in extra_ops.items():
        ops[op] = {"config": {**ops.get(op, {}).get("config", {}), **extra["config"]}}
    return {**run_config, "ops": ops}


def run(request: RunRequest, run_config: dict, job_name: str, failed: list, label: str) -> None:
    result = defs.resolve_job_def(job_name).execute_in_process(
        run_config=run_config,
        tags=request.tags,
        instance=instance,
        partition_key=request.partition_key,
        raise_on_error=False,
    )
    if not result.success:
        failed.append(label)


assert defs.resolve_job_def("training_job").execute_in_process(instance=instance).success
scoring_job = defs.resolve_schedule_def("daily_batch_prediction_schedule").job_name
drift = defs.resolve_sensor_def("drift_retraining_sensor")
others = [s for s in defs.sensors or [] if s.name != drift.name and "alert" not in s.name]
cursors: dict[str, str | None] = {}
retrain_days: list[str] = []
failed: list[str] = []
for day in sorted(files):
    assert (
        defs.resolve_job_def(scoring_job)
        .execute_in_process(partition_key=day, instance=instance)
        .success
    ), day
    before = (holder("champion"), holder("challenger"))
    for sensor in [drift, *others]:
        tick = sensor.evaluate_tick(
            build_sensor_context(
                instance=instance,
                cursor=cursors.get(sensor.name),
                definitions=defs,
                resources=defs.resources,
            )
        )
        cursors[sensor.name] = tick.cursor
        for request in tick.run_requests or []:
            run_config = dict(request.run_config)
            if sensor is drift:
                retrain_days.append(day)
                run_config = with_extra_ops(run_config)
            job_name = request.job_name or sensor.job_name
            assert job_name, sensor.name
            run(request, run_config, job_name, failed, f"{day}:{sensor.name}")
    print(
        f"{day}: before ticks champion v{before[0]} challenger v{before[1]}; after champion "
        f"v{holder('champion')} challenger v{holder('challenger')}; {comparison(day)}; "
        f"champion accuracy {accuracy(day, f'models:/{name}@champion'):.3f}",
        flush=True,
    )
last = sorted(files)[-1]
print(
    f"retraining on {retrain_days}; failed: {failed}; last day {last}: champion "
    f"v{holder('champion')} {accuracy(last, f'models:/{name}@champion'):.3f}, "
    f"v1 (the first champion) {accuracy(last, f'models:/{name}/1'):.3f}",
    flush=True,
)
