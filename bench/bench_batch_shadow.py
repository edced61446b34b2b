"""Shadow in batch: what scoring the challenger beside the champion costs a day.

`batch_predictions`' own read / score / write loop (`scored_chunks` into `write_streamed_table`,
the asset's chunk size and threads) over the same generated file (bench/.data, shared with
bench_batch_prediction.py), with and without a challenger, in turns, round after round, in one
process (so a change in the machine's load falls on both alike). The challenger is a second
copy of the champion's pipeline: a challenger of the same model class costs what it does. A
model is trained once by the real `training_job` in a temp MLOPS_HOME; loading is not timed.

    python bench/bench_batch_shadow.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench_batch_prediction import scoring_file
from common import Section, fmt, interleaved, median, project_env, run_training_job


def run(quick: bool) -> Section:
    from mlops_assets.contracts import CHAMPION_ALIAS
    from mlops_assets.defs.monitoring.predictions import ScoringConfig, scored_chunks
    from mlops_assets.domain.monitoring import ScoringTotals, ShadowModel
    from mlops_assets.resources.io_managers import (
        StoredParquetFile,
        StreamedTable,
        write_streamed_table,
    )
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    rows, repeats = (200_000, 3) if quick else (1_000_000, 5)
    data = scoring_file(rows)
    home = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    try:
        run_training_job(home)
        with project_env(home):
            registry = MlflowRegistry()
            champion = registry.version_by_alias(CHAMPION_ALIAS)
            assert champion is not None, "training_job made no champion"
            schema = registry.training_schema(champion.run_id)
            model = registry.load_model(champion.version)
            second = registry.load_model(champion.version)
        shadow = ShadowModel(second, "shadow", tuple(schema.feature_columns))
        out = home / "predictions.parquet"

        def day(challenger: ShadowModel | None) -> None:
            scored = scored_chunks(
                StoredParquetFile(data),
                model,
                schema,
                champion.version,
                "bench",
                ScoringTotals(),
                ScoringConfig(),
                challenger,
            )
            written = write_streamed_table(StreamedTable(scored), out)
            assert written == rows, f"wrote {written} of {rows} rows"

        seconds = interleaved(
            {"champion alone": lambda: day(None), "with the challenger": lambda: day(shadow)},
            repeats,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    alone, paired = seconds["champion alone"], seconds["with the challenger"]
    ratio = median(alone) / median(paired)
    text = "\n".join(
        [
            "## Shadow in batch (batch_predictions with a challenger)",
            "",
            f"{rows:,} rows, {repeats} rounds in turns; seconds min / median / max.",
            "",
            "| loop | seconds | throughput vs the champion alone |",
            "|---|---|---|",
            f"| champion alone | {fmt(alone)} | 1.00x |",
            f"| with the challenger in shadow | {fmt(paired)} | **{ratio:.2f}x** |",
            "",
        ]
    )
    return Section(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(run(parser.parse_args().quick).text)
