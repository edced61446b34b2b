"""Alerts reach a real HTTP receiver on 127.0.0.1: one per drift episode, one per promotion
or rejection, a failed run with its link; a webhook that fails gets the alert on the next tick."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components import MlopsModel
from mlops_assets.definitions import defs
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets.resources.data_source import ScoringDataSource


class Receiver:
    """A webhook endpoint: records each JSON body; answers `status` (500 to refuse)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                if receiver.status == 200:
                    receiver.bodies.append(body)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _tick(trained, webhook: AlertWebhook, cursor: str | None) -> tuple[str | None, str]:
    with dg.build_sensor_context(
        instance=trained.instance, cursor=cursor, resources={"alert_webhook": webhook}
    ) as context:
        tick = defs.resolve_sensor_def("monitoring_alerts_sensor").evaluate_tick(context)
    return tick.cursor, tick.skip_message or ""


def _score(trained, day: str, **source) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=trained.instance,
        resources=trained.resources(scoring_source=ScoringDataSource(**source)),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
        raise_on_error=False,
    )


def test_one_alert_per_incident_and_a_refused_delivery_is_sent_next_tick(trained, receiver):
    webhook = AlertWebhook(url=receiver.url, dagster_ui_url="http://ui.test")
    # v1's promotion, from the training run.
    cursor, message = _tick(trained, webhook, None)
    assert receiver.texts[0].startswith("Model v1 promoted to champion")
    assert message == "sent 1 alert(s)"

    # Three critical days in a row are one episode; a clean day between is none.
    for day in ("2026-02-01", "2026-02-10", "2026-02-11", "2026-02-12"):
        assert _score(trained, day, drift_start="2026-02-10").success
    receiver.status = 500
    refused_cursor, message = _tick(trained, webhook, cursor)
    assert "HTTP 500" in message and receiver.bodies == [receiver.bodies[0]]
    receiver.status = 200
    cursor, message = _tick(trained, webhook, refused_cursor)
    (drift,) = receiver.bodies[1:]
    assert "2026-02-10" in drift["text"] and "model v1" in drift["text"]
    assert "http://ui.test/runs/" in drift["blocks"][0]["text"]["text"]

    # Nothing new: nothing sent, however often the sensor ticks.
    cursor, message = _tick(trained, webhook, cursor)
    assert message == "no new incident" and len(receiver.bodies) == 2


def test_a_failed_run_is_posted_with_its_link(trained, receiver, tmp_path):
    failed = _score(trained, "2026-02-20", location=str(tmp_path / "missing"))
    assert not failed.success
    run = trained.instance.get_run_by_id(failed.run_id)
    failure = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    webhook = AlertWebhook(url=receiver.url, dagster_ui_url="http://ui.test")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=trained.instance,
        dagster_run=run,
        resources={"alert_webhook": webhook},
    ).for_run_failure()
    defs.resolve_sensor_def("run_failure_alert_sensor")(context)
    (body,) = receiver.bodies
    assert body["text"].startswith("daily_monitoring_job failed for 2026-02-20")
    assert f"http://ui.test/runs/{failed.run_id}" in body["blocks"][0]["text"]["text"]


def test_without_a_webhook_url_alerts_are_off_and_say_so(trained):
    _, message = _tick(trained, AlertWebhook(), None)
    assert "MLOPS_ALERT_WEBHOOK_URL is not set" in message


def test_each_models_alerts_sensor_posts_its_own_drift_only(receiver):
    car_loan = Path(__file__).resolve().parent / "data" / "car_loan"
    model = MlopsModel.resolve_from_yaml(
        f"name: car_loan\ntraining:\n  location: {car_loan / 'train.csv'}\n  target: repaid\n"
    )
    both = dg.Definitions.merge(defs, dg.build_defs_for_component(model))
    webhook = AlertWebhook(url=receiver.url, dagster_ui_url="http://ui.test")
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["car_loan", "drift_report"]),
                partition="2026-02-10",
                metadata={"severity": "critical", "drifted_share": 0.6, "model_version": 2},
            )
        )
        messages = {}
        for name in ("monitoring_alerts_sensor", "car_loan__monitoring_alerts_sensor"):
            with dg.build_sensor_context(
                instance=instance, resources={"alert_webhook": webhook}
            ) as context:
                messages[name] = both.resolve_sensor_def(name).evaluate_tick(context).skip_message

    assert messages == {
        "monitoring_alerts_sensor": "no new incident",
        "car_loan__monitoring_alerts_sensor": "sent 1 alert(s)",
    }
    assert receiver.texts[0].startswith("car_loan: Critical drift from 2026-02-10 (model v2)")


def test_a_day_critical_by_its_data_quality_drift_is_posted_with_its_findings(receiver):
    """Data-quality drift sets the day's severity (issue 29): a column whose values went half
    missing makes the day critical with no feature drifted. The alert said "Critical drift:
    0% of features drifted" and nothing else, so the person paged could not tell why; it now
    names the findings, as the drift check's description does."""
    webhook = AlertWebhook(url=receiver.url, dagster_ui_url="http://ui.test")
    finding = "`income`: 52.0% missing against 1.0% in training"
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["drift_report"]),
                partition="2026-02-10",
                metadata={
                    "severity": "critical",
                    "drifted_share": 0.0,
                    "model_version": 2,
                    "data_quality_drift": finding,
                },
            )
        )
        with dg.build_sensor_context(
            instance=instance, resources={"alert_webhook": webhook}
        ) as context:
            tick = defs.resolve_sensor_def("monitoring_alerts_sensor").evaluate_tick(context)

    assert tick.skip_message == "sent 1 alert(s)"
    (text,) = receiver.texts
    assert text.startswith("Critical drift from 2026-02-10 (model v2)")
    assert f"data-quality drift: {finding}" in text
