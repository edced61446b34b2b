"""A run worker is declared dead only on proof: same boot and pid namespace, and its pid gone,
reused by a later process, or a zombie. Real processes, real /proc."""

import dataclasses
import subprocess
import sys

from mlops_assets.domain.run_workers import (
    Liveness,
    ProcessIdentity,
    check_worker,
    current_process,
    judge_worker,
    parse_stat,
    read_stat,
)


def _me() -> ProcessIdentity:
    me = current_process()
    assert me is not None  # Linux
    return me


def test_a_living_process_is_alive_and_its_identity_survives_the_tag():
    me = _me()
    assert ProcessIdentity.from_tag(me.to_tag()) == me
    assert check_worker(me).liveness is Liveness.ALIVE


def test_an_exited_process_is_dead_and_the_reason_names_its_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = dataclasses.replace(_me(), pid=child.pid)
    check = check_worker(gone)
    assert check.liveness is Liveness.DEAD
    assert f"pid {child.pid} on {gone.host}" in check.reason
    assert "no longer exists" in check.reason


def test_a_reused_pid_is_dead():
    me = _me()
    check = check_worker(dataclasses.replace(me, start_ticks=me.start_ticks - 1))
    assert check.liveness is Liveness.DEAD
    assert "now belongs to another process" in check.reason


def test_a_zombie_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = None
        for _ in range(500):  # exited but not reaped: state Z
            stat = read_stat(child.pid)
            if stat is not None and parse_stat(stat)[0] == "Z":
                break
            subprocess.run(["sleep", "0.01"], check=True)
        assert stat is not None
        state, start_ticks = parse_stat(stat)
        assert state == "Z"
        zombie = dataclasses.replace(_me(), pid=child.pid, start_ticks=start_ticks)
        assert check_worker(zombie).liveness is Liveness.DEAD
    finally:
        child.wait()


def test_a_worker_elsewhere_is_never_declared_dead():
    me = _me()
    for elsewhere in (
        dataclasses.replace(me, boot_id="another-boot", pid=2**22 + 1),
        dataclasses.replace(me, pid_namespace="pid:[1]", pid=2**22 + 1),
    ):
        check = judge_worker(elsewhere, me.boot_id, me.pid_namespace, stat=None)
        assert check.liveness is Liveness.UNKNOWN
        assert "cannot be checked from here" in check.reason


def test_a_command_name_with_spaces_and_parentheses_is_parsed():
    line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0"
    assert parse_stat(line) == ("S", 777)


def test_a_malformed_tag_is_no_identity():
    assert ProcessIdentity.from_tag("not json") is None
    assert ProcessIdentity.from_tag('{"pid": 1}') is None
