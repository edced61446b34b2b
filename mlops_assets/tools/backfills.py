"""`make backfill`: the monitoring days in a range, launched as the Dagster UI launches them.

The UI's "Materialize" on a range of partitions creates an *asset backfill*: the daemon's
backfill loop plans it and, because the monitoring assets have `BackfillPolicy.single_run()`,
launches one run for the whole range, in which every day is still its own partition. This
command sends the webserver that same request (its GraphQL `launchPartitionBackfill`), so a
backfill from the terminal is the one a person would start by clicking, shown on the UI's
backfill page. `dagster job backfill` makes a job backfill instead: one run per day, about ten
seconds of process start and imports each (bench/RESULTS.md).

    python -m mlops_assets.tools.backfills --from 2026-01-02 --to 2026-03-02 [--url http://...]

The webserver and the daemon are the ones `make ui` starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import date, timedelta

from mlops_assets.defs.monitoring.jobs import monitoring_assets
from mlops_assets.settings import Settings

DEFAULT_UI_URL = "http://127.0.0.1:3000"

_LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
  }
}
"""


class BackfillError(Exception):
    """The backfill could not be launched; the message says why and what to do."""


def days_between(first: date, last: date) -> list[str]:
    if last < first:
        raise BackfillError(f"--to {last} is before --from {first}")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def check_partitions(days: Sequence[str]) -> None:
    """Every day is a daily partition of the code location (as this environment loads it:
    `make` gives the webserver and this command the same MLOPS_HOME and settings)."""
    from mlops_assets.defs.monitoring.partitions import scoring_partitions

    daily_partitions = scoring_partitions(Settings.from_env().scoring_start)

    first = daily_partitions.get_first_partition_key()
    last = daily_partitions.get_last_partition_key()
    outside = [day for day in days if not daily_partitions.has_partition_key(day)]
    if outside:
        raise BackfillError(
            f"{outside[0]} is not a daily partition: the partitions run from {first} to {last} "
            "(MLOPS_SCORING_START, or the first daily file of MLOPS_SCORING_DATA, sets the "
            "first; the last is yesterday)."
        )


def launch_backfill(url: str, assets: Sequence[str], partitions: Sequence[str]) -> str:
    """Ask the webserver at `url` for an asset backfill of `assets` over `partitions`; its ID."""
    params = {
        "assetSelection": [{"path": [name]} for name in assets],
        "partitionNames": list(partitions),
        "title": f"monitoring {partitions[0]}..{partitions[-1]}",
        "tags": [{"key": "mlops/purpose", "value": "monitoring"}],
    }
    body = json.dumps({"query": _LAUNCH, "variables": {"params": params}}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        # The webserver answers a failed mutation with HTTP 500 and the error in its body.
        try:
            answer = json.load(error)
        except ValueError:
            raise BackfillError(f"{url} answered HTTP {error.code}: {error.reason}") from error
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise BackfillError(
            f"no Dagster webserver at {url} ({error}): start it with `make ui` (or set "
            "MLOPS_DAGSTER_UI_URL to yours), then run this again."
        ) from error
    if answer.get("errors"):
        raise BackfillError(f"{url} refused the backfill: {answer['errors'][0]['message']}")
    result = (answer.get("data") or {}).get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        reason = result.get("message") or result
        raise BackfillError(f"{url} refused the backfill: {reason}")
    return str(result["backfillId"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    parser.add_argument("--url", default=os.environ.get("MLOPS_DAGSTER_UI_URL") or DEFAULT_UI_URL)
    args = parser.parse_args(argv)
    try:
        days = days_between(args.first, args.last)
        check_partitions(days)
        backfill_id = launch_backfill(args.url, monitoring_assets(Settings.from_env()), days)
    except BackfillError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"backfill {backfill_id}: {days[0]}..{days[-1]} ({len(days)} days, one run); "
        f"follow it at {args.url.rstrip('/')}/runs/b/{backfill_id}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
