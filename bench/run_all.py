"""`make bench`: every performance claim as a ratio against a baseline run side by side on this
machine, written to bench/RESULTS.md. The test suite has no timed assertions; this is where
speed is measured.

    python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))


def timings(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def fmt(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def bench_code_location_load(repeats: int) -> str:
    """Wall time of a fresh interpreter importing the code location vs importing dagster."""

    def run(statement: str) -> Callable[[], object]:
        return lambda: subprocess.run(
            [sys.executable, "-c", statement], check=True, cwd=ROOT, capture_output=True
        )

    ours = timings(run("import mlops_assets.definitions"), repeats)
    base = timings(run("import dagster"), repeats)
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mlops_assets.definitions; "
            "print(sorted(m for m in ('mlflow', 'sklearn', 'evidently') if m in sys.modules))",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ratio = statistics.median(ours) / statistics.median(base)
    return (
        "## Code-location load\n\n"
        "| what | min / median / max (s) |\n| --- | --- |\n"
        f"| `import mlops_assets.definitions` | {fmt(ours)} |\n"
        f"| `import dagster` (baseline) | {fmt(base)} |\n\n"
        f"Ratio (median): **{ratio:.2f}x** (target < 1.5x). Heavy modules imported at load: "
        f"{heavy}.\n"
    )


def bench_training_overhead(repeats: int) -> str:
    """The training graph in process, against the bare domain functions on the same data."""
    import dagster as dg

    from mlops_assets.domain.evaluation import Predictions, compute_metrics
    from mlops_assets.domain.schemas import infer_schema, validate
    from mlops_assets.domain.synthetic import generate_training_data
    from mlops_assets.domain.training import fit_model, predict_frame, split_data

    def bare() -> None:
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

    def pipeline() -> None:
        with tempfile.TemporaryDirectory() as home:
            os.environ["MLOPS_HOME"] = home
            from mlops_assets.definitions import build_resources, defs

            with dg.instance_for_test(temp_dir=home) as instance:
                result = defs.resolve_job_def("training_job").execute_in_process(
                    instance=instance, resources=build_resources()
                )
                assert result.success

    bare()  # warm imports so both sides measure work, not first imports
    bare_times = timings(bare, repeats)
    pipeline_times = timings(pipeline, repeats)
    overhead = statistics.median(pipeline_times) - statistics.median(bare_times)
    return (
        "## Training graph end to end (built-in data, 5000 rows)\n\n"
        "| what | min / median / max (s) |\n| --- | --- |\n"
        f"| bare domain functions (validate, split, fit, score) | {fmt(bare_times)} |\n"
        f"| `training_job` in process (Dagster + MLflow, fresh store) | {fmt(pipeline_times)} |\n"
        f"\nOverhead of Dagster and MLflow (median): **{overhead:.1f} s** (target < 5 s).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5

    sections = [
        bench_code_location_load(repeats),
        bench_training_overhead(2 if args.quick else 3),
    ]
    import bench_drift

    sections.append(bench_drift.run(quick=args.quick))

    header = (
        "# Benchmark results\n\n"
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}\n"
        f"- python {platform.python_version()}; dagster {version('dagster')}, "
        f"mlflow {version('mlflow')}, evidently {version('evidently')}, "
        f"scikit-learn {version('scikit-learn')}, pandas {version('pandas')}, "
        f"numpy {version('numpy')}\n"
        "- figures are min / median / max over repeats, each side run in this same process "
        "or machine, one after the other.\n\n"
    )
    text = header + "\n".join(sections)
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
