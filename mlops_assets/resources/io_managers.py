"""IO managers: DataFrames as Parquet, everything else pickled; every write atomic.

A `Dataset` (raw_data, validated_data) is its frame as Parquet with a JSON sidecar beside it
(`<run_id>.json`: its source, and the schema it was validated against), loaded back as the type
the input is annotated with. An unpartitioned asset's input from a daily asset is
`DailyPartitions`: the stored days, each read only when the asset asks for it.

A daily partition is one file per day (`<asset>/<day>.parquet`), read by whoever scores or
retrains on that day. Everything else is stored per run (`<asset>/<run_id>.<suffix>`): Dagster's
own FilesystemIOManager keeps one file per asset, so two trainings at once (a retraining and a
manual training) would overwrite each other's `raw_data`, `validated_data` or `trained_model`
between one step and the next, and train, evaluate or register the other run's data or model.
Here a step reads what its own run wrote; an asset that is not part of the run is read from the
run of its latest materialisation.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.domain.data import atomic_path, write_parquet_atomic, write_text_atomic
from mlops_assets.domain.datasets import DailyPartitions, Dataset
from mlops_assets.resources.project import default_home

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

# Beside a `Dataset`'s Parquet file: what the frame cannot hold (its source, its schema).
SIDECAR_SUFFIX = ".json"


def _assets_root(base_dir: str) -> Path:
    return Path(base_dir or Path(default_home()) / "assets").resolve()


def asset_path(asset_key: dg.AssetKey, partition: str, base_dir: str = "") -> Path:
    """Where one daily partition of a DataFrame asset is stored; assets that stream a stored
    partition instead of loading it whole (batch scoring) read it from here."""
    return _assets_root(base_dir).joinpath(*asset_key.path) / f"{partition}.parquet"


class StoredParquetFile:
    """A streaming handle on a stored partition that knows its path (for error messages).

    It holds a `pq.ParquetFile` rather than being one: assets are annotated with this class,
    Dagster resolves those annotations when the code location loads, and the load path imports
    no pyarrow (bench/bench_load.py)."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self._file = pq.ParquetFile(path)

    @property
    def schema_arrow(self) -> pa.Schema:
        return self._file.schema_arrow

    def read(self, columns: list[str] | None = None) -> pa.Table:
        return self._file.read(columns=columns)

    def iter_batches(
        self, batch_size: int, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        return self._file.iter_batches(batch_size=batch_size, columns=columns)


@dataclass(frozen=True)
class StreamedTable:
    """A table handed to ParquetIOManager as an iterable of DataFrame chunks, consumed once and
    written as they come (memory stays one chunk), atomically, with `footer` as the Parquet
    file's key-value metadata. `metadata` is called once every chunk is written: output
    metadata known only then (means, totals)."""

    batches: Iterable[pd.DataFrame]
    footer: Mapping[str, str] = field(default_factory=dict)
    metadata: Callable[[], Mapping[str, Any]] = dict


# Parquet's dictionary encoding pays for columns of few values (versions, labels, categories)
# and is waste on ids and scores: by default pyarrow builds a dictionary of up to 1 MiB per
# column and row group before it falls back to plain. At 4 KiB an id or score column falls
# back after a few hundred values: writing 1M predictions went from 1.0 s to 0.4 s, and the
# file shrank by a fifth (docs/performance.md, "Shadow in batch"); the rows read back the same.
_DICTIONARY_PAGE_BYTES = 4096


def write_streamed_table(table: StreamedTable, path: Path) -> int:
    """Write every batch of `table` to `path` atomically; the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    with atomic_path(path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for chunk in table.batches:
                batch = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    schema = batch.schema.with_metadata(
                        {**(batch.schema.metadata or {}), **table.footer}
                    )
                    writer = pq.ParquetWriter(
                        tmp, schema, dictionary_pagesize_limit=_DICTIONARY_PAGE_BYTES
                    )
                writer.write_table(batch.cast(writer.schema))
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows


def _producing_run(context: dg.InputContext) -> str | None:
    """The run whose output this input is.

    - The upstream step is in this run's plan: this run, or the parent run that a re-execution
      from failure takes the output from.
    - Not in the plan, in a re-execution (the UI's "from asset failure" runs only the failed
      assets): the nearest ancestor run that materialised the asset. Never whatever another
      run wrote since, which would evaluate or register that run's data or model.
    - Otherwise (the asset is simply not selected): the run of its latest materialisation.
    """
    instance = context.instance
    upstream = context.upstream_output
    # Loaded as an asset from outside the plan, the upstream context carries a placeholder id.
    if upstream is not None and instance.has_run(upstream.run_id):
        return upstream.run_id
    try:
        ancestor = context.step_context.dagster_run.parent_run_id
    except dg.DagsterInvariantViolationError:  # an InputContext built outside a run
        ancestor = None
    while ancestor is not None:
        materialised = instance.get_records_for_run(
            ancestor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        if any(r.asset_key == context.asset_key for r in materialised):
            return ancestor
        parent = instance.get_run_by_id(ancestor)
        ancestor = None if parent is None else parent.parent_run_id
    latest = instance.get_latest_materialization_event(context.asset_key)
    return None if latest is None else latest.run_id


def _run_file(root: Path, context: dg.InputContext, suffix: str) -> Path:
    name = context.asset_key.to_user_string()
    run_id = _producing_run(context)
    if run_id is None:
        raise dg.Failure(
            f"{name} was never materialised; materialise it first.", allow_retries=False
        )
    path = root.joinpath(*context.asset_key.path) / f"{run_id}{suffix}"
    if not path.exists():
        raise dg.Failure(
            f"{path}: the {name} of run {run_id} is missing (kept: the latest runs' outputs); "
            f"materialise {name} again.",
            allow_retries=False,
        )
    return path


def _keep_newest(directory: Path, suffix: str, keep: int) -> None:
    """Per-run outputs of one asset beyond the newest `keep` are deleted: storage stays bounded
    while every run in progress (and the last ones, for re-execution) finds its own. Other
    processes prune the same directory at the same time: a file gone meanwhile is skipped."""
    found: list[tuple[float, str]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(suffix) and not entry.name.startswith("."):
                try:
                    found.append((entry.stat().st_mtime, entry.path))
                except FileNotFoundError:
                    continue
    for _, old in sorted(found, reverse=True)[keep:]:
        Path(old).unlink(missing_ok=True)


class ParquetIOManager(dg.ConfigurableIOManager):
    """DataFrame assets as Parquet: `<base_dir>/<asset>/<partition>.parquet` for a daily
    partition, `<base_dir>/<asset>/<run_id>.parquet` otherwise (newest `keep_runs` kept).

    A daily partition is read whole as a DataFrame, or as a streaming `StoredParquetFile` when the
    input is annotated so: batch scoring reads in chunks. An asset too large to hold in memory
    returns a `StreamedTable`, written chunk by chunk.

    Writes go to a temp file renamed into place, so a killed run never leaves a partial file
    that a later run would read.
    """

    base_dir: str = ""  # empty: MLOPS_HOME/assets
    keep_runs: int = 20

    def _root(self) -> Path:
        return _assets_root(self.base_dir)

    def handle_output(
        self, context: dg.OutputContext, obj: pd.DataFrame | Dataset | StreamedTable
    ) -> None:
        if context.has_asset_partitions:
            context.add_output_metadata(
                self.write_partition(context.asset_key, context.asset_partition_key, obj)
            )
            return
        path = self._root().joinpath(*context.asset_key.path) / f"{context.run_id}.parquet"
        context.add_output_metadata(_write(obj, path))
        _keep_newest(path.parent, ".parquet", self.keep_runs)
        _keep_newest(path.parent, SIDECAR_SUFFIX, self.keep_runs)

    def write_partition(
        self, asset_key: dg.AssetKey, partition: str, obj: pd.DataFrame | Dataset | StreamedTable
    ) -> dict[str, Any]:
        """Store one daily partition, as handle_output does; the metadata to record with it.
        The daily monitoring step stores each day of its range through this (Dagster hands an
        IO manager a range's output as one object, and a range's days succeed or fail apart)."""
        return _write(obj, asset_path(asset_key, partition, self.base_dir))

    def load_partition(
        self, asset_key: dg.AssetKey, partition: str, wanted: object = None
    ) -> pd.DataFrame | StoredParquetFile:
        """One stored daily partition as `wanted` asks: a streaming `StoredParquetFile`, else a
        DataFrame. A Failure saying what to do when it is not stored."""
        import pandas as pd

        path = asset_path(asset_key, partition, self.base_dir)
        if not path.exists():
            raise dg.Failure(
                f"{path}: the stored {asset_key.to_user_string()} is missing; "
                "materialise that asset first.",
                allow_retries=False,
            )
        if isinstance(wanted, type) and issubclass(wanted, StoredParquetFile):
            return StoredParquetFile(path)
        return pd.read_parquet(path)

    def is_stored(self, asset_key: dg.AssetKey, partition: str) -> bool:
        return asset_path(asset_key, partition, self.base_dir).exists()

    def load_input(
        self, context: dg.InputContext
    ) -> pd.DataFrame | Dataset | DailyPartitions | StoredParquetFile:
        if not context.has_asset_partitions:
            return _frame_or_dataset(context, _run_file(self._root(), context, ".parquet"))
        if _annotation(context) is DailyPartitions:
            return self._stored_partitions(context)
        return self.load_partition(
            context.asset_key, context.asset_partition_key, _annotation(context)
        )

    def _stored_partitions(self, context: dg.InputContext) -> DailyPartitions:
        """The input's partitions that are stored, each read only when the asset asks for it
        (an unpartitioned asset's input spans every day of a daily asset)."""
        import pandas as pd

        paths = {
            key: asset_path(context.asset_key, key, self.base_dir)
            for key in context.asset_partition_keys
        }
        return DailyPartitions(
            {
                key: functools.partial(pd.read_parquet, path)
                for key, path in paths.items()
                if path.exists()
            }
        )

    def stored_daily_partitions(self, asset_key: dg.AssetKey) -> DailyPartitions:
        """Every stored daily partition of `asset_key`, each read only when asked for: for an
        asset that cannot be a declared input (it would close a cycle in the asset graph)."""
        import pandas as pd

        directory = self._root().joinpath(*asset_key.path)
        paths = sorted(directory.glob("????-??-??.parquet")) if directory.is_dir() else []
        return DailyPartitions(
            {path.stem: functools.partial(pd.read_parquet, path) for path in paths}
        )


def _write(obj: pd.DataFrame | Dataset | StreamedTable, path: Path) -> dict[str, Any]:
    """Write `obj` atomically at `path`; the output metadata to record with it."""
    metadata: dict[str, Any] = {}
    if isinstance(obj, StreamedTable):
        rows = write_streamed_table(obj, path)
        metadata.update({"dagster/row_count": rows, **obj.metadata()})
    elif isinstance(obj, Dataset):
        # The sidecar first: a reader that finds the Parquet file finds its sidecar too.
        write_text_atomic(obj.sidecar_json(), path.with_suffix(SIDECAR_SUFFIX))
        write_parquet_atomic(obj.frame, path)
    else:
        write_parquet_atomic(obj, path)
    metadata["path"] = dg.MetadataValue.path(str(path))
    return metadata


def _annotation(context: dg.InputContext) -> object:
    return context.dagster_type.typing_type


def _frame_or_dataset(context: dg.InputContext, path: Path) -> pd.DataFrame | Dataset:
    """The type the input asks for: a DataFrame, or the `Dataset` written with its sidecar (an
    unannotated input gets whichever was written)."""
    import pandas as pd

    frame = pd.read_parquet(path)
    wanted = _annotation(context)
    if wanted is pd.DataFrame:
        return frame
    dataset_type = wanted if isinstance(wanted, type) and issubclass(wanted, Dataset) else None
    sidecar = path.with_suffix(SIDECAR_SUFFIX)
    if not sidecar.exists():
        if dataset_type is not None:
            raise dg.Failure(
                f"{sidecar}: the sidecar of {path.name} is missing (written by an older "
                f"version, or deleted); materialise {context.asset_key.to_user_string()} "
                "again.",
                allow_retries=False,
            )
        return frame
    dataset = Dataset.from_sidecar(frame, sidecar.read_text(encoding="utf-8"))
    if dataset_type is not None and not isinstance(dataset, dataset_type):
        raise dg.Failure(
            f"{sidecar}: holds a {type(dataset).__name__}, and the input asks for a "
            f"{dataset_type.__name__}.",
            allow_retries=False,
        )
    return dataset


# Modules whose classes an earlier release pickled, and where those classes live now: an
# instance's stored run outputs stay readable after the package was laid out in slices.
MOVED_MODULES = {"mlops_assets.assets.registry": "mlops_assets.defs.champion.registry"}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED_MODULES.get(module, module), name)


def load_pickled_output(data: bytes) -> object:
    """A stored run output, its classes looked up where they live now (MOVED_MODULES)."""
    return _Unpickler(io.BytesIO(data)).load()


class RunScopedPickleIOManager(dg.ConfigurableIOManager):
    """Every other output (model refs, evaluation summaries) pickled per run:
    `<base_dir>/<asset>/<run_id>.pickle` (newest `keep_runs` kept), written atomically; an op's
    output (rollback_champion_job) under `<base_dir>/_ops/<run_id>/`.

    Only this project's runs write below MLOPS_HOME, which nobody else may write to: a pickle
    runs code when it is loaded.
    """

    base_dir: str = ""  # empty: MLOPS_HOME/run_outputs
    keep_runs: int = 50

    def _root(self) -> Path:
        return Path(self.base_dir or Path(default_home()) / "run_outputs").resolve()

    def _op_path(self, run_id: str, step_key: str, name: str) -> Path:
        return self._root() / "_ops" / run_id / step_key / f"{name}.pickle"

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is None:
            return
        if context.has_asset_key:
            path = self._root().joinpath(*context.asset_key.path) / f"{context.run_id}.pickle"
        else:
            path = self._op_path(context.run_id, context.step_key, context.name)
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        if context.has_asset_key:
            _keep_newest(path.parent, ".pickle", self.keep_runs)

    def load_input(self, context: dg.InputContext) -> object:
        if context.has_asset_key:
            path = _run_file(self._root(), context, ".pickle")
        else:
            upstream = context.upstream_output
            assert upstream is not None
            path = self._op_path(upstream.run_id, upstream.step_key, upstream.name)
        return load_pickled_output(path.read_bytes())
