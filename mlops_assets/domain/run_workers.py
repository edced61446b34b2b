"""Whether a run's worker process still exists, told only from what can be proved.

A run worker records who it is when it starts executing: its pid, the process's start time in
clock ticks since boot (field 22 of /proc/<pid>/stat), the kernel's boot id and its pid
namespace. A checker on the same boot and in the same pid namespace can then prove the worker
gone: its pid no longer exists, belongs to a process that started at another time (the pid was
reused), or is a zombie. Anywhere else (another host, another container, a system without
/proc) the pid means nothing, and the verdict is "unknown": a run is never declared dead on a
guess.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """One process, as this kernel knows it."""

    host: str  # the hostname, for people; the proof is boot_id and pid_namespace
    boot_id: str
    pid_namespace: str  # e.g. "pid:[4026531836]"
    pid: int
    start_ticks: int

    def to_tag(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_tag(cls, text: str) -> ProcessIdentity | None:
        """The identity a tag holds; None when it is missing or malformed."""
        try:
            fields = json.loads(text)
            return cls(
                host=str(fields["host"]),
                boot_id=str(fields["boot_id"]),
                pid_namespace=str(fields["pid_namespace"]),
                pid=int(fields["pid"]),
                start_ticks=int(fields["start_ticks"]),
            )
        except (ValueError, TypeError, KeyError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WorkerCheck:
    liveness: Liveness
    reason: str


def parse_stat(text: str) -> tuple[str, int]:
    """The state letter and the start time (clock ticks since boot) of a /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may itself hold spaces or parentheses, so
    the fields are counted from the last closing parenthesis.
    """
    after_name = text[text.rindex(")") + 2 :].split()
    # after_name[0] is field 3 (state); field 22 (starttime) is 19 further on.
    return after_name[0], int(after_name[19])


def judge_worker(
    worker: ProcessIdentity, boot_id: str, pid_namespace: str, stat: str | None
) -> WorkerCheck:
    """The verdict on `worker` from a checker on `boot_id` in `pid_namespace`, given the text of
    /proc/<worker.pid>/stat there (None: no such process)."""
    if (worker.boot_id, worker.pid_namespace) != (boot_id, pid_namespace):
        return WorkerCheck(
            Liveness.UNKNOWN,
            f"the run worker ({worker.describe()}) runs on another host or in another container:"
            " its process cannot be checked from here",
        )
    if stat is None:
        return WorkerCheck(
            Liveness.DEAD,
            f"the run worker ({worker.describe()}) no longer exists: it was killed or crashed"
            " (SIGKILL, out of memory, a restart) before it could record the end of its run",
        )
    state, start_ticks = parse_stat(stat)
    if start_ticks != worker.start_ticks:
        return WorkerCheck(
            Liveness.DEAD,
            f"the run worker ({worker.describe()}) no longer exists: pid {worker.pid} now belongs"
            f" to another process (started at tick {start_ticks}, the worker at tick"
            f" {worker.start_ticks})",
        )
    if state in ("Z", "X"):
        return WorkerCheck(
            Liveness.DEAD,
            f"the run worker ({worker.describe()}) has exited (process state {state}) without"
            " recording the end of its run",
        )
    return WorkerCheck(Liveness.ALIVE, f"the run worker ({worker.describe()}) is running")


def read_stat(pid: int) -> str | None:
    """The /proc/<pid>/stat line, or None when no such process exists."""
    try:
        return (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _boot_id() -> str:
    return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


def _pid_namespace() -> str:
    return os.readlink(PROC / "self" / "ns" / "pid")


def current_process() -> ProcessIdentity | None:
    """This process's identity; None where the kernel does not expose one (no /proc)."""
    try:
        stat = (PROC / "self" / "stat").read_text()
        return ProcessIdentity(
            host=socket.gethostname(),
            boot_id=_boot_id(),
            pid_namespace=_pid_namespace(),
            pid=os.getpid(),
            start_ticks=parse_stat(stat)[1],
        )
    except OSError:
        return None


def check_worker(worker: ProcessIdentity) -> WorkerCheck:
    """The verdict on `worker` from this process."""
    try:
        boot_id, pid_namespace = _boot_id(), _pid_namespace()
    except OSError:
        return WorkerCheck(
            Liveness.UNKNOWN,
            f"this system has no /proc: the run worker ({worker.describe()}) cannot be checked",
        )
    return judge_worker(worker, boot_id, pid_namespace, read_stat(worker.pid))
