"""Which paths a data source may read (the data roots of MLOPS_DATA_ROOTS), and where the
project may write (below its home, never outside it)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from mlops_assets.domain.data.errors import DataSourceError

# Directories (separated like PATH) that file sources must lie in; unset: any path.
DATA_ROOTS_ENV = "MLOPS_DATA_ROOTS"
# SQLAlchemy's boolean spellings for a URL's `uri` query argument (util.asbool).
_TRUE = ("true", "yes", "on", "y", "t", "1")


class PathEscapeError(ValueError):
    """A path the project would write resolves outside the directory it must stay in."""


def allowed_roots() -> list[Path]:
    """The directories of MLOPS_DATA_ROOTS (colon-separated); empty when unset."""
    value = os.environ.get(DATA_ROOTS_ENV, "")
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()]


def check_data_path(path: Path | str, what: str, roots: list[Path] | None = None) -> Path:
    """`path` resolved (symlinks and `..` followed), refused unless it lies in an allowed root.

    With MLOPS_DATA_ROOTS unset (a laptop) any path is allowed; a deployment sets it so that
    run config typed in the UI cannot read files outside the data directories.
    """
    resolved = Path(path).expanduser().resolve()
    _check_in_roots(resolved, str(path), what, allowed_roots() if roots is None else roots)
    return resolved


def _check_in_roots(resolved: Path, given: str, what: str, roots: list[Path]) -> None:
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise DataSourceError(
            f"{what} {given!r} resolves to {resolved}, outside the allowed data roots "
            f"({DATA_ROOTS_ENV}={os.pathsep.join(map(str, roots))}). Move the data under one of "
            f"them, or add its directory to {DATA_ROOTS_ENV}.",
            check="allowed_path",
            value=str(resolved),
        )


def check_sql_url(url: str, what: str, roots: list[Path] | None = None) -> str:
    """A SQLite URL names a file: it obeys the data roots like any other path, in every form
    SQLite opens one (a plain or relative path, a `file:` URI with `uri=true`, a symlink)."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except Exception as error:
        raise DataSourceError(
            f"{what}: not a valid SQLAlchemy URL ({type(error).__name__}).", check="url"
        ) from error
    if parsed.get_backend_name() != "sqlite":
        return url
    query = {key: str(value) for key, value in parsed.query.items()}
    opened = sqlite_file(parsed.database or "", query, what)
    if opened is not None:
        resolved = Path(os.path.realpath(opened))
        _check_in_roots(resolved, url, what, allowed_roots() if roots is None else roots)
    return url


def sqlite_file(database: str, query: dict[str, str], what: str) -> str | None:
    """The file SQLite opens for a SQLAlchemy SQLite URL's database part and query (None: an
    in-memory database), as an absolute path: what SQLAlchemy's pysqlite dialect and SQLite
    do with it. Without `uri=true` the database part is a plain file name, relative to the
    working directory (`file:x` too); with it, a `file:` name is a SQLite URI whose path is
    percent-decoded. SQLite never expands `~`: such a name is refused rather than read as a
    directory named `~`."""
    if database in ("", ":memory:"):
        return None
    if str(query.get("uri", "")).lower() not in _TRUE:
        name = database
    elif database.startswith("file:"):
        if query.get("mode") == "memory":
            return None
        name = _sqlite_uri_path(database.removeprefix("file:"), what)
        if name in ("", ":memory:"):
            return None
    else:
        # SQLAlchemy appends the remaining query to a non-`file:` name, which SQLite then
        # opens as a plain file name, query text included.
        extra = {k: v for k, v in query.items() if k not in _PYSQLITE_ARGUMENTS}
        name = database + (
            "?" + "&".join(f"{k}={extra[k]}" for k in sorted(extra)) if extra else ""
        )
    if name.startswith("~"):
        raise DataSourceError(
            f"{what}: SQLite does not expand '~' in {database!r} (it would open a directory "
            "named '~' in the working directory); give the absolute path.",
            check="allowed_path",
            value=database,
        )
    return os.path.abspath(name)


# The query arguments SQLAlchemy's pysqlite dialect takes for itself (create_connect_args).
_PYSQLITE_ARGUMENTS = (
    "uri",
    "timeout",
    "isolation_level",
    "detect_types",
    "check_same_thread",
    "cached_statements",
)


def _sqlite_uri_path(rest: str, what: str) -> str:
    """The path of a SQLite `file:` URI (after `file:`): `//authority/path` (authority empty
    or `localhost`), or a path; `#fragment` dropped, `%HH` decoded (sqlite.org/uri.html)."""
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            raise DataSourceError(
                f"{what}: SQLite URI authority {authority!r} is not a local file; give a local "
                "path.",
                check="allowed_path",
                value=authority,
            )
        rest = "/" + path
    return unquote(rest)


def checked_table_name(table: str, setting: str) -> str:
    """A SQL table name as a setting gives it (`table` or `schema.table`): refused when it holds
    a control character or an empty part, or more than one dot. It never reaches SQL as text
    (it is reflected and quoted); this catches a mistyped setting where it enters, before a
    run starts."""
    parts = table.split(".")
    if table and (
        len(parts) > 2
        or any(not p.strip() for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in table)
    ):
        raise ValueError(
            f"{setting}={table!r}: give a table name, or schema.table, without control "
            "characters or empty parts."
        )
    return table


def path_under(root: Path, *parts: str, what: str = "MLOPS_HOME") -> Path:
    """`root` joined with `parts`, refused when the result leaves `root`: an absolute part, a
    `..` that climbs out, or an empty or NUL-bearing name. Judged on the names themselves
    (not following symlinks, which a person put there on purpose), before anything is
    created. Every file the project writes under its home goes through here."""
    for part in parts:
        if not part or "\x00" in part:
            raise PathEscapeError(f"{what}: a path part is empty or holds NUL ({parts!r}).")
    joined = PurePosixPath(os.path.normpath(root.joinpath(*parts)))
    base = PurePosixPath(os.path.normpath(root))
    if PurePosixPath(*(p for p in parts)).is_absolute() or not joined.is_relative_to(base):
        raise PathEscapeError(
            f"{'/'.join(parts)!r} leaves {what} ({root}): it resolves to {joined}. Names that "
            "become paths (model names, table names) may use letters, digits, '-', '_' and '.' "
            "only; nothing was written."
        )
    return Path(joined)
