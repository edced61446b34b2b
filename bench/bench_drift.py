"""Drift on one batch: evidently's DataDriftPreset against our engine, on the same frames.

25 columns (20 numeric, 5 categorical); the reference is as large as the batch and drawn from
the same distribution, and 6 of the batch's columns drift. Timed, each side one after the
other in this process:

(a) evidently: `Report([DataDriftPreset()]).run(current, reference)` (imported beforehand);
(b) ours with the reference profile built beforehand (the daily case): `compute_drift` only;
(c) ours including `build_reference_profile` on the reference frame;
(d) the floor: one vectorised pass, `np.sort` of the batch's numeric block and
    `np.searchsorted` of the profile's reference values into each sorted column.

    python bench/bench_drift.py [--quick]
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from common import Section, Target, fmt, interleaved, median, timings

from mlops_assets.domain.drift import ReferenceProfile, build_reference_profile, compute_drift
from mlops_assets.domain.evidently_report import EVIDENTLY_METHODS, import_evidently

NUMERIC = tuple(f"num_{i:02d}" for i in range(20))
CATEGORICAL = tuple(f"cat_{i}" for i in range(5))
# Clear shifts, so that a verdict never hangs on the last digit of a score.
DRIFTED = {"num_00": 0.5, "num_05": 0.3, "num_10": -0.4, "num_15": 0.25}
DRIFTED_CATEGORIES = ("cat_0", "cat_3")
LEVELS = [f"level_{j}" for j in range(8)]
SHARES = np.array([0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04])
SHIFTED_SHARES = np.array([0.1, 0.12, 0.15, 0.12, 0.1, 0.13, 0.13, 0.15])


def make_frame(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        shift = DRIFTED.get(name, 0.0) if drifted else 0.0
        kind = i % 4
        if kind == 0:
            columns[name] = rng.normal(shift, 1.0, n)
        elif kind == 1:
            columns[name] = rng.lognormal(shift * 0.5, 0.5, n)
        elif kind == 2:
            columns[name] = rng.gamma(2.0, 1.0, n) + shift * 1.4
        else:
            columns[name] = rng.beta(2.0, 5.0, n) + shift * 0.16
    for name in CATEGORICAL:
        shares = SHIFTED_SHARES if drifted and name in DRIFTED_CATEGORIES else SHARES
        columns[name] = rng.choice(LEVELS, n, p=shares)
    frame = pd.DataFrame(columns)
    frame["num_03"] = frame["num_03"].mask(rng.random(n) < 0.02)
    return frame


SPEEDUP_TARGET = 30.0
FLOOR_TARGET = 3.0


def run(quick: bool) -> Section:
    sizes = (20_000, 100_000) if quick else (100_000, 1_000_000)
    # evidently takes over a minute at 1M rows: two runs there.
    repeats = {n: 1 if quick else 3 if n <= 100_000 else 2 for n in sizes}
    ev = import_evidently()  # seconds of import, kept out of the timings
    ours_repeats = 3 if quick else 9
    results = [_one_size(ev, n, repeats[n], ours_repeats) for n in sizes]
    rows = [r["row"] for r in results]
    notes = [r["note"] for r in results]
    big = results[-1]
    text = (
        "## Drift: evidently DataDriftPreset vs our engine (25 columns: 20 numeric, 5 "
        "categorical)\n\n"
        "Reference and batch of the same size, 6 drifted columns; seconds, min / median / max "
        "over the evidently runs ("
        + ", ".join(f"{repeats[n]} at {n:,}" for n in sizes)
        + f" rows) and {ours_repeats} of each of ours (taken in turns). "
        "(a) evidently "
        "`Report.run`; (b) ours, reference profile cached (the daily case); (c) ours, building "
        "the profile too; (d) the floor: one `np.sort` of the numeric block and `searchsorted` "
        "of the reference points (no categorical work at all).\n\n"
        "| rows | (a) evidently | (b) ours, cached | (c) ours + profile | (d) floor | "
        "evidently / ours (a)/(b) | (a)/(c) | ours / floor (b)/(d) |\n"
        "| ---: | --- | --- | --- | --- | ---: | ---: | ---: |\n"
        + "\n".join(rows)
        + "\n\nAgreement of our `evidently_drifted` with evidently's own per-column verdict "
        "(our profile keeps a 5000-point quantile sketch of each numeric reference column):\n\n"
        + "\n".join(notes)
        + "\n"
    )
    n = f"{sizes[-1]:,}"
    targets = (
        Target(
            claim=f"drift at {n} rows, evidently / ours (cached profile)",
            target=f">= {SPEEDUP_TARGET:.0f}x, same verdicts",
            measured=f"{big['speedup']:.0f}x ({big['speedup_with_profile']:.0f}x building the "
            f"profile too), verdicts agree on {big['agree']}",
            met=big["speedup"] >= SPEEDUP_TARGET and big["all_agree"],
        ),
        Target(
            claim=f"drift at {n} rows, ours (cached profile) / sort + searchsorted floor",
            target=f"<= {FLOOR_TARGET:.0f}x",
            measured=f"{big['floor_ratio']:.1f}x",
            met=big["floor_ratio"] <= FLOOR_TARGET,
        ),
    )
    return Section(text, targets)


def _one_size(ev: SimpleNamespace, n: int, repeats: int, ours_repeats: int) -> dict[str, Any]:
    """One table row, one agreement note and the ratios, for reference and batch of `n` rows."""
    rng = np.random.default_rng(n)
    reference = make_frame(rng, n, drifted=False)
    current = make_frame(rng, n, drifted=True)
    definition = ev.DataDefinition(
        numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL)
    )
    snapshots = []

    def evidently_run() -> None:
        snapshots.append(
            ev.Report([ev.DataDriftPreset()], include_tests=True).run(
                ev.Dataset.from_pandas(current, data_definition=definition),
                ev.Dataset.from_pandas(reference, data_definition=definition),
            )
        )

    evidently_times = timings(evidently_run, repeats)
    profile = build_reference_profile(reference, NUMERIC, CATEGORICAL)

    ours = interleaved(
        {
            "cached": lambda: compute_drift(profile, current),
            "with_profile": lambda: compute_drift(
                build_reference_profile(reference, NUMERIC, CATEGORICAL), current
            ),
            "floor": lambda: _single_pass(profile, current),
        },
        ours_repeats,
    )
    cached, with_profile = ours["cached"], ours["with_profile"]
    floor = ours["floor"]
    result = compute_drift(profile, current)
    verdicts = {f.feature: f.evidently_drifted for f in result.features}
    theirs = _verdicts(snapshots[-1])
    disagree = sorted(c for c in verdicts if verdicts[c] != theirs.get(c))
    theirs_drifted = sorted(c for c, v in theirs.items() if v)
    agree = f"{len(verdicts) - len(disagree)} / {len(verdicts)} columns"
    note = (
        f"- {n:,} rows: per-column verdicts agree on {agree}"
        + (f" (differ: {', '.join(disagree)})" if disagree else "")
        + f"; evidently calls {len(theirs_drifted)} drifted: {', '.join(theirs_drifted)}."
    )
    m = {
        "speedup": median(evidently_times) / median(cached),
        "speedup_with_profile": median(evidently_times) / median(with_profile),
        "floor_ratio": median(cached) / median(floor),
    }
    row = (
        f"| {n:,} | {fmt(evidently_times)} | {fmt(cached)} | {fmt(with_profile)} | "
        f"{fmt(floor)} | **{m['speedup']:.0f}x** | "
        f"{m['speedup_with_profile']:.0f}x | **{m['floor_ratio']:.1f}x** |"
    )
    return m | {"row": row, "note": note, "agree": agree, "all_agree": not disagree}


def _single_pass(profile: ReferenceProfile, current: pd.DataFrame) -> None:
    block = np.empty((len(profile.numeric), len(current)))
    for i, column in enumerate(profile.numeric):
        block[i] = current[column.name].to_numpy(dtype=np.float64, na_value=np.nan)
    block.sort(axis=1)
    for i, column in enumerate(profile.numeric):
        np.searchsorted(block[i], column.values)


def _verdicts(snapshot: Any) -> dict[str, bool]:
    out = {}
    for test in snapshot.dict()["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type") == "evidently:metric_v2:ValueDrift":
            assert params["method"] in EVIDENTLY_METHODS, params["method"]
            out[params["column"]] = str(getattr(test["status"], "value", test["status"])) == "FAIL"
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller data, one repeat")
    print(run(quick=parser.parse_args().quick).text)
