"""Which paths a data source may read: the data roots of MLOPS_DATA_ROOTS."""

from __future__ import annotations

import os
from pathlib import Path

from mlops_assets.domain.data.errors import DataSourceError

# Directories (separated like PATH) that file sources must lie in; unset: any path.
DATA_ROOTS_ENV = "MLOPS_DATA_ROOTS"


def allowed_roots() -> list[Path]:
    """The directories of MLOPS_DATA_ROOTS (colon-separated); empty when unset."""
    value = os.environ.get(DATA_ROOTS_ENV, "")
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()]


def check_data_path(path: Path | str, what: str, roots: list[Path] | None = None) -> Path:
    """`path` resolved (symlinks and `..` followed), refused unless it lies in an allowed root.

    With MLOPS_DATA_ROOTS unset (a laptop) any path is allowed; a deployment sets it so that
    run config typed in the UI cannot read files outside the data directories.
    """
    roots = allowed_roots() if roots is None else roots
    resolved = Path(path).expanduser().resolve()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise DataSourceError(
            f"{what} {str(path)!r} resolves to {resolved}, outside the allowed data roots "
            f"({DATA_ROOTS_ENV}={os.pathsep.join(map(str, roots))}). Move the data under one of "
            f"them, or add its directory to {DATA_ROOTS_ENV}.",
            check="allowed_path",
            value=str(resolved),
        )
    return resolved


def check_sql_url(url: str, what: str) -> str:
    """A SQLite URL names a file: it obeys the data roots like any other path."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except Exception as error:
        raise DataSourceError(
            f"{what}: not a valid SQLAlchemy URL ({type(error).__name__}).", check="url"
        ) from error
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        check_data_path(parsed.database, what)
    return url
