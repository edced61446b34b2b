"""The service under hostile clients, on real sockets: malformed bodies are 400s with a reason,
every status is counted, slow and idle sockets are closed within their deadlines, load beyond
the in-flight cap is shed with 503s, and a blank API key is refused at start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.domain import synthetic
from mlops_assets_tests.serving.conftest import Service, free_port, running_service, wait_ready


def _rows(n: int = 3) -> pd.DataFrame:
    return synthetic.generate_daily_batch(date(2026, 1, 5), n_rows=n, seed=5, with_labels=False)


def _records(n: int = 3) -> list[dict]:
    return json.loads(_rows(n).to_json(orient="records", date_format="iso"))


def _requests_total(service: Service) -> dict[tuple[str, str], float]:
    return {
        (s.labels["endpoint"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(service.get("/metrics").text)
        for s in family.samples
        if s.name == "mlops_serving_requests_total"
    }


def _metric(service: Service, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(service.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_hostile_bodies_are_400s_naming_the_fault_and_are_counted(service):
    deep = ("[" * 1000 + "]" * 1000).encode()  # 2 KB
    age_object = _records()
    age_object[1]["age"] = {"years": 41}
    purpose_list = _records()
    purpose_list[2]["purpose"] = ["car", "boat"]
    huge = _records()
    huge[0]["income"] = int("9" * 4000)
    split_nested = {"dataframe_split": {"columns": ["age"], "data": [[[1, [2, [3]]]]]}}
    bodies = {
        "deep JSON": (deep, "nests JSON arrays or objects too deep"),
        "deep JSON in a cell": (
            json.dumps({"dataframe_records": [{"age": json.loads("[" * 500 + "]" * 500)}]}),
            "row 0, column 'age': a list",
        ),
        "an object in a cell": (
            json.dumps({"dataframe_records": age_object}),
            "row 1, column 'age': an object",
        ),
        "a list in a cell": (
            json.dumps({"dataframe_records": purpose_list}),
            "row 2, column 'purpose': a list",
        ),
        "a 4,000-digit integer": (
            json.dumps({"dataframe_records": huge}),
            "row 0, column 'income': an integer of 4000 digits",
        ),
        "a nested split": (json.dumps(split_nested), "row 0, column 'age': a list"),
    }
    before = _requests_total(service)
    for name, (body, reason) in bodies.items():
        for path in ("/invocations", "/predict"):
            answer = service.post(path, data=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400, (name, path, answer.status_code, answer.text)
            assert answer.json()["error_code"] == "BAD_REQUEST"
            assert reason in answer.json()["message"], (name, answer.json())
    after = _requests_total(service)
    for path in ("/invocations", "/predict"):
        assert after[(path, "400")] - before.get((path, "400"), 0) == len(bodies)
        assert (path, "500") not in after


def test_an_unexpected_error_is_a_500_in_mlflow_shape_and_counted(trained, tmp_path):
    def broken_clock():  # a fault inside the scoring path, after the body was accepted
        raise RuntimeError("clock unavailable")

    with running_service(trained.registry(), tmp_path / "log", clock=broken_clock) as broken:
        wait_ready(broken)
        answer = broken.post("/invocations", json={"dataframe_records": _records()})
        assert answer.status_code == 500
        assert answer.json()["error_code"] == "INTERNAL_ERROR"
        # the service is still up and says what happened
        assert broken.get("/health").status_code == 200
        assert _requests_total(broken)[("/invocations", "500")] == 1


def test_every_status_is_counted_401_404_405_413_and_health(trained, tmp_path):
    key = "k3y-for-status-counts"
    with running_service(
        trained.registry(), tmp_path / "log", api_key=key, max_body_bytes=2_000
    ) as guarded:
        wait_ready(guarded)
        keyed = {"X-API-Key": key}
        assert guarded.post("/predict", json=_records()).status_code == 401
        assert guarded.get("/nowhere", headers=keyed).status_code == 404
        assert guarded.get("/invocations", headers=keyed).status_code == 405
        big = {"dataframe_records": _records(40)}
        assert guarded.post("/invocations", json=big, headers=keyed).status_code == 413
        metrics = guarded.get("/metrics", headers=keyed).text
        counted = {
            (s.labels["endpoint"], s.labels["status"]): s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
            if s.name == "mlops_serving_requests_total"
        }
        assert counted[("/predict", "401")] == 1
        assert counted[("other", "404")] == 1
        assert counted[("/invocations", "405")] == 1
        assert counted[("/invocations", "413")] == 1
        assert counted[("/health", "200")] >= 1


def _raw(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if data:
        sock.sendall(data)
    return sock


def _until_closed(
    sock: socket.socket, trickle: bytes = b"", every: float = 2.0
) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed (s);
    meanwhile `trickle` is sent one byte every `every` seconds."""
    started = time.monotonic()
    received = b""
    sock.settimeout(every)
    position = 0
    while time.monotonic() - started < 60:
        if position < len(trickle):
            try:
                sock.sendall(trickle[position : position + 1])
            except OSError:  # closed by the server under our feet
                break
            position += 1
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started


HEADER_SECONDS, BODY_SECONDS = 3.0, 4.0


@pytest.fixture(scope="module")
def deadlines(trained, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A service with short deadlines: headers within 3 s, a body within 4 s."""
    with running_service(
        trained.registry(),
        tmp_path_factory.mktemp("deadlines"),
        header_seconds=HEADER_SECONDS,
        body_seconds=BODY_SECONDS,
        keep_alive_seconds=2.0,
    ) as running:
        wait_ready(running)
        yield running


@pytest.mark.slow
def test_a_body_sent_one_byte_every_2_s_gets_408_and_is_closed_within_the_body_deadline(
    deadlines,
):
    body = json.dumps({"dataframe_records": _records()}).encode()
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    received, seconds = _until_closed(_raw(deadlines.port, head), trickle=body, every=2.0)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"MLOPS_SERVE_BODY_SECONDS" in received
    assert BODY_SECONDS - 0.5 <= seconds < BODY_SECONDS + 3, seconds
    assert _requests_total(deadlines)[("/invocations", "408")] >= 1


@pytest.mark.slow
def test_idle_and_trickling_header_sockets_are_closed_within_the_header_deadline(deadlines):
    idle = _raw(deadlines.port)
    trickling = _raw(deadlines.port, b"POST /invocations HTTP/1.1\r\n")
    results: dict[str, tuple[bytes, float]] = {}
    thread = threading.Thread(
        target=lambda: results.__setitem__("idle", _until_closed(idle)), daemon=True
    )
    thread.start()
    results["trickling"] = _until_closed(trickling, trickle=b"Host: x\r\nX-Slow: 1234567890")
    thread.join(timeout=60)
    idle_received, idle_seconds = results["idle"]
    assert idle_received == b""
    assert HEADER_SECONDS - 0.5 <= idle_seconds < HEADER_SECONDS + 3, idle_seconds
    trickled, trickle_seconds = results["trickling"]
    assert trickled.startswith(b"HTTP/1.1 408"), trickled[:200]
    assert HEADER_SECONDS - 0.5 <= trickle_seconds < HEADER_SECONDS + 3, trickle_seconds
    assert _metric(deadlines, "mlops_serving_connections_closed_total", reason="idle") >= 1
    assert _metric(deadlines, "mlops_serving_connections_closed_total", reason="headers") >= 1

    # after an answer, an idle keep-alive connection is closed too (uvicorn's keep-alive)
    body = json.dumps({"dataframe_records": _records()}).encode()
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    answered, seconds = _until_closed(_raw(deadlines.port, request))
    assert answered.startswith(b"HTTP/1.1 200"), answered[:200]
    assert seconds < HEADER_SECONDS + 3, seconds


def _partial_request(port: int, body: bytes) -> socket.socket:
    """A scoring request whose headers and half its body arrived: it waits, in flight."""
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return _raw(port, head + body[: len(body) // 2])


def test_beyond_the_in_flight_cap_a_scoring_request_gets_503_at_once(trained, tmp_path):
    with running_service(
        trained.registry(), tmp_path / "log", max_in_flight=2, body_seconds=60
    ) as capped:
        wait_ready(capped)
        body = json.dumps({"dataframe_records": _records()}).encode()
        waiting = [_partial_request(capped.port, body) for _ in range(2)]
        deadline = time.monotonic() + 10
        # /metrics is in flight while it answers: 3 once both partial requests are.
        while _metric(capped, "mlops_serving_in_flight_requests") < 3:
            assert time.monotonic() < deadline, "the partial requests never arrived"
            time.sleep(0.05)
        started = time.monotonic()
        shed = capped.post("/invocations", data=body, headers={"Content-Type": "application/json"})
        elapsed = time.monotonic() - started
        assert shed.status_code == 503, shed.text
        assert shed.json()["error_code"] == "OVERLOADED"
        assert shed.headers["Retry-After"] == "1"
        assert elapsed < 5, elapsed  # not held until a waiting request's 60 s body deadline
        assert capped.get("/health").status_code == 200  # probes are never shed
        for sock in waiting:  # the rest of their bodies: both are answered
            sock.sendall(body[len(body) // 2 :])
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.close()
        assert (
            capped.post(
                "/invocations", data=body, headers={"Content-Type": "application/json"}
            ).status_code
            == 200
        )
        counted = _requests_total(capped)
        assert counted[("/invocations", "503")] == 1
        assert counted[("/invocations", "200")] == 3
        assert _metric(capped, "mlops_serving_shed_requests_total", reason="in_flight") == 1


class _HeldPipeline:
    """The champion's pipeline, held on its first call until released: a scoring thread that
    stays busy for as long as the test needs, without timing anything."""

    def __init__(self, pipeline: object) -> None:
        self._pipeline = pipeline
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._pipeline, name)

    def predict_proba(self, frame: pd.DataFrame) -> object:
        self.entered.set()
        assert self.release.wait(60), "never released"
        return self._pipeline.predict_proba(frame)  # type: ignore[attr-defined]


def test_a_request_queued_behind_busy_scoring_gets_503_at_its_queue_deadline(trained, tmp_path):
    with running_service(
        trained.registry(), tmp_path / "log", scoring_threads=1, queue_seconds=0.5
    ) as busy:
        wait_ready(busy)
        held = _HeldPipeline(busy.watcher.current.pipeline)
        busy.watcher.current = replace(busy.watcher.current, pipeline=held)
        body = json.dumps({"dataframe_records": _records()}).encode()
        headers = {"Content-Type": "application/json"}
        first: list[requests.Response] = []
        scoring = threading.Thread(
            target=lambda: first.append(busy.post("/invocations", data=body, headers=headers))
        )
        scoring.start()
        assert held.entered.wait(30), "the first request never reached the model"
        # The only scoring thread is held: the event loop still answers, and sheds.
        assert busy.get("/health").status_code == 200
        queued = busy.post("/invocations", data=body, headers=headers)
        assert queued.status_code == 503, queued.text
        assert queued.json()["error_code"] == "OVERLOADED"
        assert "MLOPS_SERVE_QUEUE_SECONDS" in queued.json()["message"]
        assert queued.headers["Retry-After"] == "1"
        assert scoring.is_alive() and not first  # answered while the thread was still busy
        held.release.set()
        scoring.join(timeout=30)
        assert first[0].status_code == 200
        counted = _requests_total(busy)
        assert counted[("/invocations", "503")] == 1
        assert counted[("/invocations", "200")] == 1
        assert _metric(busy, "mlops_serving_shed_requests_total", reason="queue_deadline") == 1
        # the refused request was never scored: only the first one's 3 rows were predicted
        predicted = sum(
            s.value
            for family in text_string_to_metric_families(busy.get("/metrics").text)
            for s in family.samples
            if s.name == "mlops_serving_predicted_class_total"
        )
        assert predicted == 3


@pytest.mark.slow
def test_under_many_concurrent_clients_the_excess_is_shed_with_503_and_counted(trained, tmp_path):
    clients, per_client = 40, 5
    body = json.dumps({"dataframe_records": _records(100)}).encode()
    with running_service(trained.registry(), tmp_path / "log", max_in_flight=4) as capped:
        wait_ready(capped)
        statuses: Counter[int] = Counter()
        lock = threading.Lock()
        gate = threading.Barrier(clients)

        def client() -> None:
            with requests.Session() as session:
                gate.wait()
                for _ in range(per_client):
                    status = session.post(
                        capped.url + "/invocations",
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=60,
                    ).status_code
                    with lock:
                        statuses[status] += 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sum(statuses.values()) == clients * per_client
        assert set(statuses) == {200, 503}, statuses
        counted = _requests_total(capped)
        assert counted[("/invocations", "200")] == statuses[200]
        assert counted[("/invocations", "503")] == statuses[503]


@pytest.mark.parametrize("key", [" ", "\t  ", " padded-key "])
def test_a_blank_or_padded_api_key_is_refused_at_start(key, tmp_path):
    env = {
        **os.environ,
        "MLOPS_SERVE_API_KEY": key,
        "MLOPS_SERVE_PORT": str(free_port()),
        "MLOPS_HOME": str(tmp_path),
    }
    started = subprocess.Popen(
        [sys.executable, "-m", "mlops_assets.serving"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = started.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        started.kill()
        started.communicate()
        pytest.fail(f"the service started with MLOPS_SERVE_API_KEY={key!r}")
    assert started.returncode != 0
    assert "MLOPS_SERVE_API_KEY has" in stderr, stderr
