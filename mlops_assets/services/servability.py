"""Before a version can take `champion`: can clients still send it what they send today?

Two gate checks, in the spirit of TFX's InfraValidator before its Pusher:
- `input_contract_compatible`: the candidate's MLflow signature accepts every input the
  champion's does (domain.schemas.input_contract);
- `servable`: the candidate scores a sample of the sources' raw rows read as a user reads them
  (`pandas.read_csv` / `read_parquet` of the files, no project reader in between) through
  `mlflow.pyfunc`, and the same rows sent as JSON records through the serving app's own
  parsing and checks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.domain.data import TABLE_SUFFIXES, is_sql_url
from mlops_assets.domain.promotion import GateCheck
from mlops_assets.domain.schemas import DatasetSchema, InputColumn, signature_incompatibilities

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.resources.mlflow_registry import MlflowRegistry

# Raw rows scored per sample: enough to meet every category spelling and missing value a
# column commonly has, few enough to add well under a second to a promotion.
SAMPLE_ROWS = 500


@dataclass(frozen=True)
class RawSample:
    what: str
    """Where the rows come from and how they were read, for the check's detail."""
    frame: pd.DataFrame


def read_raw(path: Path, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The first rows of a CSV or Parquet file as pandas reads it with no options."""
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).head(rows)
    return pd.read_csv(path, nrows=rows)


def raw_samples(training_location: str, scoring_location: str) -> list[RawSample]:
    """Raw rows of the training source and of the newest daily scoring file, where they are
    files (a SQL table or the built-in data has no file a client would read)."""
    samples = []
    for role, location, newest in (
        ("training source", training_location, False),
        ("newest scoring day", scoring_location, True),
    ):
        if not location or is_sql_url(location):
            continue
        path = Path(location).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            if not files:
                continue
            path = files[-1] if newest else files[0]
        if path.is_file():
            reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
            samples.append(RawSample(f"{role} {path} (pandas.{reader})", read_raw(path)))
    return samples


def signature_columns(model: Any) -> list[InputColumn] | None:
    """A pyfunc model's input signature as plain columns (None: it has no signature)."""
    schema = model.metadata.get_input_schema()
    if schema is None:
        return None
    return [
        InputColumn(
            str(spec.name),
            "any" if type(spec.type).__name__ == "AnyType" else spec.type.name,
            spec.required,
        )
        for spec in schema.inputs
    ]


def contract_check(champion: Any | None, candidate: Any) -> GateCheck:
    """`input_contract_compatible`: passed when there is no champion to compare with."""
    name = "input_contract_compatible"
    if champion is None:
        return GateCheck(name, True, "no champion: nothing to stay compatible with")
    held, offered = signature_columns(champion), signature_columns(candidate)
    if held is None or offered is None:
        return GateCheck(name, True, "a model without a signature accepts any columns")
    reasons = signature_incompatibilities(held, offered)
    if reasons:
        return GateCheck(name, False, "; ".join(reasons))
    return GateCheck(name, True, f"accepts every input of the champion ({len(held)} columns)")


def servable_check(
    candidate: Any, pipeline: Any, schema: DatasetSchema, samples: Sequence[RawSample]
) -> GateCheck:
    """`servable`: the candidate scores each sample through `mlflow.pyfunc` as read, and as
    JSON records through the serving app's parsing (`candidate` is the pyfunc model,
    `pipeline` the same model as scikit-learn's pipeline, which the service calls)."""
    from mlops_assets.domain.serving import parse_invocation, prepare_rows
    from mlops_assets.domain.training import predict_frame

    name = "servable"
    if not samples:
        return GateCheck(name, True, "no file source to sample (SQL or built-in data)")
    failures = []
    for sample in samples:
        rows = sample.frame.drop(columns=[schema.target], errors="ignore")
        try:
            candidate.predict(rows)
        except Exception as error:  # any refusal is the finding, whatever its type
            failures.append(f"mlflow.pyfunc refused {sample.what}: {_first_line(error)}")
        records = json.loads(rows.to_json(orient="records", date_format="iso"))
        body = json.dumps({"dataframe_records": records}).encode()
        try:
            text = [c.name for c in schema.columns if c.kind == "categorical"]
            parsed = parse_invocation(body, "application/json", text)
            prepared = prepare_rows(parsed, schema, max_rows=len(parsed))
            predict_frame(pipeline, prepared.features, schema.task)
        except Exception as error:  # as above: the service would answer an error
            failures.append(
                f"the serving app refused {sample.what} as JSON records: {_first_line(error)}"
            )
    if failures:
        return GateCheck(name, False, "; ".join(failures))
    scored = ", ".join(f"{len(s.frame)} rows of {s.what}" for s in samples)
    return GateCheck(name, True, f"scored {scored} through mlflow.pyfunc and the serving app")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def serving_checks(
    registry: MlflowRegistry, model_uri: str, schema: DatasetSchema, samples: Sequence[RawSample]
) -> tuple[GateCheck, GateCheck]:
    """Both checks for the candidate logged at `model_uri`, against today's champion."""
    candidate = registry.load_pyfunc(model_uri)
    held = registry.version_by_alias(CHAMPION_ALIAS)
    champion = (
        None
        if held is None
        else registry.load_pyfunc(f"models:/{registry.model_name}/{held.version}")
    )
    return (
        contract_check(champion, candidate),
        servable_check(candidate, candidate.get_raw_model(), schema, samples),
    )
