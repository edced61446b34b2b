"""Batch scoring: the real `batch_predictions` asset against a bare `pipeline.predict` on the
same rows already in memory.

The rows come from the built-in generator (`generate_daily_batch`, one 250,000-row chunk per
seed and day), written chunk by chunk to Parquet under bench/.data/ (kept between runs). A model
is trained once by the real `training_job` in a temp MLOPS_HOME; each side then runs in child
processes of its own, so that its peak RSS (VmHWM, read by the child at its end) is its own:

- ours: the file is linked where `scoring_data` stores its partition, and `batch_predictions`
  alone is materialised for that partition (`dg.materialize`, real instance): champion lookup,
  model download and SHA-256 check, column check, chunked read / score / write (chunk_rows
  100,000), atomic rename, metadata. Wall time of the whole `materialize` call.
- ours, the loop alone: in a child of its own with the champion loaded (not timed), the
  asset's own read / score / write loop (`scored_chunks` into `write_streamed_table`, the
  asset's chunk size and threads) over the same file: what a run costs beyond its fixed part.
- bare: the same champion pipeline loaded, the file's feature columns read whole with
  `pd.read_parquet` (neither timed); timed is one call, each in a child of its own:
  `pipeline.predict(X)` and, up to 1M rows, `pipeline.predict_proba(X)` and `predict_proba`
  over slices of 100,000 rows (the asset's chunks) of the same in-memory frame.

All children import pandas, pyarrow, sklearn and mlflow before anything is timed. Each child
times one run, as each run is a process of its own in production; the sides take turns, round
after round, so that a change in the machine's load falls on all of them alike.

    python bench/bench_batch_prediction.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import (
    DATA,
    Section,
    Target,
    clean_env,
    fmt,
    gib,
    median,
    peak_rss_bytes,
    rss_bytes,
    run_child,
)

SCRIPT = str(Path(__file__).resolve())
CHUNK_ROWS = 250_000
GENERATOR = "generate_daily_batch/none/v1"  # bump when the generated rows change
FIRST_DAY = date(2026, 1, 2)
ASSET_CHUNK_ROWS = 100_000  # ScoringConfig.chunk_rows' default
THROUGHPUT_TARGET = 0.8
# Issue 16: at least a bare predict_proba by the asset's own slices.
SLICED_TARGET = 1.0
MEMORY_TARGET = 2 * 2**30
# The bare side holds everything in memory (about 1 GiB per million rows at its peak): it runs
# at 10M only when this much memory is free.
BARE_NEEDS = 12 * 2**30


@dataclass(frozen=True)
class Sizing:
    """What one side's children reported for one size (None: not run)."""

    rows: int
    rounds: int
    ours: dict[str, Any]
    loop: dict[str, Any] | None
    bare: dict[str, Any] | None


def run(quick: bool) -> Section:
    sizes = (200_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    # 10M rows take minutes a side: one round there, and the bare side times `predict` only.
    rounds = {n: 1 if n > 1_000_000 else 2 if quick else 3 for n in sizes}
    files = {n: scoring_file(n) for n in sizes}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-batch-") as tmp:
        home = Path(tmp)
        env = clean_env(home)
        run_child([SCRIPT, "train", str(home)], env)
        results = []
        for i, n in enumerate(sizes):
            partition = (FIRST_DAY + timedelta(days=i)).isoformat()
            _link_scoring_partition(home, partition, files[n])
            small = n <= 1_000_000
            bare_fits = small or _available_memory() >= BARE_NEEDS
            sides: dict[str, list[dict[str, Any]]] = {"ours": [], "loop": [], "bare": []}
            for _ in range(rounds[n]):
                sides["ours"].append(run_child([SCRIPT, "ours", str(home), partition], env))
                if small:
                    sides["loop"].append(run_child([SCRIPT, "loop", str(home), str(files[n])], env))
                if bare_fits:
                    for mode in ("predict", "predict_proba", "chunked") if small else ("predict",):
                        sides["bare"].append(
                            run_child([SCRIPT, "bare", str(home), str(files[n]), mode], env)
                        )
            results.append(
                Sizing(
                    n,
                    rounds[n],
                    _merge(sides["ours"]),
                    _merge(sides["loop"]) if sides["loop"] else None,
                    _merge(sides["bare"]) if sides["bare"] else None,
                )
            )
    return _section(results)


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's children: their timings concatenated, the largest peaks, flags and-ed."""
    out: dict[str, Any] = {}
    for report in reports:
        for key, value in report.items():
            if isinstance(value, list):
                out.setdefault(key, []).extend(value)
            elif isinstance(value, bool):
                out[key] = out.get(key, True) and value
            else:
                out[key] = max(out.get(key, 0), value)
    return out


def _section(results: list[Sizing]) -> Section:
    rows = []
    for r in results:
        rows.append(_row(r, "ours: `materialize`", r.ours))
        if r.loop is not None:
            rows.append(_row(r, "ours: the read / score / write loop alone", r.loop, memory=False))
        if r.bare is not None:
            rows.append(_row(r, "bare `pipeline.predict` (baseline)", r.bare, key="predict"))
            for key, what in (
                ("predict_proba", "bare `pipeline.predict_proba`"),
                ("chunked", "bare `pipeline.predict_proba` by 100,000-row slices"),
            ):
                if key in r.bare:
                    rows.append(_row(r, what, r.bare, key=key, memory=False))

    small, big = results[0], results[-1]
    targets = []
    if small.bare is not None:
        ratio = median(small.bare["predict"]) / median(small.ours["seconds"])
        targets.append(
            Target(
                claim=f"batch scoring throughput at {small.rows:,} rows, ours / bare predict",
                target=f">= {THROUGHPUT_TARGET}x",
                measured=f"{ratio:.2f}x",
                met=ratio >= THROUGHPUT_TARGET,
            )
        )
    if small.bare is not None and "chunked" in small.bare:
        sliced = median(small.bare["chunked"]) / median(small.ours["seconds"])
        loop = ""
        if small.loop is not None:
            alone = median(small.bare["chunked"]) / median(small.loop["seconds"])
            loop = f"; the read / score / write loop alone {alone:.2f}x"
        targets.append(
            Target(
                claim=f"batch scoring throughput at {small.rows:,} rows, ours / bare "
                "predict_proba by 100,000-row slices",
                target=f">= {SLICED_TARGET}x",
                measured=f"{sliced:.2f}x{loop}",
                met=sliced >= SLICED_TARGET,
            )
        )
    targets.append(
        Target(
            claim=f"batch scoring peak RSS at {big.rows:,} rows",
            target=f"< {gib(MEMORY_TARGET)}",
            measured=gib(big.ours["peak_rss"])
            + (f" (bare: {gib(big.bare['peak_rss'])})" if big.bare else ""),
            met=big.ours["peak_rss"] < MEMORY_TARGET,
        )
    )
    agree = [r.bare["argmax_agrees"] for r in results if r.bare and "argmax_agrees" in r.bare]
    fixed = "".join(
        f"At {r.rows:,} rows a `materialize` takes {median(r.ours['seconds']):.2f} s, of which "
        f"the loop is {median(r.loop['seconds']):.2f} s: the rest, "
        f"{median(r.ours['seconds']) - median(r.loop['seconds']):.2f} s, is what every run pays "
        "once whatever its size.\n"
        for r in results
        if r.loop is not None
    )
    missing = [f"{r.rows:,}" for r in results if r.bare is None]
    text = (
        "## Batch prediction: `batch_predictions` vs bare `pipeline.predict`\n\n"
        "Built-in data (15 features; all 17 columns in the file), one Parquet file per size; "
        "the champion is the HistGradientBoosting pipeline that `training_job` trains on the "
        "default data. Each run is a child process of its own, and the sides take turns: "
        "seconds min / median / max; throughput in million rows/s (median); peak RSS is the "
        "largest VmHWM of the side's children, with their RSS after imports and before any "
        "work in brackets. A `materialize` includes what every run process pays once: opening "
        "the MLflow store, the champion lookup, the model's download, SHA-256 check and load."
        "\n\n"
        "| rows | runs | what | seconds | Mrows/s | peak RSS | throughput / bare predict |\n"
        "| ---: | ---: | --- | --- | ---: | --- | ---: |\n" + "\n".join(rows) + "\n\n"
        "`predict_frame` takes each label as the argmax of one `predict_proba`; on these rows "
        "that argmax equals `pipeline.predict` on every row: "
        f"{', '.join('yes' if a else 'NO' for a in agree)}.\n\n"
        + fixed
        + (
            f"\nThe bare baseline was not run at {', '.join(missing)} rows: it needs the whole "
            "frame and its transformed matrix in memory at once, more than was free.\n"
            if missing
            else ""
        )
    )
    return Section(text, tuple(targets))


def _row(
    r: Sizing, what: str, side: dict[str, Any], key: str = "seconds", memory: bool = True
) -> str:
    seconds = side[key]
    bare = r.bare
    ratio = f"**{median(bare['predict']) / median(seconds):.2f}x**" if bare else "n/a"
    peak = f"{gib(side['peak_rss'])} ({gib(side['rss_before'])})" if memory else ""
    return (
        f"| {r.rows:,} | {len(seconds)} | {what} | {fmt(seconds, 2)} | "
        f"{r.rows / median(seconds) / 1e6:.3f} | {peak} | {ratio} |"
    )


def scoring_file(n_rows: int) -> Path:
    """bench/.data/scoring-<n>.parquet, generated chunk by chunk unless already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_assets.domain.synthetic import generate_daily_batch

    path = DATA / f"scoring-{n_rows}.parquet"
    if path.exists():
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows == n_rows and (meta.metadata or {}).get(b"bench.generator") == (
            GENERATOR.encode()
        ):
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    try:
        for i, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            frame = generate_daily_batch(
                FIRST_DAY + timedelta(days=i), n_rows=min(CHUNK_ROWS, n_rows - start), seed=i
            )
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                schema = table.schema.with_metadata(
                    {**(table.schema.metadata or {}), b"bench.generator": GENERATOR.encode()}
                )
                writer = pq.ParquetWriter(partial, schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    os.replace(partial, path)
    return path


def _link_scoring_partition(home: Path, partition: str, data: Path) -> None:
    """Put `data` where scoring_data stores `partition`, as if it had been materialised."""
    import dagster as dg

    from mlops_assets.resources.io_managers import asset_path

    target = asset_path(dg.AssetKey("scoring_data"), partition, base_dir=str(home / "assets"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(data)


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _preload() -> None:
    """Import what scoring needs, on every side, before anything is timed."""
    import mlflow.sklearn  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sklearn.ensemble  # noqa: F401


def child_train(home: Path) -> dict:
    from common import run_training_job

    run_training_job(home)
    return {}


def child_ours(home: Path, partition: str) -> dict:
    """One `materialize` of batch_predictions for the partition."""
    import dagster as dg

    from mlops_assets.definitions import build_resources, defs

    _preload()
    rss_before = rss_bytes()
    # scoring_data is given (not selected) so that its IO manager hands the linked file over.
    assets = [defs.get_assets_def("scoring_data"), defs.get_assets_def("batch_predictions")]
    instance_dir = tempfile.mkdtemp(prefix="dagster-", dir=home)
    with dg.instance_for_test(temp_dir=instance_dir) as instance:
        started = time.perf_counter()
        result = dg.materialize(
            assets,
            selection=["batch_predictions"],
            partition_key=partition,
            resources=build_resources(),
            instance=instance,
        )
        seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("batch_predictions failed")
    return {"seconds": [seconds], "peak_rss": peak_rss_bytes(), "rss_before": rss_before}


def child_loop(data: Path) -> dict:
    """The asset's read / score / write loop over `data`, the champion loaded beforehand."""
    import pyarrow.parquet as pq

    from mlops_assets.contracts import CHAMPION_ALIAS
    from mlops_assets.defs.monitoring.predictions import ScoringConfig, scored_chunks
    from mlops_assets.domain.monitoring import ScoringTotals
    from mlops_assets.resources.io_managers import (
        StoredParquetFile,
        StreamedTable,
        write_streamed_table,
    )
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    _preload()
    registry = MlflowRegistry()
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    if champion is None:
        raise RuntimeError("no champion: training failed")
    schema = registry.training_schema(champion.run_id)
    model = registry.load_model(champion.version)
    out = Path(tempfile.mkdtemp(prefix="loop-", dir=data.parent)) / "predictions.parquet"
    started = time.perf_counter()
    scored = scored_chunks(
        StoredParquetFile(data),
        model,
        schema,
        champion.version,
        "bench",
        ScoringTotals(),
        ScoringConfig(),
    )
    rows = write_streamed_table(StreamedTable(scored), out)
    seconds = time.perf_counter() - started
    shutil.rmtree(out.parent)
    expected = pq.ParquetFile(data).metadata.num_rows
    if rows != expected:
        raise RuntimeError(f"the loop wrote {rows} rows of {expected}")
    return {"seconds": [seconds]}


def child_bare(data: Path, mode: str) -> dict:
    """The champion pipeline on the file's rows in memory, one call timed: `predict`,
    `predict_proba`, or `predict_proba` by slices of the asset's chunk size ("chunked").

    Each is the first call of a process of its own, as a run's scoring is: the first pass over
    a million rows also pays for growing the heap (about 0.9 s of a whole-frame call here),
    which a second call in the same process would not."""
    import numpy as np
    import pandas as pd

    from mlops_assets.contracts import CHAMPION_ALIAS, SCHEMA_ARTIFACT
    from mlops_assets.domain.schemas import DatasetSchema
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    _preload()
    rss_before = rss_bytes()
    registry = MlflowRegistry()
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    if champion is None:
        raise RuntimeError("no champion: training failed")
    schema = DatasetSchema.from_json(
        registry.run_artifact(champion.run_id, SCHEMA_ARTIFACT).read_text("utf-8")
    )
    pipeline = registry.load_model(champion.version)
    features = pd.read_parquet(data, columns=schema.feature_columns)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    if mode == "predict":
        pipeline.predict(features)
    elif mode == "predict_proba":
        probabilities = pipeline.predict_proba(features)
    elif mode == "chunked":
        for start in range(0, len(features), ASSET_CHUNK_ROWS):
            pipeline.predict_proba(features.iloc[start : start + ASSET_CHUNK_ROWS])
    else:
        raise ValueError(f"unknown mode {mode!r}")
    out[mode] = [time.perf_counter() - started]
    if mode == "predict_proba":
        argmax = np.asarray(pipeline.classes_)[probabilities.argmax(axis=1)]
        out["argmax_agrees"] = bool(np.array_equal(argmax, pipeline.predict(features)))
    return out | {"peak_rss": peak_rss_bytes(), "rss_before": rss_before}


def _child(args: argparse.Namespace) -> dict:
    home = Path(args.home)
    if args.role == "train":
        return child_train(home)
    if args.role == "ours":
        return child_ours(home, args.arg)
    if args.role == "loop":
        return child_loop(Path(args.arg))
    return child_bare(Path(args.arg), args.mode)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200k and 1M rows")
    parser.add_argument("role", nargs="?", choices=("train", "ours", "loop", "bare"))
    parser.add_argument("home", nargs="?")
    parser.add_argument("arg", nargs="?", help="ours: the partition; loop, bare: the Parquet file")
    parser.add_argument(
        "mode", nargs="?", default="predict", help="bare: predict, predict_proba or chunked"
    )
    parsed = parser.parse_args()
    if parsed.role:
        print(json.dumps(_child(parsed)))
    else:
        print(run(quick=parsed.quick).text)
