"""A write that finds no room names the file and what to do, and replaces nothing: the previous
file stays whole and no temp file is left. Real kernel errors: a file-size limit
(RLIMIT_FSIZE, what `ulimit -f` sets: EFBIG) in a child process, and, where this user may
mount one, a 64 KiB tmpfs that fills up (ENOSPC)."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_assets.domain.data import temp_files, write_text_atomic
from mlops_assets.domain.data.atomic_files import DiskFullError

# Writes 1 MB of text, then of Parquet, to `path` with the project's atomic writers, under a
# 16 KiB file-size limit; prints each error as `type|errno|message`.
_LIMITED_WRITER = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    import pandas as pd
    from mlops_assets.domain.data import write_parquet_atomic, write_text_atomic

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the default kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
    path = Path(sys.argv[1])
    writes = (
        lambda: write_text_atomic("x" * 1_000_000, path),
        lambda: write_parquet_atomic(
            pd.DataFrame({"a": [str(i) * 20 for i in range(50_000)]}), path.with_suffix(".parquet")
        ),
    )
    for write in writes:
        try:
            write()
            print("written")
        except OSError as error:
            print(f"{type(error).__name__}|{error.errno}|{error}")
    """
)


def test_a_write_past_a_file_size_limit_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "reports" / "day.json"
    write_text_atomic("previous", target)
    (tmp_path / "reports" / "day.parquet").write_text("previous parquet")
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED_WRITER, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stderr[-2000:]
    for line, path in zip(lines, (target, target.with_suffix(".parquet")), strict=True):
        kind, number, message = line.split("|", 2)
        assert kind == "DiskFullError" and int(number) == errno.EFBIG
        assert str(path) in message and "ulimit -f" in message and "Free space" in message
    assert target.read_text() == "previous"
    assert target.with_suffix(".parquet").read_text() == "previous parquet"
    assert temp_files(target) == [] and temp_files(target.with_suffix(".parquet")) == []


@pytest.fixture
def tiny_filesystem(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_file_system_names_the_file_and_what_to_do(tiny_filesystem: Path):
    target = tiny_filesystem / "schemas" / "v1.json"
    write_text_atomic("previous", target)
    with pytest.raises(DiskFullError) as raised:
        write_text_atomic("x" * 1_000_000, target)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(target)
    message = str(raised.value)
    assert str(target) in message and "No space left on device" in message
    assert "Free space on the file system" in message
    assert target.read_text() == "previous" and temp_files(target) == []
