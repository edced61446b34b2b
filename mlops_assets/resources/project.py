"""Where the project keeps its artefacts (MLOPS_HOME): snapshots, schemas, quarantine, reports."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from mlops_assets.home import default_home as default_home


class LockTimeout(TimeoutError):
    """Another process held a project lock for longer than the caller would wait."""


class ProjectStorage(dg.ConfigurableResource):
    """The project's artefact directory. Every file the pipeline writes lives below `home`."""

    home: str = ""  # empty: MLOPS_HOME, else ./.mlops

    @property
    def root(self) -> Path:
        return Path(self.home or default_home()).expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """An absolute path below the home; its parent directory exists. Raises
        PathEscapeError, creating nothing, when the parts would leave the home."""
        from mlops_assets.domain.data.paths import path_under

        path = path_under(self.root, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def lock(self, name: str, timeout: float = 600.0) -> Iterator[None]:
        """An exclusive lock shared by every process using this home (runs, containers on one
        volume): `flock` on `locks/<name>.lock`, released by the kernel if the holder dies.

        Raises LockTimeout after `timeout` seconds of waiting.
        """
        path = self.path("locks", f"{name}.lock")
        deadline = time.monotonic() + timeout
        with path.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"{path}: held by another process for over {timeout:.0f} s"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
