"""IO managers: DataFrames as Parquet files (atomic), everything else pickled by Dagster's own."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.domain.data import write_parquet_atomic
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
