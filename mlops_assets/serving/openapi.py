"""What `/docs` and `/openapi.json` say about the scoring endpoints' bodies.

The endpoints read their bodies themselves (one parser for JSON, CSV and Parquet, with limits
and deadlines), so FastAPI cannot infer the bodies: they are declared here, with an example.
"""

from __future__ import annotations

from typing import Any

_ROW = {
    "application_id": 9501000000,
    "age": 50,
    "income": 38100,
    "loan_amount": 11400,
    "loan_term_months": 12,
    "credit_score": 698,
    "debt_to_income": 0.346,
    "num_open_accounts": 4,
    "num_late_payments": 1,
    "years_employed": 1.6,
    "utilization": 0.221,
    "home_ownership": "rent",
    "purpose": "car",
    "employment_type": "salaried",
    "region": "west",
    "education": "high_school",
}

_TABLE = {
    "oneOf": [
        {
            "title": "dataframe_split",
            "type": "object",
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array"}},
                    },
                }
            },
        },
        {
            "title": "dataframe_records",
            "type": "object",
            "required": ["dataframe_records"],
            "properties": {"dataframe_records": {"type": "array", "items": {"type": "object"}}},
        },
        {
            "title": "records (/predict only)",
            "type": "array",
            "items": {"type": "object"},
        },
    ]
}

SCORING_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _TABLE,
                "example": {"dataframe_records": [_ROW]},
            },
            "text/csv": {"schema": {"type": "string"}, "example": "age,income\n50,38100\n"},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {
        "400": {"description": "the body is not what its content type says (reason in message)"},
        "401": {"description": "no API key, or the wrong one"},
        "408": {"description": "the body did not arrive within MLOPS_SERVE_BODY_SECONDS"},
        "413": {"description": "over MLOPS_SERVE_MAX_BODY_BYTES or MLOPS_SERVE_MAX_ROWS"},
        "415": {"description": "another content type or charset"},
        "422": {"description": "the rows break the model's schema; `columns` names them"},
        "503": {"description": "no champion loaded yet, or MLOPS_SERVE_MAX_IN_FLIGHT reached"},
    },
}


def security_schemes() -> dict[str, Any]:
    """The ways to send the key (so `/docs`' Authorize button offers them)."""
    return {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "basic": {"type": "http", "scheme": "basic", "description": "any user name, the key"},
    }
