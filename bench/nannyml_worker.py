"""Runs inside NannyML's own environment (bench/.data/nannyml-venv, pandas < 3), never in the
project's: bench/nannyml_side.py writes a job (JSON) and two Parquet files, this script runs
NannyML's CBPE or DLE on them and writes the per-day estimates back as Parquet.

    python nannyml_worker.py JOB.json

The job: {"method": "cbpe" | "dle", "reference": path, "analysis": path, "output": path,
"features": [...], "categorical": [...], "y_pred": col, "y_true": col, "proba": {class: col}
(CBPE; two classes: binary CBPE on the second's) or null, "metrics": [...]}. Rows carry a
`day` column (a date): each day is one chunk.
The output has one row per day and metric: day, metric, value, lower, upper, and the job's
seconds to fit and to estimate in its Parquet metadata.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def main(job_path: str) -> None:
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    reference = pd.read_parquet(job["reference"])
    analysis = pd.read_parquet(job["analysis"])
    for frame in (reference, analysis):
        frame["day"] = pd.to_datetime(frame["day"])
        for name in job["categorical"]:
            frame[name] = frame[name].astype("category")
    if job["method"] == "cbpe":
        # Two classes: NannyML's binary CBPE, on the second class's probability.
        binary = len(job["proba"]) == 2
        estimator = nml.CBPE(
            problem_type="classification_binary" if binary else "classification_multiclass",
            y_pred_proba=list(job["proba"].values())[1] if binary else job["proba"],
            y_pred=job["y_pred"],
            y_true=job["y_true"],
            timestamp_column_name="day",
            metrics=job["metrics"],
            chunk_period="D",
        )
    else:
        estimator = nml.DLE(
            feature_column_names=job["features"],
            y_pred=job["y_pred"],
            y_true=job["y_true"],
            timestamp_column_name="day",
            metrics=job["metrics"],
            chunk_period="D",
            tune_hyperparameters=False,
        )
    started = time.perf_counter()
    estimator.fit(reference)
    fitted = time.perf_counter()
    result = estimator.estimate(analysis.drop(columns=[job["y_true"]], errors="ignore"))
    estimated = time.perf_counter()
    table = result.filter(period="analysis").to_df()
    rows = []
    for metric in job["metrics"]:
        rows.append(
            pd.DataFrame(
                {
                    "day": table[("chunk", "start_date")].dt.date.astype(str),
                    "metric": metric,
                    "value": table[(metric, "value")],
                    "lower": table[(metric, "lower_confidence_boundary")],
                    "upper": table[(metric, "upper_confidence_boundary")],
                }
            )
        )
    out = pa.Table.from_pandas(pd.concat(rows, ignore_index=True), preserve_index=False)
    seconds = {"fit_seconds": fitted - started, "estimate_seconds": estimated - fitted}
    out = out.replace_schema_metadata({"seconds": json.dumps(seconds)})
    pq.write_table(out, job["output"])


if __name__ == "__main__":
    main(sys.argv[1])
