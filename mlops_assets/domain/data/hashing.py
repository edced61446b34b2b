"""Content hashes: of a frame (the Dagster data version) and of a directory (a model's files)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def content_hash(df: pd.DataFrame) -> str:
    """Order-sensitive SHA-256 of a frame's column names, dtypes and values.

    Used as the Dagster data version: the same content gives the same hash on any machine, so
    an unchanged source leaves downstream assets fresh.
    """
    import pandas as pd

    digest = hashlib.sha256()
    for name, dtype in df.dtypes.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def directory_sha256(directory: Path, ignore: tuple[str, ...] = ()) -> str:
    """SHA-256 over every file below `directory`: relative path, size and content, in path order.

    Any added, removed, renamed or changed file changes the digest, except files named in
    `ignore` (bookkeeping a tool rewrites on its own).
    """
    digest = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name not in ignore)
    for path in files:
        relative = path.relative_to(directory).as_posix()
        digest.update(f"{relative}\x1f{path.stat().st_size}\x1e".encode())
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
