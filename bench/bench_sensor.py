"""drift_retraining_sensor: one tick's evaluation time against the length of the history.

A real Dagster instance (`dg.instance_for_test`, SQLite on disk) holds N past drift_report
materialisations, one per daily partition, reported as the sensor tests do
(mlops_assets_tests/test_sensors.py); the newest two days are critical, so the tick takes its
longest path (history read, run queries, a RunRequest). Timed: building the sensor context and
`evaluate_tick`, as the daemon does each interval, with no cursor (the newest report is judged
every time). The baseline is the same tick with one report.

    python bench/bench_sensor.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import dagster as dg
from common import Section, Target, fmt, median, timings

SIZES = (1, 1000)
TARGET_SECONDS = 1.0
FLAT_RATIO = 2.0  # "flat": the tick at 1000 reports within this factor of the tick at one


def run(quick: bool) -> Section:
    repeats = 10 if quick else 30
    rows, results = [], {}
    for n in SIZES:
        with dg.instance_for_test() as instance:
            reporting = _report_history(instance, n)
            ticks = _tick_timings(instance, repeats)
        results[n] = ticks
        rows.append(f"| {n:,} | {fmt([t * 1000 for t in ticks], 1)} | {reporting:.1f} |")
    one, many = median(results[SIZES[0]]), median(results[SIZES[-1]])
    ratio = many / one
    met = many < TARGET_SECONDS and ratio < FLAT_RATIO
    text = (
        "## Sensor tick: `drift_retraining_sensor` against the number of past reports\n\n"
        f"Real SQLite instance; milliseconds per tick, min / median / max over {repeats} ticks "
        "(one untimed tick first).\n\n"
        "| past drift reports | tick (ms) | setting up the history (s, not timed in the tick) |\n"
        "| ---: | --- | ---: |\n"
        + "\n".join(rows)
        + f"\n\nTick at {SIZES[-1]:,} reports / tick at {SIZES[0]} (median): **{ratio:.2f}x**; "
        f"{many * 1000:.0f} ms at {SIZES[-1]:,} (target: flat, under {TARGET_SECONDS:.0f} s).\n"
    )
    target = Target(
        claim=f"sensor tick with {SIZES[-1]:,} past reports (and / tick with 1)",
        target=f"< {TARGET_SECONDS:.0f} s, flat",
        measured=f"{many * 1000:.0f} ms ({ratio:.2f}x)",
        met=met,
    )
    return Section(text, (target,))


def _report_history(instance: dg.DagsterInstance, n: int) -> float:
    """N daily drift reports ending today-ish; the newest two critical. Returns seconds taken."""
    started = time.perf_counter()
    first = date(2026, 1, 2) - timedelta(days=max(n - 2, 0))
    for i in range(n):
        day = first + timedelta(days=i)
        critical = i >= n - 2
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="drift_report",
                partition=day.isoformat(),
                metadata={
                    "severity": "critical" if critical else "none",
                    "performance_dropped": False,
                    "drifted_share": 0.6 if critical else 0.0,
                },
            )
        )
    return time.perf_counter() - started


def _tick_timings(instance: dg.DagsterInstance, repeats: int) -> list[float]:
    from mlops_assets.definitions import defs
    from mlops_assets.defs.retraining.sensors import RetrainingSettings

    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    # debounce 1: the tick with a single report launches too, so both sides take the same path.
    settings = RetrainingSettings(debounce_days=1)

    def tick() -> None:
        with dg.build_sensor_context(
            instance=instance, resources={"retraining_settings": settings}
        ) as context:
            result = sensor.evaluate_tick(context)
        if len(result.run_requests or ()) != 1:
            raise RuntimeError(f"expected one RunRequest, got {result.skip_message!r}")

    tick()
    return timings(tick, repeats)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer ticks")
    print(run(quick=parser.parse_args().quick).text)
