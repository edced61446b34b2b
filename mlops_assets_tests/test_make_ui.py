"""`make ui` as a new user starts it: the webserver comes up and nothing alarming prints before it
(no "dagster.yaml ... will not be used", which is wrong since make copied it into DAGSTER_HOME,
no "superseded, use dg dev" notice)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # dagster dev: webserver, daemon and the code location, tens of seconds
def test_make_ui_serves_without_alarming_notices(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "DAGSTER_HOME"))}
    log = tmp_path / "make-ui.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                "make",
                "ui",
                f"UI_PORT={port}",
                f"DAGSTER_HOME={tmp_path / 'dagster'}",
                f"MLOPS_HOME={tmp_path / 'mlops'}",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        served = False
        while time.monotonic() < deadline and not served:
            assert server.poll() is None, log.read_text()
            try:
                served = requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
            except requests.RequestException:
                time.sleep(1)
        assert served, log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    printed = log.read_text()
    assert f"Dagster UI on http://127.0.0.1:{port}" in printed
    assert "Launching Dagster services" in printed
    assert "will not be used" not in printed, printed
    assert "superseded" not in printed.lower(), printed
    assert "Warning" not in printed, printed
