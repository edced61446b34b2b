"""What a failed run says: which asset failed, and its message."""

import dagster as dg


def failed_asset(event: dg.DagsterEvent) -> str:
    """The asset a STEP_FAILURE event failed at: its step's, or for the daily monitoring
    multi-asset (one step for six assets) the `failed_asset` its failure names."""
    data = event.step_failure_data
    user = data.user_failure_data if data is not None else None
    named = user.metadata.get("failed_asset") if user is not None else None
    return str(named.value) if named is not None else str(event.step_key)


def step_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """(the failed asset, the error message) of a run's first failed step."""
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return failed_asset(event), event.step_failure_data.error.message
