"""The embedded MLflow store is created once, under a lock, before anything uses it.

MLflow creates an SQLite store's tables and runs its schema migrations in whichever process
first opens it, without a lock: two first trainings on a fresh store both try, and one fails
with "table trace_info already exists" or "duplicate column name". Each process here first
opens the store while holding an exclusive `flock` on `<database>.lock` beside the database
file, so one process creates the tables and the others wait for it, then find them made.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

_SQLITE = "sqlite:///"
_ready: set[str] = set()
_in_process = threading.Lock()


def sqlite_database(tracking_uri: str) -> Path | None:
    """The database file of an SQLite store URI; None for any other store (a server, another
    database, SQLite in memory)."""
    if not tracking_uri.startswith(_SQLITE):
        return None
    path = tracking_uri.removeprefix(_SQLITE).split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def prepare_store(tracking_uri: str) -> None:
    """Create (or check the schema of) an SQLite MLflow store once per process, under a lock
    shared by every process that opens it. Other stores are left to their server or database."""
    database = sqlite_database(tracking_uri)
    if database is None or tracking_uri in _ready:
        return
    from mlflow import MlflowClient

    with _in_process:
        if tracking_uri in _ready:
            return
        database.parent.mkdir(parents=True, exist_ok=True)
        with database.with_name(f"{database.name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                # Each call opens its store (tracking, then registry): the tables are created
                # and migrated here, or found up to date.
                client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
                client.search_experiments(max_results=1)
                client.search_registered_models(max_results=1)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        _ready.add(tracking_uri)
