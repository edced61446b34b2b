"""What a process that loaded the code location does at exit (mlops_assets/process.py)."""

import subprocess
import sys
import textwrap


def _exit_report(body: str) -> str:
    """What a fresh interpreter prints from an atexit hook registered before anything else,
    which runs after every hook registered later (atexit is last in, first out)."""
    script = textwrap.dedent(
        """
        import atexit, gc
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
        """
    ) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_loading_the_code_location_freezes_what_is_alive_at_exit():
    assert _exit_report("import mlops_assets.definitions") == "frozen True"


def test_a_process_without_the_code_location_collects_at_exit_as_usual():
    assert _exit_report("import dagster") == "frozen False"
