"""Atomic file writes: readers never see a half-written file, and a killed writer's temp file is
removed by the next writer of the same file."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# The writer's host in a temp file's name: only a writer on the same host can tell whether the
# pid beside it is still alive.
if TYPE_CHECKING:
    import pandas as pd


WRITER_HOST = socket.gethostname().replace(".", "_")


@contextmanager
def atomic_path(final_path: Path) -> Iterator[Path]:
    """Yield a temp path beside `final_path`; rename it into place only if the block succeeds.

    Readers never see a half-written file: either the old content or the new one. The temp
    name holds the writer's host and pid, so the next writer of the same file removes what a
    writer killed mid-write (SIGKILL, OOM) left behind, and never a live writer's file.
    """
    try:
        final_path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphaned_temp_files(final_path)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f"{_temp_prefix(final_path)}{WRITER_HOST}.{os.getpid()}.",
            suffix=".tmp",
            dir=final_path.parent,
        )
    except OSError as error:
        _raise_if_no_room(error, final_path)
        raise
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    except OSError as error:
        _raise_if_no_room(error, final_path)
        raise
    finally:
        tmp_path.unlink(missing_ok=True)


class DiskFullError(OSError):
    """A write found no room (disk full, quota, file-size limit); names the file and the fix.
    An OSError with the original errno, so callers that handle OSError still do."""


# No room to write: a full file system, an exhausted quota, a file-size limit (ulimit -f).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _raise_if_no_room(error: OSError, final_path: Path) -> None:
    """Raise `error` as a DiskFullError naming the file being written, how much room is left
    and what to do, when it says there is no room; return for any other OSError."""
    if error.errno not in _NO_ROOM or isinstance(error, DiskFullError):
        return
    try:
        free = f"{shutil.disk_usage(final_path.parent).free / 1e6:.1f} MB free"
    except OSError:
        free = "free space unknown"
    limit = (
        " (a file-size limit: see `ulimit -f` of the process)" if error.errno == errno.EFBIG else ""
    )
    raise DiskFullError(
        error.errno,
        f"no room to write {final_path} ({os.strerror(error.errno or 0)}{limit}; "
        f"{free} on its file system). Nothing was replaced: the previous file, if any, is "
        f"intact. Free space on the file system of {final_path.parent} (or move MLOPS_HOME "
        "to a larger one), then re-run the step",
        str(final_path),
    ) from error


def _temp_prefix(final_path: Path) -> str:
    return f".{final_path.name}."


def temp_files(final_path: Path) -> list[Path]:
    """Temp files of unfinished writes of `final_path` (live or orphaned)."""
    return sorted(final_path.parent.glob(f"{_temp_prefix(final_path)}*.tmp"))


def _remove_orphaned_temp_files(final_path: Path) -> None:
    for path in temp_files(final_path):
        host, _, rest = path.name[len(_temp_prefix(final_path)) :].partition(".")
        pid = rest.partition(".")[0]
        if host != WRITER_HOST or not pid.isdigit() or _alive(int(pid)):
            continue  # another machine's writer, an unknown name, or a live writer
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def write_text_atomic(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
