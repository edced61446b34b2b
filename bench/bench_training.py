"""The training graph end to end on the built-in data (5000 rows), against the bare domain
functions it calls: what Dagster and MLflow add.

- bare: `generate_training_data`, `infer_schema`, `validate`, `split_data`, `fit_model`,
  `predict_frame` and `compute_metrics` on the test split, in this process (warm), and in a
  fresh interpreter (its imports included);
- `training_job` in this process (`execute_in_process`, a fresh Dagster instance made before the
  timer starts), into a fresh MLflow store (whose schema the run creates) and into a store
  created beforehand; one untimed run first, so that first imports are not counted;
- `dagster job execute -m mlops_assets.definitions -j training_job` in a fresh process with a
  temp DAGSTER_HOME (telemetry off) and MLOPS_HOME, with the executor `definitions.py` sets
  (in process).

    python bench/bench_training.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    HERE,
    Section,
    Target,
    clean_env,
    fmt,
    median,
    project_env,
    run_checked,
)

TARGET_SECONDS = 5.0
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def bare() -> None:
    """The work of the training graph without Dagster or MLflow."""
    from mlops_assets.domain.evaluation import Predictions, compute_metrics
    from mlops_assets.domain.schemas import infer_schema, validate
    from mlops_assets.domain.synthetic import generate_training_data
    from mlops_assets.domain.training import fit_model, predict_frame, split_data

    frame = generate_training_data()
    schema = infer_schema(frame, target="default")
    valid = validate(frame, schema, source="bench").valid
    split = split_data(valid, "default", schema.task, seed=42)
    fit = fit_model(
        split,
        target="default",
        numeric_features=schema.numeric_features,
        categorical_features=schema.categorical_features,
        task=schema.task,
    )
    features = schema.feature_columns
    y_pred, proba, classes = predict_frame(fit.pipeline, split.test[features], schema.task)
    compute_metrics(
        schema.task, Predictions(split.test["default"].to_numpy(), y_pred, proba, classes)
    )


def run(quick: bool) -> Section:
    repeats = 2 if quick else 5
    cli_repeats = 1 if quick else 3
    bare()  # warm imports: both in-process sides measure work, not first imports
    in_process(create_store=True)  # untimed: first imports of mlflow, skops, matplotlib
    # The sides take turns, round after round, so that a change in load falls on all alike.
    bare_warm, fresh, existing = [], [], []
    for _ in range(repeats):
        bare_warm.append(_timed(bare))
        fresh.append(in_process(create_store=False))
        existing.append(in_process(create_store=True))
    _cli()  # untimed: the CLI's own first imports
    bare_cold, cli = [], []
    for _ in range(cli_repeats):
        bare_cold.append(_timed(_bare_in_fresh_interpreter))
        cli.append(_cli())

    base = median(bare_warm)
    lines = [
        ("bare domain functions, warm (baseline)", bare_warm),
        ("bare domain functions, fresh interpreter (imports included)", bare_cold),
        ("`training_job` in process, fresh MLflow store", fresh),
        ("`training_job` in process, MLflow store created beforehand", existing),
        ("`dagster job execute -j training_job`", cli),
    ]
    rows = [
        f"| {what} | {len(values)} | {fmt(values, 2)} | {median(values) - base:+.1f} |"
        for what, values in lines
    ]
    text = (
        "## Training graph end to end (built-in data, 5000 rows)\n\n"
        "Seconds, min / median / max; the lines of each group take turns; overhead is the median "
        "minus the median of the warm bare functions. In process, only `execute_in_process` is "
        "timed; the CLI lines are the wall time of the whole command (interpreter start, "
        "imports, a new Dagster instance and MLflow store).\n\n"
        "| what | repeats | seconds | overhead (s) |\n| --- | ---: | --- | ---: |\n"
        + "\n".join(rows)
        + "\n"
    )
    targets = (
        Target(
            claim="training graph in process (fresh store), overhead over the bare functions",
            target=f"< {TARGET_SECONDS:.0f} s",
            measured=f"{median(fresh) - base:.1f} s",
            met=median(fresh) - base < TARGET_SECONDS,
        ),
        Target(
            claim="training graph through `dagster job execute`, overhead over the bare functions",
            target=f"< {TARGET_SECONDS:.0f} s",
            measured=f"{median(cli) - base:.1f} s",
            met=median(cli) - base < TARGET_SECONDS,
        ),
    )
    return Section(text, targets)


def in_process(create_store: bool) -> float:
    """Seconds of one `training_job.execute_in_process` in a new MLOPS_HOME."""
    import dagster as dg

    from mlops_assets.definitions import build_resources, defs
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    job = defs.resolve_job_def("training_job")
    with tempfile.TemporaryDirectory(prefix="mlops-bench-train-") as tmp:
        home = Path(tmp)
        with project_env(home), dg.instance_for_test(temp_dir=tmp) as instance:
            if create_store:
                MlflowRegistry().experiment_id()
            resources = build_resources()
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance, resources=resources)
            seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("training_job failed")
    return seconds


def _bare_in_fresh_interpreter() -> None:
    run_checked([sys.executable, "-c", "import bench_training; bench_training.bare()"], cwd=HERE)


def _cli() -> float:
    """Wall seconds of `dagster job execute ... -j training_job` in fresh homes."""
    with tempfile.TemporaryDirectory(prefix="mlops-bench-cli-") as tmp:
        dagster_home = Path(tmp) / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        args = [DAGSTER, "job", "execute", "-m", "mlops_assets.definitions", "-j", "training_job"]
        env = clean_env(Path(tmp) / "mlops", dagster_home)
        return _timed(lambda: run_checked(args, env))


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    print(run(quick=parser.parse_args().quick).text)
