"""The request log: every scored row, batched in memory and written as whole Parquet parts.

Layout: `<directory>/<YYYY-MM-DD>/<HHMMSS.ffffff>-<host>-<pid>-<seq>.parquet`, the day being the
UTC day the row was served (the daily partitions' day). Each part is written to a temp file
beside it and renamed (domain/data/atomic_files.py), so a reader sees whole parts or none, and
several service processes can log into one directory. `ScoringDataSource` reads a day's
directory as that day's batch (`MLOPS_SCORING_DATA=<directory>`).

A part is written when `flush_rows` rows wait or the oldest waiting row is `flush_seconds` old,
and at shutdown. A crash (SIGKILL, power loss) loses at most what waits in memory: the rows of
the last `flush_seconds` and never more than `max_buffered_rows`. Rows beyond that bound (the
disk is failing or too slow) are dropped and counted, never allowed to stall scoring.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_assets.contracts import SERVED_AT_COLUMN
from mlops_assets.domain.data import WRITER_HOST, write_parquet_atomic
from mlops_assets.domain.served_rows import ServedRequest, served_rows
from mlops_assets.serving.metrics import ServingMetrics

log = logging.getLogger("mlops_assets.serving")


class RequestLog:
    def __init__(
        self,
        directory: Path,
        metrics: ServingMetrics,
        *,
        flush_rows: int = 1000,
        flush_seconds: float = 5.0,
        max_buffered_rows: int = 100_000,
    ) -> None:
        self.directory = directory
        self.metrics = metrics
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self._frames: list[ServedRequest] = []
        self._rows = 0
        self._oldest = 0.0  # monotonic time of the oldest waiting row
        self._lock = threading.Condition()
        self._stopping = False
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def append(self, request: ServedRequest) -> bool:
        """Queue a request's rows; False (and counted) when the buffer is full."""
        n = len(request.y_pred)
        with self._lock:
            if self._rows + n > self.max_buffered_rows:
                self.metrics.log_rows.labels("dropped").inc(n)
                return False
            if not self._frames:
                self._oldest = time.monotonic()
            self._frames.append(request)
            self._rows += n
            self.metrics.log_buffered.set(self._rows)
            if self._rows >= self.flush_rows:
                self._lock.notify()
        return True

    def close(self) -> None:
        """Write what waits, then stop the writer."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self._due():
                    wait = self.flush_seconds
                    if self._frames:
                        wait = max(0.0, self._oldest + self.flush_seconds - time.monotonic())
                    self._lock.wait(timeout=wait)
                if self._stopping:
                    return
            self.flush()

    def _due(self) -> bool:
        if not self._frames:
            return False
        return (
            self._rows >= self.flush_rows or time.monotonic() - self._oldest >= self.flush_seconds
        )

    def flush(self) -> list[Path]:
        """Write every waiting row, one part per UTC day; the written parts' paths."""
        with self._lock:
            frames, self._frames = self._frames, []
            self._rows = 0
            self.metrics.log_buffered.set(0)
        if not frames:
            return []
        batch = served_rows(self._score_unscored(frames))
        written = []
        days = batch[SERVED_AT_COLUMN].dt.strftime("%Y-%m-%d")
        for day, part in batch.groupby(days, sort=True):
            first = part[SERVED_AT_COLUMN].iloc[0]
            name = (
                f"{first:%H%M%S.%f}-{WRITER_HOST}-{os.getpid()}-{next(self._sequence):06d}.parquet"
            )
            path = self.directory / str(day) / name
            try:
                write_parquet_atomic(part.reset_index(drop=True), path)
            except OSError as error:
                self._requeue([r for r in frames if f"{r.served_at:%Y-%m-%d}" == day], error)
                continue
            written.append(path)
            self.metrics.log_rows.labels("written").inc(len(part))
        return written

    def _score_unscored(self, requests: Sequence[ServedRequest]) -> list[ServedRequest]:
        """The predictions the answering path left to the log (`BothScored.unscored`: the
        shadow's challenger, the champion behind a challenger's answer), one batch per model.
        A model that fails here leaves its predictions null, counted and logged."""
        from threadpoolctl import threadpool_limits

        batches: dict[int, list[int]] = {}
        for i, request in enumerate(requests):
            if request.both is not None and request.both.unscored is not None:
                batches.setdefault(id(request.both.unscored), []).append(i)
        done = list(requests)
        for indices in batches.values():
            pipeline = requests[indices[0]].both.unscored  # type: ignore[union-attr]
            features = pd.concat(
                [requests[i].prepared.features for i in indices], ignore_index=True
            )
            predicted: np.ndarray | None
            try:
                # One OpenMP thread, as on the scoring threads: this one shares their CPUs.
                with threadpool_limits(1, user_api="openmp"):
                    predicted = np.asarray(pipeline.predict(features))
            except Exception:
                self.metrics.challenger_failures.inc()
                log.exception("request log: the model behind the answer could not score")
                predicted = None
            offset = 0
            for i in indices:
                request = requests[i]
                both = request.both
                assert both is not None
                n = len(request.y_pred)
                part = None if predicted is None else predicted[offset : offset + n]
                offset += n
                filled = replace(
                    both,
                    unscored=None,
                    champion_pred=both.champion_pred if both.champion_pred is not None else part,
                    challenger_pred=(
                        both.challenger_pred if both.challenger_pred is not None else part
                    ),
                )
                done[i] = replace(request, both=filled)
        return done

    def _requeue(self, requests: list[ServedRequest], error: OSError) -> None:
        """Keep an unwritten part's requests for the next flush, within the memory bound."""
        n = sum(len(r.y_pred) for r in requests)
        self.metrics.log_write_failures.inc()
        log.error("request log: cannot write %d rows (%s); kept for the next flush", n, error)
        with self._lock:
            if self._rows + n > self.max_buffered_rows:
                self.metrics.log_rows.labels("dropped").inc(n)
                return
            if not self._frames:
                self._oldest = time.monotonic()
            self._frames[:0] = requests
            self._rows += n
            self.metrics.log_buffered.set(self._rows)
