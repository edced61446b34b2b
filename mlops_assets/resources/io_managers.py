"""IO managers: DataFrames as Parquet files, everything else pickled per run; both atomic."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.domain.data import atomic_path, write_parquet_atomic
from mlops_assets.resources.project import default_home


def asset_path(asset_key: dg.AssetKey, partition: str | None = None, base_dir: str = "") -> Path:
    """Where a DataFrame asset (or one partition of it) is stored; assets that stream a stored
    partition instead of loading it whole (batch scoring) read it from here."""
    root = Path(base_dir or Path(default_home()) / "assets").resolve()
    path = root.joinpath(*asset_key.path)
    return path / f"{partition}.parquet" if partition else path.with_suffix(".parquet")


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each DataFrame asset (and each partition) as `<base_dir>/<asset>/<partition>.parquet`.

    Writes go to a temp file renamed into place, so a killed run never leaves a partial file
    that a later run would read.
    """

    base_dir: str = ""  # empty: MLOPS_HOME/assets

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        partition = context.asset_partition_key if context.has_asset_partitions else None
        return asset_path(context.asset_key, partition, self.base_dir)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        path = self._path(context)
        write_parquet_atomic(obj, path)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        path = self._path(context)
        if not path.exists():
            raise dg.Failure(
                f"{path}: the stored {context.asset_key.to_user_string()} is missing; "
                "materialise that asset first."
            )
        return pd.read_parquet(path)


class RunScopedPickleIOManager(dg.ConfigurableIOManager):
    """Stores each non-DataFrame output (model refs, evaluation summaries) per run, as
    `<base_dir>/<asset>/<run_id>.pickle`, written atomically.

    Dagster's FilesystemIOManager keeps one file per asset, shared by all runs: two training
    runs at once (a retraining and a manual training) would overwrite each other's
    `trained_model` between one step and the next, and evaluate or register the other run's
    model. Here a step reads what its own run wrote; an asset that is not part of the run is
    read from the run of its latest materialisation.
    """

    base_dir: str = ""  # empty: MLOPS_HOME/run_outputs

    def _root(self) -> Path:
        return Path(self.base_dir or Path(default_home()) / "run_outputs").resolve()

    def _asset_path(self, asset_key: dg.AssetKey, run_id: str) -> Path:
        return self._root().joinpath(*asset_key.path) / f"{run_id}.pickle"

    def _op_path(self, run_id: str, step_key: str, name: str) -> Path:
        return self._root() / "_ops" / run_id / step_key / f"{name}.pickle"

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        import pickle

        if obj is None:
            return
        if context.has_asset_key:
            path = self._asset_path(context.asset_key, context.run_id)
        else:  # an op's output (rollback_champion_job): read only within its run
            path = self._op_path(context.run_id, context.step_key, context.name)
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def load_input(self, context: dg.InputContext) -> object:
        import pickle

        if not context.has_asset_key:
            upstream = context.upstream_output
            assert upstream is not None
            path = self._op_path(upstream.run_id, upstream.step_key, upstream.name)
            return pickle.loads(path.read_bytes())
        asset_key = context.asset_key
        run_id = _producing_run(context)
        if run_id is None:
            raise dg.Failure(
                f"{asset_key.to_user_string()} was never materialised; materialise it first.",
                allow_retries=False,
            )
        path = self._asset_path(asset_key, run_id)
        if not path.exists():
            raise dg.Failure(
                f"{path}: the {asset_key.to_user_string()} of run {run_id} is missing from "
                f"{self._root()}; materialise {asset_key.to_user_string()} again.",
                allow_retries=False,
            )
        # Written by this project's own runs under MLOPS_HOME, never taken from elsewhere.
        return pickle.loads(path.read_bytes())


def _producing_run(context: dg.InputContext) -> str | None:
    """The run whose output this input is: this run (or the parent of a re-execution) when
    the upstream step is in the plan, else the run of the asset's latest materialisation."""
    upstream = context.upstream_output
    # Loaded as an asset from outside the run, the upstream context carries a placeholder id.
    if upstream is not None and context.instance.has_run(upstream.run_id):
        return upstream.run_id
    latest = context.instance.get_latest_materialization_event(context.asset_key)
    return None if latest is None else latest.run_id
