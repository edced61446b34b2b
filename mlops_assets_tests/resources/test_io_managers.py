"""The Parquet IO manager owns the layout: typed datasets stored as Parquet plus a JSON sidecar
and loaded back as the type the input asks for, and a partitioned upstream handed to an
unpartitioned asset as its stored days, read lazily, below whatever base_dir is configured."""

import json
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.domain.data import write_parquet_atomic
from mlops_assets.domain.datasets import DailyPartitions, Dataset, ValidatedDataset
from mlops_assets.domain.schemas import infer_schema
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.io_managers import ParquetIOManager, asset_path

FRAME = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "target": [0, 1, 0, 1]})


@dg.asset(io_manager_key="parquet_io_manager")
def validated() -> ValidatedDataset:
    schema = infer_schema(FRAME, target="target")
    return ValidatedDataset(FRAME, "/data/t.csv", schema=schema, schema_version="v1-abc")


@dg.asset
def schema_version(validated: ValidatedDataset) -> str:
    return f"{validated.schema_version} {validated.schema.target} {len(validated.frame)}"


@dg.asset
def row_count(validated: pd.DataFrame) -> int:
    return len(validated)


def _materialize(assets, base_dir, instance, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        selection=selection,
        instance=instance,
        resources={"parquet_io_manager": ParquetIOManager(base_dir=str(base_dir))},
    )


def test_a_validated_dataset_is_stored_as_parquet_and_a_sidecar_and_loads_as_asked(
    project, tmp_path
):
    base_dir = tmp_path / "stored"
    result = _materialize([validated, schema_version, row_count], base_dir, project.instance)
    assert result.output_for_node("schema_version") == "v1-abc target 4"
    assert result.output_for_node("row_count") == 4

    stored = base_dir / "validated" / f"{result.run_id}.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(stored), FRAME)
    sidecar = json.loads(stored.with_suffix(".json").read_text(encoding="utf-8"))
    assert (sidecar["source"], sidecar["schema_version"]) == ("/data/t.csv", "v1-abc")
    assert sidecar["schema"]["target"] == "target"


def test_a_dataset_whose_sidecar_is_gone_fails_naming_the_file(project, tmp_path):
    base_dir = tmp_path / "stored"
    first = _materialize([validated, schema_version], base_dir, project.instance)
    sidecar = base_dir / "validated" / f"{first.run_id}.json"
    sidecar.unlink()
    with pytest.raises(dg.Failure, match=r"the sidecar of .* is missing") as raised:
        _materialize(
            [validated, schema_version], base_dir, project.instance, selection=["schema_version"]
        )
    assert str(sidecar) in raised.value.description


def test_the_retraining_window_reads_scoring_data_below_the_configured_base_dir(project, tmp_path):
    from mlops_assets.definitions import defs

    base_dir = tmp_path / "elsewhere"
    scoring = dg.AssetKey("scoring_data")
    start = date(2026, 3, 1)
    for i in range(3):
        day = (start + timedelta(days=i)).isoformat()
        write_parquet_atomic(
            FRAME.assign(x=FRAME["x"] + i), asset_path(scoring, day, str(base_dir))
        )
    # Where the default layout would look: a decoy that must not be read.
    write_parquet_atomic(FRAME.head(1), asset_path(scoring, "2026-03-04"))

    result = dg.materialize(
        [defs.get_assets_def("raw_data"), defs.get_assets_def("scoring_data")],
        selection=["raw_data"],
        instance=project.instance,
        resources=project.resources(
            data_source=TrainingDataSource(location="unused.csv", target_column="target"),
            parquet_io_manager=ParquetIOManager(base_dir=str(base_dir)),
        ),
        run_config={
            "ops": {
                "raw_data": {"config": {"window_start": "2026-03-02", "window_end": "2026-03-05"}}
            }
        },
    )
    raw = result.output_for_node("raw_data")
    assert type(raw) is Dataset
    assert raw.source == "labelled scoring_data partitions 2026-03-02..2026-03-03 (2 days)"
    assert raw.frame["x"].tolist() == [2.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0, 6.0]
    assert (base_dir / "raw_data" / f"{result.run_id}.json").exists()


def test_an_unpartitioned_input_gets_only_the_stored_days_unread(project, tmp_path):
    daily = dg.DailyPartitionsDefinition(start_date="2026-03-01", end_date="2026-03-06")

    @dg.asset(partitions_def=daily, io_manager_key="parquet_io_manager")
    def days(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return FRAME.assign(day=context.partition_key)

    @dg.asset
    def stored_days(days: DailyPartitions) -> list[str]:
        return list(days)

    base_dir = tmp_path / "stored"
    for day in ("2026-03-02", "2026-03-04"):
        dg.materialize(
            [days],
            partition_key=day,
            instance=project.instance,
            resources={"parquet_io_manager": ParquetIOManager(base_dir=str(base_dir))},
        )
    result = _materialize([days, stored_days], base_dir, project.instance, ["stored_days"])
    assert result.output_for_node("stored_days") == ["2026-03-02", "2026-03-04"]


def test_newly_scored_days_do_not_make_raw_data_stale(project):
    """The window edge maps every scoring_data day into raw_data: Dagster must not judge a
    training snapshot stale each time a day is scored (the UI would flag it daily)."""
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from mlops_assets.definitions import defs

    result = dg.materialize(
        [defs.get_assets_def("raw_data"), defs.get_assets_def("scoring_data")],
        selection=["raw_data"],
        instance=project.instance,
        resources=project.resources(data_source=TrainingDataSource(synthetic_rows=200)),
    )
    assert result.success
    partition = defs.get_assets_def("scoring_data").partitions_def.get_last_partition_key()
    project.instance.report_runless_asset_event(
        dg.AssetMaterialization("scoring_data", partition=partition)
    )
    resolver = CachingStaleStatusResolver(
        project.instance,
        defs.resolve_asset_graph(),
        loading_context=LoadingContextForTest(project.instance),
    )
    assert resolver.get_status(dg.AssetKey("raw_data")) == StaleStatus.FRESH


def test_a_streamed_table_reads_back_whole_whichever_columns_its_dictionaries_gave_up_on(
    tmp_path,
):
    """Unique ids and scores overflow the writer's small dictionary within each row group
    and go on plain; versions and labels stay dictionary-encoded: every row reads back."""
    import numpy as np
    import pyarrow.parquet as pq

    from mlops_assets.resources.io_managers import StreamedTable, write_streamed_table

    rng = np.random.default_rng(0)
    chunks = [
        pd.DataFrame(
            {
                "id": np.arange(start, start + 5000),
                "score": rng.random(5000),
                "prediction": rng.integers(0, 2, 5000),
                "model_version": "3",
            }
        )
        for start in (0, 5000)
    ]
    path = tmp_path / "day.parquet"
    written = write_streamed_table(StreamedTable(iter(chunks), footer={"model": "m"}), path)
    assert written == 10_000
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.concat(chunks, ignore_index=True))
    assert pq.ParquetFile(path).schema_arrow.metadata[b"model"] == b"m"
