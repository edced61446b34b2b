"""Online scoring, the parts that need no server: request bodies parsed into rows, the rows
checked against the champion's schema contract and typed as training typed them, the answers in
MLflow's scoring-server shape. Pure: no Dagster, MLflow or HTTP.

mlops_assets/serving calls these from its FastAPI app; a unit test reaches them with bytes.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    check_scoring_frame,
    conform_to_contract,
)
from mlops_assets.domain.serving_quality import DataQuality, cell_problems, parse_int

# MLflow's scoring-server content types (mlflow.pyfunc.scoring_server), the same answers.
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPE_PARQUET = "application/vnd.apache.parquet"
# The JSON keys of MLflow's pandas protocol; its tensor keys (`instances`, `inputs`) are for
# models without a table signature, which this package never trains.
DATAFRAME_FORMATS = ("dataframe_split", "dataframe_records")


class RequestError(ValueError):
    """A request the service refuses, with the HTTP status and the columns it is about."""

    def __init__(
        self, status: int, error_code: str, message: str, columns: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.columns = tuple(columns)

    def to_json(self) -> dict[str, Any]:
        """The body MLflow's server gives an error (`error_code`, `message`), with the columns."""
        body: dict[str, Any] = {"error_code": self.error_code, "message": str(self)}
        if self.columns:
            body["columns"] = list(self.columns)
        return body


def _bad_request(message: str) -> RequestError:
    return RequestError(400, "BAD_REQUEST", message)


def parse_invocation(
    body: bytes, content_type: str, text_columns: Sequence[str], records_list: bool = False
) -> pd.DataFrame:
    """The rows of an MLflow `/invocations` body: JSON `dataframe_split` or `dataframe_records`,
    CSV (a header line, then rows), or Parquet. With `records_list` (`/predict`), a bare JSON
    list of records is taken too, and a body with no content type is read as JSON.

    `text_columns` are read from CSV as text, so a category coded `01` stays `01`.

    Raises:
        RequestError: 415 for another content type or charset, 400 for a body that is not
            what its content type says.
    """
    mime, _, parameters = content_type.partition(";")
    mime = mime.strip().lower()
    charset = parameters.strip().lower().removeprefix("charset=").strip('"') or "utf-8"
    if parameters.strip() and not parameters.strip().lower().startswith("charset="):
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", f"unknown parameter in {content_type!r}")
    if charset not in ("utf-8", "utf8"):
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", "the service reads UTF-8 only")
    if mime == CONTENT_TYPE_JSON or (records_list and not mime):
        payload = _json(body)
        if records_list and isinstance(payload, list):
            return _frame_from_records(payload, 'send a JSON list of records, e.g. [{"age": 41}]')
        return _frame_from_json(payload)
    if mime == CONTENT_TYPE_CSV:
        try:
            return pd.read_csv(io.BytesIO(body), dtype=dict.fromkeys(text_columns, "str"))
        except (ValueError, UnicodeDecodeError, OverflowError) as error:
            raise _bad_request(f"the body is not CSV with a header line: {error}") from error
    if mime == CONTENT_TYPE_PARQUET:
        try:
            return pd.read_parquet(io.BytesIO(body))
        except Exception as error:  # pyarrow raises its own types for a broken file
            raise _bad_request(f"the body is not a Parquet file: {error}") from error
    raise RequestError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        f"content type {content_type or 'none'!r}: send {CONTENT_TYPE_JSON}, {CONTENT_TYPE_CSV} "
        f"or {CONTENT_TYPE_PARQUET}",
    )


def parse_records(body: bytes) -> pd.DataFrame:
    """The rows of a bare JSON list of objects, one per row."""
    return parse_invocation(body, CONTENT_TYPE_JSON, (), records_list=True)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_int=parse_int)
    except RecursionError:
        raise _bad_request(
            "the body nests JSON arrays or objects too deep: send a table (rows of values)"
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise _bad_request(f"the body is not valid JSON: {error}") from error


def _frame_from_records(data: Any, message: str) -> pd.DataFrame:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise _bad_request(message)
    return pd.DataFrame.from_records(data)


def _frame_from_json(payload: Any) -> pd.DataFrame:
    keys = [k for k in DATAFRAME_FORMATS if isinstance(payload, dict) and k in payload]
    if len(keys) != 1:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise _bad_request(
            f"send a JSON object with exactly one of {', '.join(DATAFRAME_FORMATS)} "
            f"(MLflow's scoring protocol); got {found}"
        )
    data = payload[keys[0]]
    if keys[0] == "dataframe_records":
        return _frame_from_records(data, "dataframe_records must be a list of objects, one per row")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise _bad_request('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
    columns = data.get("columns")
    if columns is not None and not (
        isinstance(columns, list) and all(isinstance(c, str) for c in columns)
    ):
        raise _bad_request("dataframe_split's columns must be a list of column names (text)")
    try:
        return pd.DataFrame(data["data"], columns=columns)
    except (ValueError, TypeError) as error:
        raise _bad_request(f"dataframe_split does not make a table: {error}") from error


@dataclass(frozen=True)
class PreparedRows:
    """A request's rows as the model takes them, and what the request log keeps of them."""

    features: pd.DataFrame
    """The schema's feature columns, numeric ones as float64, in the pipeline's order."""
    ids: pd.DataFrame
    """The schema's id columns (empty where the request had none), for labels joined later."""
    extra_columns: tuple[str, ...]


def prepare_rows(frame: pd.DataFrame, schema: DatasetSchema, max_rows: int) -> PreparedRows:
    """Check a request's rows against the model's schema contract and type them.

    A cell holding more than one value is a 400 naming its row and column
    (`serving_quality.cell_problems`).
    Missing or retyped feature columns, numbers among text categories, and infinities, are a
    422 naming the columns; unseen categories and nulls are scored (the encoder ignores an
    unseen category, the model imputes a null) and extra columns ignored, all three flagged by
    `serving_quality.assess_rows`. Numeric
    features become float64 (JSON has ints and floats, the model takes either; the request log
    keeps one type per column).
    """
    if frame.empty:
        raise _bad_request("the request holds no rows")
    if len(frame) > max_rows:
        raise RequestError(
            413, "REQUEST_TOO_LARGE", f"{len(frame)} rows: at most {max_rows} per request"
        )
    problem = cell_problems(frame, [*schema.feature_columns, *schema.id_columns])
    if problem:
        raise _bad_request(problem)
    try:
        extra = check_scoring_frame(frame, schema, "request")
    except DataValidationError as error:
        cases = error.failure_cases
        columns = sorted(set(cases["column"].astype(str)))
        problems = "; ".join(
            f"{row.column}: {_problem(str(row.check))}" for row in cases.itertuples()
        )
        raise RequestError(
            422,
            "INVALID_PARAMETER_VALUE",
            f"the rows do not meet the model's schema ({problems}); send the columns it was "
            "trained on with their types",
            columns,
        ) from error
    mixed = [
        name
        for name in schema.categorical_features
        if frame[name].dtype == object
        and pd.api.types.infer_dtype(frame[name], skipna=True) not in ("string", "empty", "boolean")
    ]
    if mixed:
        raise RequestError(
            422,
            "INVALID_PARAMETER_VALUE",
            f"numbers among the text categories of {', '.join(mixed)}: send each category as text",
            mixed,
        )
    numeric = frame[schema.numeric_features]
    try:  # one conversion for the block: what a request costs is mostly per-column overhead
        block = numeric.astype("float64")
    except (TypeError, ValueError):  # numbers as text, e.g. "41" from a form
        block = numeric.apply(pd.to_numeric, errors="coerce").astype("float64")
    infinite = [str(c) for c in block.columns[np.isinf(block.to_numpy()).any(axis=0)]]
    if infinite:
        raise RequestError(
            422,
            "INVALID_PARAMETER_VALUE",
            f"infinite values in {', '.join(infinite)}: no imputation or scaling is defined",
            infinite,
        )
    try:  # JSON "true" for a boolean column, 3 for a category "3": the contract's types
        categorical = conform_to_contract(frame[schema.categorical_features], schema, "request")
    except DataValidationError as error:
        raise RequestError(
            422,
            "INVALID_PARAMETER_VALUE",
            str(error),
            sorted(set(error.failure_cases["column"].astype(str))),
        ) from error
    features = pd.concat([block, categorical], axis=1)
    ids = pd.DataFrame(
        {name: frame[name] if name in frame.columns else None for name in schema.id_columns},
        index=frame.index,
    )
    return PreparedRows(features=features, ids=ids, extra_columns=tuple(extra))


def _problem(check: str) -> str:
    if check == "column_in_dataframe":
        return "missing"
    return check.removeprefix("dtype: ")


def jsonable(values: np.ndarray) -> list[Any]:
    """Numbers and labels as JSON values (numpy scalars made plain, NaN as null)."""
    return [
        None if isinstance(v, float) and math.isnan(v) else v for v in np.asarray(values).tolist()
    ]


def invocation_answer(y_pred: np.ndarray) -> dict[str, Any]:
    """MLflow's `/invocations` answer for a scikit-learn model: its `predict` output."""
    return {"predictions": jsonable(y_pred)}


def predict_answer(
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: tuple[Any, ...] | None,
    model_name: str,
    model_version: str,
    quality: DataQuality,
) -> dict[str, Any]:
    """`/predict`'s answer: per row the label and its class probabilities (a regressor: the
    predicted value) and its `warnings` (unseen category, null, extra column: scored, but worth
    a look), with the model version that scored them and the request's `data_quality`."""
    labels = jsonable(y_pred)
    if proba is None or classes is None:
        rows: list[dict[str, Any]] = [{"prediction": value} for value in labels]
    else:
        names = [str(c) for c in jsonable(np.asarray(classes))]
        rows = [
            {"label": label, "probabilities": dict(zip(names, p, strict=True))}
            for label, p in zip(labels, proba.tolist(), strict=True)
        ]
    for row, warnings in zip(rows, quality.row_warnings(), strict=True):
        row["warnings"] = warnings
    return {
        "model_name": model_name,
        "model_version": model_version,
        "predictions": rows,
        "data_quality": quality.summary(),
    }


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_bind(host: str, api_key: str) -> None:
    """Without an API key the service answers anyone who reaches it: it binds to loopback only.

    Raises:
        ValueError: a non-loopback host without MLOPS_SERVE_API_KEY.
    """
    if not api_key and host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise ValueError(
            f"MLOPS_SERVE_HOST={host} with no MLOPS_SERVE_API_KEY: the service would score for "
            "anyone on the network. Set MLOPS_SERVE_API_KEY (a secret, from the environment "
            "only) or bind to 127.0.0.1."
        )
