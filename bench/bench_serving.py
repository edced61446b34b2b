"""Online scoring: our service (`python -m mlops_assets.serving`) against MLflow's own scoring
server (`mlflow models serve --env-manager local`) on the same registered model, one worker
process each, the same client load, taken in turns.

The client runs in this process: `CLIENTS` threads on keep-alive connections, each sending
`dataframe_split` JSON to `/invocations` and timing every answer. Requests per second are
answers over the round's wall time; p50 / p99 are over every answer of every round. With
`CLIENTS` clients a request waits behind the others (one worker scores one request at a time), so
each round is followed by one with a single client: a request's own latency, which the p99
target is about.

Then saturation, on ours alone: `SATURATION_CLIENTS` clients in one asyncio client, each
sending 1-row requests back to back for a while, against one client for the same while, taken in
turns. A client answered 503 waits its `Retry-After` (1 s) before its next request, as a
well-behaved client does; a request's time runs from its connect (or its send, on a kept-alive
connection) to the end of its answer. Reported: p50 / p99 of the accepted (200) requests, the
share answered 503, and how fast a 503 came.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from common import (
    ROOT,
    Section,
    Target,
    clean_env,
    free_port,
    run_training_job,
    wait_for_http,
)

CLIENTS = 4
TARGET_P99_MS = 50.0
SATURATION_CLIENTS = 200
# Accepted p99 under saturation against one client's p99. The design's bound: an accepted
# request waits behind at most MLOPS_SERVE_MAX_IN_FLIGHT - 1 (31) others, each about one
# client's time, or MLOPS_SERVE_QUEUE_SECONDS (0.5 s) if that comes first, then is scored: about
# 32x. Queueing outside the service (the accept queue, as before) shows as far more (~1000x).
TARGET_SATURATION_RATIO = 32.0


def _payload(n_rows: int) -> bytes:
    from mlops_assets.domain import synthetic

    rows = synthetic.generate_daily_batch(date(2026, 1, 5), n_rows=n_rows, with_labels=False)
    split = json.loads(rows.to_json(orient="split", index=False, date_format="iso"))
    return json.dumps({"dataframe_split": split}).encode()


def _round(
    port: int, body: bytes, requests_per_client: int, clients: int = CLIENTS
) -> tuple[float, list[float], int]:
    """(200s per second, each 200's seconds, 503s) for one round of the load. A 503 is our
    service shedding load (its queue deadline on a busy machine): counted, not scored."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[int] = []
    shed: list[int] = []

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        for _ in range(requests_per_client):
            started = time.perf_counter()
            connection.request("POST", "/invocations", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status == 200:
                latencies[index].append(time.perf_counter() - started)
            elif answer.status == 503:
                shed.append(index)
            else:
                failures.append(answer.status)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests (statuses {set(failures)})")
    flat = [x for per in latencies for x in per]
    return len(flat) / wall, flat, len(shed)


async def _saturating_client(
    port: int, request: bytes, stop_at: float, out: list[tuple[int, float]]
) -> None:
    """One client: requests back to back until `stop_at`, (status, seconds) for each."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            status = int(head.split(b" ", 2)[1])
            length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            out.append((status, time.perf_counter() - started))
            if b"connection: close" in head:
                writer.close()
                writer = None
            if status == 503:
                await asyncio.sleep(1.0)  # its Retry-After
        except (ConnectionError, asyncio.IncompleteReadError):
            out.append((0, time.perf_counter() - started))
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


def _saturation_round(
    port: int, body: bytes, clients: int, seconds: float
) -> list[tuple[int, float]]:
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def load() -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(
            *(_saturating_client(port, request, stop_at, out) for _ in range(clients))
        )
        return out

    return asyncio.run(load())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(quick: bool) -> Section:
    rounds = 2 if quick else 4
    per_client = {1: 100 if quick else 250, 100: 30 if quick else 75}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        home = Path(tmp) / "mlops"
        run_training_job(home)
        env = clean_env(home)
        uri = f"sqlite:///{home / 'mlflow.db'}"
        env["MLFLOW_TRACKING_URI"] = uri
        # MLflow's server execs `uvicorn` by name: the virtual environment's, as when activated.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        from mlflow import MlflowClient

        model_path = MlflowClient(
            tracking_uri=uri, registry_uri=uri
        ).get_model_version_download_uri("credit-default", "1")
        ours_port, mlflow_port = free_port(), free_port()
        ours = subprocess.Popen(
            [sys.executable, "-m", "mlops_assets.serving"],
            cwd=ROOT,
            env={**env, "MLOPS_SERVE_PORT": str(ours_port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("mlflow")),
                "models",
                "serve",
                "-m",
                model_path,
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(Path(tmp) / "mlflow-serve.log").open("w"),
        )
        try:
            wait_for_http(f"http://127.0.0.1:{ours_port}/health", "our scoring server", 120)
            try:
                wait_for_http(f"http://127.0.0.1:{mlflow_port}/ping", "mlflow models serve", 120)
            except RuntimeError as error:
                log = (Path(tmp) / "mlflow-serve.log").read_text()[-3000:]
                raise RuntimeError(f"{error}; mlflow models serve said:\n{log}") from error
            results = {}
            for n_rows in (1, 100):
                body = _payload(n_rows)
                sides = {"ours": ours_port, "mlflow models serve": mlflow_port}
                for port in sides.values():  # warm both (first requests import lazily)
                    _round(port, body, 10)
                throughput: dict[str, list[float]] = {name: [] for name in sides}
                latency: dict[str, list[float]] = {name: [] for name in sides}
                alone: dict[str, list[float]] = {name: [] for name in sides}
                shed = dict.fromkeys(sides, 0)
                for _ in range(rounds):
                    for name, port in sides.items():
                        rate, seconds, refused = _round(port, body, per_client[n_rows])
                        throughput[name].append(rate)
                        latency[name].extend(seconds)
                        shed[name] += refused
                        # One client: a request's own latency, without queueing behind others.
                        alone[name].extend(_round(port, body, per_client[n_rows], clients=1)[1])
                results[n_rows] = (throughput, latency, alone, shed)
            saturation = _saturation(ours_port, _payload(1), rounds, 5.0 if quick else 15.0)
        finally:
            for process in (ours, theirs):
                process.terminate()
            for process in (ours, theirs):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    lines = [
        "## Online scoring: ours vs `mlflow models serve` (same model, one worker each)",
        "",
        f"{CLIENTS} client threads on keep-alive connections in the benchmark process, "
        f"`/invocations` with `dataframe_split` JSON; {rounds} rounds per side, taken in "
        "turns. Requests per second: min / median / max over rounds; latency: over every "
        "request of every round answered 200 (ms). Ours also checks the schema contract, "
        "counts metrics and logs every row for monitoring.",
        "",
        "| rows / request | server | requests / s | p50 (ms) | p99 (ms) "
        "| one client: p50 / p99 (ms) | throughput ours / MLflow |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    targets = []
    notes: list[str] = []
    for n_rows, (throughput, latency, alone, shed) in results.items():
        ratio = statistics.median(throughput["ours"]) / statistics.median(
            throughput["mlflow models serve"]
        )
        for name in throughput:
            rates = throughput[name]
            lines.append(
                f"| {n_rows} | {name} | {min(rates):.0f} / {statistics.median(rates):.0f} / "
                f"{max(rates):.0f} | {1000 * _percentile(latency[name], 0.5):.1f} | "
                f"{1000 * _percentile(latency[name], 0.99):.1f} | "
                f"{1000 * _percentile(alone[name], 0.5):.1f} / "
                f"{1000 * _percentile(alone[name], 0.99):.1f} | "
                + (f"**{ratio:.2f}x** |" if name == "ours" else "|")
            )
        if any(shed.values()):
            notes.append(f"{n_rows}-row requests, 503s not counted above: {shed}.")
        targets.append(
            Target(
                f"online scoring throughput, {n_rows}-row requests, ours / `mlflow models serve`",
                ">= 1.0x",
                f"{ratio:.2f}x",
                ratio >= 1.0,
            )
        )
        if n_rows == 1:
            p99 = 1000 * _percentile(alone["ours"], 0.99)
            targets.append(
                Target(
                    "online scoring p99 latency, 1-row requests, ours (one client)",
                    f"< {TARGET_P99_MS:.0f} ms",
                    f"{p99:.1f} ms",
                    p99 < TARGET_P99_MS,
                )
            )
    if notes:
        lines += ["", "Requests answered 503 (load shed) in these rounds: " + " ".join(notes)]
    saturation_lines, saturation_target = _saturation_report(saturation)
    lines += ["", *saturation_lines]
    targets.append(saturation_target)
    lines.append("")
    return Section("\n".join(lines) + "\n", tuple(targets))


def _saturation(
    port: int, body: bytes, rounds: int, seconds: float
) -> dict[int, list[tuple[int, float]]]:
    """Each answer's (status, seconds) at 1 and at SATURATION_CLIENTS clients, in turns."""
    answers: dict[int, list[tuple[int, float]]] = {1: [], SATURATION_CLIENTS: []}
    for _ in range(rounds):
        for clients in answers:
            answers[clients].extend(_saturation_round(port, body, clients, seconds))
    return answers


def _saturation_report(answers: dict[int, list[tuple[int, float]]]) -> tuple[list[str], Target]:
    lines = [
        f"### Saturation: {SATURATION_CLIENTS} clients against 1 (ours, 1-row requests)",
        "",
        "Each client sends back to back and waits `Retry-After` (1 s) after a 503; rounds of "
        "1 and of 200 clients taken in turns. Latency of the accepted requests and of the 503s "
        "(ms), over every answer of every round.",
        "",
        "| clients | answers | 200 | 503 share | other | accepted p50 | accepted p99 "
        "| 503 p50 | 503 p99 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    p99 = {}
    for clients, answered in answers.items():
        ok = [seconds for status, seconds in answered if status == 200]
        shed = [seconds for status, seconds in answered if status == 503]
        other = len(answered) - len(ok) - len(shed)
        p99[clients] = _percentile(ok, 0.99) if ok else float("inf")
        lines.append(
            f"| {clients} | {len(answered)} | {len(ok)} | {len(shed) / len(answered):.1%} | "
            f"{other} | {_ms(ok, 0.5)} | {_ms(ok, 0.99)} | {_ms(shed, 0.5)} | {_ms(shed, 0.99)} |"
        )
    ratio = p99[SATURATION_CLIENTS] / p99[1]
    lines += [
        "",
        f"Accepted p99 at {SATURATION_CLIENTS} clients / at 1 client: **{ratio:.1f}x** "
        f"(target < {TARGET_SATURATION_RATIO:.0f}x).",
    ]
    target = Target(
        f"accepted p99 under {SATURATION_CLIENTS} clients / one client's p99 (ours, 1-row)",
        f"< {TARGET_SATURATION_RATIO:.0f}x",
        f"{ratio:.1f}x ({1000 * p99[SATURATION_CLIENTS]:.0f} ms / {1000 * p99[1]:.0f} ms)",
        ratio < TARGET_SATURATION_RATIO,
    )
    return lines, target


def _ms(values: list[float], q: float) -> str:
    return f"{1000 * _percentile(values, q):.1f}" if values else "-"


if __name__ == "__main__":
    print(run("--quick" in sys.argv).text)
