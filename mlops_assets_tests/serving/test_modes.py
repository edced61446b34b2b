"""The service's shadow, canary and bandit modes end to end: the real service (uvicorn, the
app's lifespan, its watchers) on a real MLflow store holding two trained versions, v1 as
`champion` and v2 as `challenger`; labels delivered later as files; a challenger removed
while requests flow."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_VERSION_COLUMN,
    CHAMPION_PREDICTION_COLUMN,
    CHAMPION_VERSION_COLUMN,
    SERVED_MODEL_VERSION_COLUMN,
    SERVED_PREDICTION_COLUMN,
    SERVED_ROLE_COLUMN,
)
from mlops_assets.domain import synthetic
from mlops_assets.domain.data.sources import read_daily
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.serving.settings import ServeSettings
from mlops_assets_tests.serving.conftest import Service, running_service, wait_ready

DAY = date(2026, 1, 12)
ID = "application_id"


def _served_at() -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)


def _rows(first_id: int, n: int, seed: int) -> pd.DataFrame:
    rows = synthetic.generate_daily_batch(DAY, n_rows=n, seed=seed, with_labels=False)
    rows[ID] = np.arange(first_id, first_id + n)
    return rows


def _body(rows: pd.DataFrame) -> dict:
    split = json.loads(rows.to_json(orient="split", index=False, date_format="iso"))
    return {"dataframe_split": split}


def _logged(service: Service) -> pd.DataFrame:
    service.request_log.flush()
    return read_daily(service.settings.log_directory / DAY.isoformat())


def test_the_mode_settings_are_read_and_wrong_ones_named():
    settings = ServeSettings.from_env(
        {"MLOPS_SERVE_MODE": "Canary", "MLOPS_CANARY_SHARE": "0.25", "MLOPS_HOME": "/tmp/h"}
    )
    assert (settings.mode, settings.canary_share) == ("canary", 0.25)
    assert settings.bandit_state == Path("/tmp/h/serving/bandit.json")
    assert ServeSettings.from_env({}).mode == "champion"
    with pytest.raises(ValueError, match=r"MLOPS_CANARY_SHARE='1\.5'"):
        ServeSettings.from_env({"MLOPS_CANARY_SHARE": "1.5"})
    with pytest.raises(ValueError, match="MLOPS_SERVE_MODE='ab'"):
        ServeSettings.from_env({"MLOPS_SERVE_MODE": "ab"})
    with pytest.raises(ValueError, match="MLOPS_SERVE_LABELS_DIR"):
        ServeSettings.from_env({"MLOPS_SERVE_MODE": "bandit"})
    labels = ServeSettings.from_env({"MLOPS_SERVE_MODE": "bandit", "MLOPS_LABELS_DATA": "/l"})
    assert labels.labels_directory == Path("/l")


@pytest.fixture(scope="module")
def roles(trained):  # type: ignore[no-untyped-def]
    """v1 `champion`, v2 (another fit) `challenger`, set by hand as the gate's third outcome
    or promote_version_job would."""
    again = trained.train(data_source=TrainingDataSource(synthetic_rows=2500, synthetic_seed=7))
    assert again.success
    registry = trained.registry()
    client = registry.client()
    client.set_registered_model_alias(registry.model_name, "champion", "1")
    client.set_registered_model_alias(registry.model_name, "challenger", "2")
    return trained


def _serve(roles, tmp_path: Path, mode: str, **settings):  # type: ignore[no-untyped-def]
    return running_service(
        roles.registry(), tmp_path / "requests", clock=_served_at, mode=mode, **settings
    )


def _wait_for_challenger(service: Service) -> None:
    deadline = time.monotonic() + 60
    while service.get("/health").json().get("challenger_version") != "2":
        assert time.monotonic() < deadline, service.get("/health").json()
        time.sleep(0.1)


def test_shadow_mode_answers_with_the_champion_and_logs_both_models_predictions(roles, tmp_path):
    rows = _rows(1_000_000, 30, seed=1)
    with _serve(roles, tmp_path, "shadow") as service:
        wait_ready(service)
        _wait_for_challenger(service)
        answers = [
            service.post("/invocations", json=_body(rows.iloc[i : i + 1])) for i in range(10)
        ]
        batch = service.post("/predict", json=_body(rows.iloc[10:]))
        logged = _logged(service)

    for answer in [*answers, batch]:
        assert answer.status_code == 200
        assert answer.headers["X-Model-Version"] == "1"
        assert answer.headers["X-Model-Role"] == "champion"
    assert batch.json()["model_version"] == "1"
    assert len(logged) == 30
    assert set(logged[SERVED_ROLE_COLUMN]) == {"champion"}
    assert set(logged[SERVED_MODEL_VERSION_COLUMN]) == {"1"}
    assert set(logged[CHAMPION_VERSION_COLUMN]) == {"1"}
    assert set(logged[CHALLENGER_VERSION_COLUMN]) == {"2"}
    # Each model's logged predictions are what that registered version predicts on the rows.
    registry = roles.registry()
    schema = service.watcher.current.schema  # type: ignore[union-attr]
    features = logged[schema.feature_columns]
    for version, column in (("1", CHAMPION_PREDICTION_COLUMN), ("2", CHALLENGER_PREDICTION_COLUMN)):
        expected = registry.load_model(version).predict(features)
        assert logged[column].astype(int).tolist() == expected.astype(int).tolist()
    assert logged[SERVED_PREDICTION_COLUMN].tolist() == logged[CHAMPION_PREDICTION_COLUMN].tolist()
    answered = [a.json()["predictions"][0] for a in answers] + [
        p["label"] for p in batch.json()["predictions"]
    ]
    assert answered == logged[CHAMPION_PREDICTION_COLUMN].astype(int).tolist()


def test_canary_mode_answers_its_share_with_the_challenger_sticky_per_id(roles, tmp_path):
    share = 0.3
    rows = _rows(2_000_000, 600, seed=2)
    with _serve(roles, tmp_path, "canary", canary_share=share) as service:
        wait_ready(service)
        _wait_for_challenger(service)
        for start in range(0, 600, 100):
            assert service.post("/invocations", json=_body(rows.iloc[start : start + 100])).ok
        first = _logged(service).set_index(ID)
        # The same ids again, one per request: each meets the model it met before.
        again = {
            int(rows[ID].iloc[i]): service.post("/invocations", json=_body(rows.iloc[i : i + 1]))
            for i in range(0, 600, 15)
        }
        health = service.get("/health").json()
        metrics = service.get("/metrics").text

    challenger_share = (first[SERVED_ROLE_COLUMN] == "challenger").mean()
    # 600 rows at 0.3: the binomial's standard deviation is 0.019.
    assert abs(challenger_share - share) < 0.08, challenger_share
    assert health["mode"] == "canary" and health["canary_share"] == share
    roles_seen = set()
    for id_value, answer in again.items():
        role = first.loc[id_value, SERVED_ROLE_COLUMN]
        roles_seen.add(role)
        assert answer.headers["X-Model-Role"] == role
        assert answer.headers["X-Model-Version"] == ("2" if role == "challenger" else "1")
        column = (
            CHALLENGER_PREDICTION_COLUMN if role == "challenger" else CHAMPION_PREDICTION_COLUMN
        )
        assert answer.json()["predictions"] == [int(first.loc[id_value, column])]
    assert roles_seen == {"champion", "challenger"}
    # The answered prediction is the answering model's, row by row.
    challenger_rows = first[first[SERVED_ROLE_COLUMN] == "challenger"]
    assert (
        challenger_rows[SERVED_PREDICTION_COLUMN] == challenger_rows[CHALLENGER_PREDICTION_COLUMN]
    ).all()
    assert set(challenger_rows[SERVED_MODEL_VERSION_COLUMN]) == {"2"}
    # The metrics count each row under the version that answered it, never under "1,2".
    answered_by_challenger = (first[SERVED_ROLE_COLUMN] == "challenger").sum() + sum(
        a.headers["X-Model-Role"] == "challenger" for a in again.values()
    )
    assert (
        f'mlops_serving_answered_rows_total{{role="challenger",version="2"}} '
        f"{float(answered_by_challenger)}"
    ) in metrics
    assert 'model_version="1,2"' not in metrics


def _send(service: Service, first_id: int, requests: int, rows_each: int, seed: int) -> None:
    for k in range(requests):
        rows = _rows(first_id + k * rows_each, rows_each, seed=seed + k)
        assert service.post("/invocations", json=_body(rows)).ok


def _challenger_share(logged: pd.DataFrame, ids: range) -> float:
    part = logged[logged[ID].isin(ids)]
    return float((part[SERVED_ROLE_COLUMN] == "challenger").mean())


def test_bandit_mode_moves_traffic_to_the_model_the_late_label_files_favour(roles, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    state = tmp_path / "bandit.json"
    settings = {
        "labels_directory": labels,
        "labels_poll_seconds": 0.2,
        "bandit_state": state,
    }
    before, after = range(3_000_000, 3_000_400), range(3_100_000, 3_100_400)
    with _serve(roles, tmp_path, "bandit", **settings) as service:
        wait_ready(service)
        _wait_for_challenger(service)
        assert service.watcher.current.schema.id_columns == [ID]  # type: ignore[union-attr]
        _send(service, before.start, 10, 40, seed=10)
        logged = _logged(service)
        # The outcomes land later, as a file: the challenger turned out right on every row, the
        # champion only where it agreed with it.
        served = logged[logged[ID].isin(before)]
        delivered = pd.DataFrame(
            {ID: served[ID], "default": served[CHALLENGER_PREDICTION_COLUMN].astype(int)}
        )
        delivered.to_csv(labels / f"{DAY}.csv.tmp", index=False)
        (labels / f"{DAY}.csv.tmp").rename(labels / f"{DAY}.csv")
        deadline = time.monotonic() + 30
        while service.get("/health").json()["bandit"]["label_files_read"] < 1:
            assert time.monotonic() < deadline, service.get("/health").json()
            time.sleep(0.1)
        learned = service.get("/health").json()["bandit"]
        _send(service, after.start, 10, 40, seed=30)
        logged = _logged(service)
        metrics = service.get("/metrics").text

    agree = float(
        (served[CHAMPION_PREDICTION_COLUMN] == served[CHALLENGER_PREDICTION_COLUMN]).mean()
    )
    assert learned["champion_rewards"] + learned["challenger_rewards"] == 400
    assert learned["challenger_mean"] > 0.95
    assert learned["champion_mean"] < learned["challenger_mean"]
    assert abs(learned["champion_mean"] - agree) < 0.1
    share_before = _challenger_share(logged, before)
    share_after = _challenger_share(logged, after)
    assert 0.25 < share_before < 0.75, share_before
    assert share_after > 0.8 and share_after > share_before + 0.2, (share_before, share_after)
    assert 'mlops_serving_bandit_rewards_total{role="challenger"}' in metrics

    # A restart resumes the posterior from its file, and does not read the file again.
    with _serve(roles, tmp_path, "bandit", **settings) as service:
        wait_ready(service)
        resumed = service.get("/health").json()["bandit"]
    assert resumed["challenger_rewards"] == learned["challenger_rewards"]
    assert resumed["challenger_mean"] == pytest.approx(learned["challenger_mean"], abs=0.01)
    assert resumed["label_files_read"] == 1


def test_a_challenger_removed_mid_way_fails_no_request_and_the_champion_answers_alone(
    roles, tmp_path
):
    registry = roles.registry()
    client = registry.client()
    answers: list[tuple[float, int, str, str]] = []  # (sent, status, role, version)
    try:
        with _serve(roles, tmp_path, "canary", canary_share=0.5, poll_seconds=0.5) as service:
            wait_ready(service)
            _wait_for_challenger(service)
            stop = threading.Event()

            def load() -> None:
                i = 0
                while not stop.is_set():
                    rows = _rows(4_000_000 + i * 4, 4, seed=i)
                    sent = time.monotonic()
                    answer = service.post("/invocations", json=_body(rows))
                    answers.append(
                        (
                            sent,
                            answer.status_code,
                            answer.headers.get("X-Model-Role", ""),
                            answer.headers.get("X-Model-Version", ""),
                        )
                    )
                    i += 1

            thread = threading.Thread(target=load)
            thread.start()
            time.sleep(1.5)
            client.delete_registered_model_alias(registry.model_name, "challenger")
            removed_at = time.monotonic()
            deadline = removed_at + 30
            while service.get("/health").json()["challenger_version"] is not None:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            seen_at = time.monotonic()
            time.sleep(1.0)
            stop.set()
            thread.join(timeout=60)
            health = service.get("/health").json()
            metrics = service.get("/metrics").text
    finally:
        client.set_registered_model_alias(registry.model_name, "challenger", "2")

    assert {status for _, status, _, _ in answers} == {200}
    before = [a for a in answers if a[0] < removed_at]
    after = [a for a in answers if a[0] > seen_at]
    assert any("challenger" in role for _, _, role, _ in before)
    assert after and {(role, version) for _, _, role, version in after} == {("champion", "1")}
    assert health["status"] == "ok" and health["model_version"] == "1"
    assert health["champion_only"] is True
    assert "challenger" in health["champion_only_reason"]
    assert "mlops_serving_champion_only 1.0" in metrics
