"""The Parquet IO manager owns the monitoring assets' files: with a base_dir of its own, every
daily partition is written and read there (batch_predictions streamed in chunks through it),
never under the default MLOPS_HOME/assets."""

import pandas as pd
import pyarrow.parquet as pq

from mlops_assets.contracts import (
    MODEL_VERSION_KEY,
)
from mlops_assets.domain.evaluation import significant
from mlops_assets.domain.verdicts import DriftVerdict
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import ParquetIOManager

DAY = "2026-01-05"


def test_monitoring_assets_store_and_read_their_partitions_under_the_io_managers_base_dir(
    project, tmp_path
):
    from mlops_assets.definitions import defs

    base_dir = tmp_path / "elsewhere"
    data_source = TrainingDataSource(synthetic_rows=1500)
    resources = {
        "data_source": data_source,
        "scoring_source": ScoringDataSource(rows_per_day=700),
        "parquet_io_manager": ParquetIOManager(base_dir=str(base_dir)),
    }
    assert project.train(**resources).success
    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY,
        instance=project.instance,
        resources=project.resources(**resources),
        run_config={
            "ops": {
                "daily_monitoring": {
                    "config": {
                        "batch_predictions": {"chunk_rows": 256},
                        "drift_report": {"evidently_html": False},
                    }
                }
            }
        },
    )
    assert result.success
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    stored = base_dir / "batch_predictions" / f"{DAY}.parquet"
    assert metadata["batch_predictions"]["path"].value == str(stored.resolve())
    assert metadata["scoring_data"]["path"].value == str(
        (base_dir / "scoring_data" / f"{DAY}.parquet").resolve()
    )
    assert not (project.home / "assets" / "scoring_data").exists()
    assert not (project.home / "assets" / "batch_predictions").exists()

    # Streamed in three chunks of at most 256 rows, one file with the model in its footer.
    predictions = pd.read_parquet(stored)
    scored = metadata["batch_predictions"]
    assert scored["dagster/row_count"].value == len(predictions) == 700
    assert predictions["row"].tolist() == list(range(700))
    assert pq.ParquetFile(stored).metadata.num_row_groups == 3
    assert pq.read_schema(stored).metadata[MODEL_VERSION_KEY.encode()] == b"1"
    assert scored["model_version"].value == "1"
    assert scored["mean_score"].value == significant(predictions["__score__"].mean())

    # drift_report read both partitions from there: its verdict names the scoring model.
    verdict = DriftVerdict.from_metadata(pd.Timestamp(DAY).date(), metadata["drift_report"])
    assert verdict.model_version == "1"
    assert verdict.severity in ("none", "warning", "critical")
    assert verdict.performance.n == 700
