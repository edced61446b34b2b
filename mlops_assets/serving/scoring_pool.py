"""Scoring off the event loop, with a queue-time deadline.

Scoring used to run on the event loop. Under 200 clients that made the loop the bottleneck of
everything else: while it scored, it neither accepted connections nor read requests, so new
connections waited in the kernel's accept queue (160 to 190 of them, `ss -ltn`) for tens of
seconds before the in-flight cap could even see them (docs/serving.md#service-limits). Here
the loop only accepts, reads, sheds and answers; scoring runs on a few threads of its own.

A request waits for a scoring thread at most `queue_seconds`: past that it is refused with a
503 at its deadline (the job is cancelled before it starts, never scored late), so a queue
longer than the threads can clear in time is shed instead of served seconds late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mlops_assets.serving.metrics import ServingMetrics

T = TypeVar("T")
QUEUE_DEADLINE = "queue_deadline"


class QueueDeadlineExceeded(Exception):
    """The request waited `queue_seconds` for a scoring thread and was not scored."""

    def __init__(self, queue_seconds: float) -> None:
        super().__init__(
            f"no scoring thread within {queue_seconds:g} s (MLOPS_SERVE_QUEUE_SECONDS): "
            "retry shortly"
        )


def _one_native_thread() -> None:
    # HistGradientBoosting predicts in an OpenMP parallel region: on a busy machine its
    # barrier waits for a descheduled thread, which made a 1-row request take seconds. The
    # pool's threads are the parallelism here. OpenMP keeps the limit per thread: the process's
    # other threads keep their default.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="openmp")


class ScoringPool:
    """`threads` scoring threads and the queue-time deadline (see the module)."""

    def __init__(self, threads: int, queue_seconds: float, metrics: ServingMetrics) -> None:
        self.threads = threads
        self.queue_seconds = queue_seconds
        self.metrics = metrics
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(
            self.threads, thread_name_prefix="scoring", initializer=_one_native_thread
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn()` on a scoring thread; `QueueDeadlineExceeded` if none took it in time."""
        if self._executor is None:
            raise RuntimeError("the scoring pool is not started (the app's lifespan starts it)")
        queued = time.perf_counter()

        def job() -> T:
            self.metrics.queue_wait.observe(time.perf_counter() - queued)
            return fn()

        future = self._executor.submit(job)
        waiting = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({waiting}, timeout=self.queue_seconds)
        # A job a thread already took is past its queue and is awaited; one still queued is
        # cancelled, so it never runs after its caller got the 503.
        if not done and future.cancel():
            self.metrics.shed.labels(QUEUE_DEADLINE).inc()
            raise QueueDeadlineExceeded(self.queue_seconds)
        return await waiting
