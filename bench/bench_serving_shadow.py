"""Online scoring in shadow mode against the champion alone: two of our services on one
MLflow store, one with `MLOPS_SERVE_MODE=shadow` (the champion answers, the challenger scores
the same rows in the same scoring-thread call, both are logged), one with the default mode,
taken in turns by one client sending 1-row `dataframe_split` requests on a kept-alive
connection. The claim (issue 31): p99 in shadow mode at most 1.5x the champion alone.

The challenger is a second run of the same training job (the same estimator class, so the
same cost per row as a real retraining); the aliases are set by hand: v1 `champion`, v2
`challenger`.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_serving import _payload, _percentile
from common import ROOT, Section, Target, clean_env, free_port, run_training_job, wait_for_http

TARGET_RATIO = 1.5


def _one_client(port: int, body: bytes, requests: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", "/invocations", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{port}: answered {answer.status}")
        seconds.append(time.perf_counter() - started)
    connection.close()
    return seconds


def _wait_for_challenger(port: int, timeout: float = 120) -> None:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        health = json.loads(connection.getresponse().read())
        connection.close()
        if health.get("challenger_version"):
            return
        time.sleep(0.2)
    raise RuntimeError("the shadow service loaded no challenger")


def run(quick: bool) -> Section:
    rounds, per_round = (3, 200) if quick else (6, 500)
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        home = Path(tmp) / "mlops"
        run_training_job(home)
        run_training_job(home)
        env = clean_env(home)
        uri = f"sqlite:///{home / 'mlflow.db'}"
        env["MLFLOW_TRACKING_URI"] = uri
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.set_registered_model_alias("credit-default", "champion", "1")
        client.set_registered_model_alias("credit-default", "challenger", "2")
        ports = {"champion alone": free_port(), "shadow": free_port()}
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "mlops_assets.serving"],
                cwd=ROOT,
                env={
                    **env,
                    "MLOPS_SERVE_PORT": str(port),
                    "MLOPS_SERVE_MODE": "shadow" if name == "shadow" else "champion",
                    "MLOPS_SERVE_LOG_DIR": str(Path(tmp) / name.replace(" ", "-")),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, port in ports.items()
        ]
        try:
            for port in ports.values():
                wait_for_http(f"http://127.0.0.1:{port}/health", "our scoring server", 120)
            _wait_for_challenger(ports["shadow"])
            body = _payload(1)
            for port in ports.values():  # warm both (first requests import lazily)
                _one_client(port, body, 20)
            latency: dict[str, list[float]] = {name: [] for name in ports}
            for _ in range(rounds):
                for name, port in ports.items():
                    latency[name].extend(_one_client(port, body, per_round))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    p99 = {name: _percentile(values, 0.99) for name, values in latency.items()}
    ratio = p99["shadow"] / p99["champion alone"]
    lines = [
        "## Online scoring in shadow mode vs the champion alone (1-row requests)",
        "",
        f"Two of our services on one store, one client on a kept-alive connection, {rounds} "
        f"rounds of {per_round} requests per service, taken in turns (ms).",
        "",
        "| mode | requests | p50 (ms) | p99 (ms) | mean (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, values in latency.items():
        lines.append(
            f"| {name} | {len(values)} | {1000 * _percentile(values, 0.5):.2f} | "
            f"{1000 * p99[name]:.2f} | {1000 * statistics.mean(values):.2f} |"
        )
    lines += ["", f"p99 shadow / champion alone: **{ratio:.2f}x** (target <= {TARGET_RATIO}x).", ""]
    target = Target(
        "online p99 latency, 1-row requests, shadow mode / champion alone",
        f"<= {TARGET_RATIO}x",
        f"{ratio:.2f}x ({1000 * p99['shadow']:.1f} ms / {1000 * p99['champion alone']:.1f} ms)",
        ratio <= TARGET_RATIO,
    )
    return Section("\n".join(lines), (target,))


if __name__ == "__main__":
    print(run("--quick" in sys.argv).text)
