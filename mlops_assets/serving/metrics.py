"""The service's Prometheus metrics, in a registry of its own (never the process-wide default:
two apps in one process, as in the tests, would collide there).

Label values are bounded: endpoints and statuses are the service's own (any other path is
`other`), columns are the schema's (a request's extra columns: the first 50 names seen, then
`_other_`), classes the model's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Latency buckets around what one request costs here (1 to 100 ms), and the tail beyond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Extra column names come from clients: the first ones seen get their own series, the rest one.
MAX_EXTRA_COLUMN_LABELS = 50
OTHER_COLUMN = "_other_"
SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


class ServingMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._extra_labels: set[str] = set()
        self._loaded: dict[str, tuple[str, str]] = {}  # alias -> (model name, version)
        r = self.registry
        self.requests = Counter(
            "mlops_serving_requests",
            "Requests answered, by endpoint and HTTP status: every status, 500s and 503s too (499:"
            " the client left before its answer).",
            ["endpoint", "status"],
            registry=r,
        )
        self.rows = Counter(
            "mlops_serving_rows",
            "Rows received in scoring requests, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "mlops_serving_request_duration_seconds",
            "Time from the body read to the answer, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model = Gauge(
            "mlops_serving_model_info",
            "1 for each model version loaded (its name, version and alias: the champion, and "
            "the challenger in the shadow, canary and bandit modes).",
            ["model_name", "version", "alias"],
            registry=r,
        )
        self.model_version = Gauge(
            "mlops_serving_model_version",
            "The served version's number (0 before a champion is loaded).",
            registry=r,
        )
        self.swaps = Counter(
            "mlops_serving_model_swaps", "Champion versions loaded and swapped in.", registry=r
        )
        self.challenger_swaps = Counter(
            "mlops_serving_challenger_swaps",
            "Challenger versions loaded and swapped in, or unloaded when the alias was removed.",
            registry=r,
        )
        self.answers = Counter(
            "mlops_serving_answered_rows",
            "Rows answered, by the role and version whose prediction the client got.",
            ["role", "version"],
            registry=r,
        )
        self.challenger_failures = Counter(
            "mlops_serving_challenger_failures",
            "Requests on which the challenger could not score (the champion answered them all).",
            registry=r,
        )
        self.champion_only = Gauge(
            "mlops_serving_champion_only",
            "1 while the mode (shadow, canary, bandit) needs a challenger and none is loaded: "
            "the champion answers every request.",
            registry=r,
        )
        self.bandit_mean = Gauge(
            "mlops_serving_bandit_posterior_mean",
            "The bandit's expected reward (accuracy) of each role, from the labels so far.",
            ["role"],
            registry=r,
        )
        self.bandit_rewards = Counter(
            "mlops_serving_bandit_rewards",
            "Landed labels applied to the bandit, by role; `unmatched`: labels of rows it "
            "was not waiting for (already rewarded, never served by the bandit).",
            ["role"],
            registry=r,
        )
        self.load_failures = Counter(
            "mlops_serving_model_load_failures",
            "Model loads refused (artefact hash mismatch, missing artefact, registry down); "
            "the previous version kept serving.",
            ["reason"],
            registry=r,
        )
        self.predicted_classes = Counter(
            "mlops_serving_predicted_class",
            "Rows predicted per class (classifiers).",
            ["model_version", "label"],
            registry=r,
        )
        self.scores = Histogram(
            "mlops_serving_score",
            "The monitored score of each row: positive-class probability (binary), top-class "
            "probability (multiclass) or the predicted value (regression).",
            ["model_version"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.validation_failures = Counter(
            "mlops_serving_validation_failures",
            "Requests refused with 422, by the schema column at fault.",
            ["column"],
            registry=r,
        )
        self.data_quality = Counter(
            "mlops_serving_data_quality_rows",
            "Rows scored but flagged, by column and kind: unseen_category, null, extra_column.",
            ["column", "kind"],
            registry=r,
        )
        self.in_flight = Gauge(
            "mlops_serving_in_flight_requests",
            "Requests accepted and not yet answered (from MLOPS_SERVE_MAX_IN_FLIGHT on, a scoring "
            "request is answered 503).",
            registry=r,
        )
        self.shed = Counter(
            "mlops_serving_shed_requests",
            "Scoring requests answered 503 to shed load, by reason: in_flight "
            "(MLOPS_SERVE_MAX_IN_FLIGHT reached when its head arrived) or queue_deadline (no "
            "scoring thread within MLOPS_SERVE_QUEUE_SECONDS).",
            ["reason"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "mlops_serving_queue_wait_seconds",
            "Time a scoring request waited for a scoring thread (those that got one).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.connections_closed = Counter(
            "mlops_serving_connections_closed",
            "Connections the service closed on a deadline: idle (nothing sent) or headers (a "
            "request's headers not complete in time).",
            ["reason"],
            registry=r,
        )
        self.log_rows = Counter(
            "mlops_serving_request_log_rows",
            "Rows of the request log: written to a Parquet part, or dropped (buffer full).",
            ["outcome"],
            registry=r,
        )
        self.log_buffered = Gauge(
            "mlops_serving_request_log_buffered_rows",
            "Rows in memory not yet written (lost if the process dies now).",
            registry=r,
        )
        self.log_write_failures = Counter(
            "mlops_serving_request_log_write_failures",
            "Parts that could not be written (kept in memory for the next flush).",
            registry=r,
        )

    def served(self, model_name: str, version: str, alias: str) -> None:
        """`version` now holds `alias` in the service (a swap replaces that alias's series)."""
        self.unserved(alias)
        self.model.labels(model_name, version, alias).set(1)
        self._loaded[alias] = (model_name, version)
        if alias == "champion":
            self.swaps.inc()
            self.model_version.set(float(version) if version.isdigit() else 0)
        else:
            self.challenger_swaps.inc()

    def unserved(self, alias: str) -> None:
        """No version holds `alias` in the service any more."""
        loaded = self._loaded.pop(alias, None)
        if loaded is not None:
            self.model.remove(*loaded, alias)
            if alias != "champion":
                self.challenger_swaps.inc()

    def answered(self, endpoint: str, status: int) -> None:
        """One answer (counted by the service's outermost layer, whatever answered)."""
        self.requests.labels(endpoint, str(status)).inc()

    def scored(self, endpoint: str, status: int, rows: int, seconds: float | None = None) -> None:
        """A scoring request's rows and time (its answer is counted by `answered`)."""
        code = str(status)
        if rows:
            self.rows.labels(endpoint, code).inc(rows)
        if seconds is not None:
            self.latency.labels(endpoint).observe(seconds)

    def predicted(
        self, version: str, y_pred: np.ndarray, scores: np.ndarray, classifier: bool
    ) -> None:
        if classifier:
            labels, counts = np.unique(np.asarray(y_pred).astype(str), return_counts=True)
            for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
                self.predicted_classes.labels(version, label).inc(count)
        histogram = self.scores.labels(version)
        for score in scores.tolist():
            histogram.observe(score)

    def refused(self, columns: Sequence[str]) -> None:
        for column in columns:
            self.validation_failures.labels(column).inc()

    def flagged(self, counts: Iterable[tuple[tuple[str, str], int]], extra_kind: str) -> None:
        for (column, kind), rows in counts:
            label = column[:100]
            if kind == extra_kind and label not in self._extra_labels:
                if len(self._extra_labels) < MAX_EXTRA_COLUMN_LABELS:
                    self._extra_labels.add(label)
                else:
                    label = OTHER_COLUMN
            self.data_quality.labels(label, kind).inc(rows)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
