"""The alerts webhook: where incident messages are posted (MLOPS_ALERT_WEBHOOK_URL)."""

import json
import urllib.error
import urllib.request

import dagster as dg

from mlops_assets.domain.alerts import Alert


class AlertDeliveryError(RuntimeError):
    """The webhook did not take the message; the sensor retries it on its next tick."""


class AlertWebhook(dg.ConfigurableResource):
    """A Slack-compatible incoming webhook. The URL holds a secret: set it only through the
    MLOPS_ALERT_WEBHOOK_URL environment variable, which Dagster resolves at run time and never
    shows. Empty: alerts are off (the alert sensors say so on each tick)."""

    url: str = ""
    dagster_ui_url: str = "http://127.0.0.1:3000"  # MLOPS_DAGSTER_UI_URL, for the links
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def run_url(self, run_id: str) -> str:
        return f"{self.dagster_ui_url.rstrip('/')}/runs/{run_id}"

    def post(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(alert.payload()).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise AlertDeliveryError(f"alert webhook unreachable: {error}") from error
        if not 200 <= status < 300:
            raise AlertDeliveryError(f"alert webhook answered HTTP {status} to {alert.title!r}")
