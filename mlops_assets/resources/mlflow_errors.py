"""How the project reads MLflow's errors: an outage (retry the step), "not found" (no such
model or alias), or anything else (a store error: fail, naming the store and what to do); and
the bounds on MLflow's own HTTP retries for the project's client."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from urllib.parse import urlparse

# MLflow error codes that mean "try again later", not "this request is wrong".
_TRANSIENT_ERROR_CODES = {"TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED"}
_ALIAS_NOT_FOUND = re.compile(r"alias \S+ not found", re.IGNORECASE)


class MlflowStoreError(RuntimeError):
    """The MLflow store answered with an error that is neither "not found" nor an outage: a
    database schema behind this MLflow, a corrupt store, a refused request. Retrying does not
    help; the message names the store and what to do."""


# MLflow's client retries every HTTP call itself, by default 7 times with a backoff factor of
# 2 and a 120 s timeout: about 4 minutes per call against a server that refuses connections,
# before the step's own retries (mlflow_retry_policy) even start. This project's client keeps
# its own retries short and lets Dagster's policy wait for a server to come back; a value the
# user set in the environment is kept.
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def bound_http_retries(environ: MutableMapping[str, str]) -> None:
    """Set MLflow's HTTP retry settings (HTTP_RETRY_DEFAULTS) where `environ` has none. MLflow
    reads them from the environment at each request, so this is the only way to bound them
    for a client; what the user set explicitly wins."""
    for name, value in HTTP_RETRY_DEFAULTS.items():
        environ.setdefault(name, value)


def mlflow_not_found(error: BaseException) -> bool:
    """Whether an MlflowException says the registered model, or the alias asked for, does not
    exist: the one answer that means "no such version", whatever the store (SQL or REST).
    MLflow's SQL store reports a missing alias as INVALID_PARAMETER_VALUE "Registered model
    alias <alias> not found.", a missing model as RESOURCE_DOES_NOT_EXIST."""
    code = str(getattr(error, "error_code", ""))
    if code == "RESOURCE_DOES_NOT_EXIST":
        return True
    return code == "INVALID_PARAMETER_VALUE" and bool(_ALIAS_NOT_FOUND.search(str(error)))


def store_error_message(uri: str, what: str, error: BaseException) -> str:
    """What a person reads when the store failed to answer a read of `what`: which store, the
    error, and what to do (for a schema behind this MLflow: `mlflow db upgrade`)."""
    text = " ".join(str(error).split())
    if "out-of-date database schema" in text:
        action = (
            f"The store's database schema is behind this MLflow: back the database up, then run "
            f"`mlflow db upgrade {redacted_uri(uri)}` (with the tracking server stopped)."
        )
    else:
        action = (
            "Check the store (its database and the tracking server's log) and re-execute the "
            "run from this step once it answers."
        )
    return (
        f"MLflow store {redacted_uri(uri)} failed to read the {what} ({type(error).__name__}: "
        f"{text}). This is not read as 'no version': nothing was decided or stored from it. "
        f"{action}"
    )


def redacted_uri(uri: str) -> str:
    """A tracking URI with any password hidden."""
    parsed = urlparse(uri)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return uri


def mlflow_unavailable(error: BaseException) -> bool:
    """Whether `error` (or an exception it wraps) says the tracking server or its database is
    unreachable, slow or overloaded: worth retrying, unlike a wrong request."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            ConnectionError | TimeoutError | requests.ConnectionError | requests.Timeout,
        ):
            return True
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(current, requests.HTTPError) and status and (status >= 500 or status == 429):
            return True
        if type(current).__name__ in ("MlflowException", "RestException"):
            message = str(current)
            code = str(getattr(current, "error_code", ""))
            if code in _TRANSIENT_ERROR_CODES:
                return True
            if message.startswith("API request to") and (
                "failed with exception" in message
                or "failed with timeout exception" in message
                or re.search(r"failed with error code 5\d\d", message)
            ):
                return True
        current = current.__cause__ or current.__context__
    return False
