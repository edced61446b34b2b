"""Issue 15 item 5: the reference scores for prediction drift are out-of-sample (the
validation split's), so a clean built-in day does not read as prediction drift."""

import dagster as dg

CLEAN_DAY, DRIFTED_DAY = "2026-01-03", "2026-01-20"  # the built-in drift starts 2026-01-09


def _report(project, day: str):  # type: ignore[no-untyped-def]
    from mlops_assets.definitions import defs

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    assert result.success
    return next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("drift_report")
    )


def test_clean_days_show_no_prediction_drift_and_drifted_days_raise_its_psi(trained):
    clean = _report(trained, CLEAN_DAY)
    assert clean["prediction_drift"].value is False
    assert clean["prediction_psi"].value < 0.1
    drifted = _report(trained, DRIFTED_DAY)
    assert drifted["prediction_psi"].value > 2 * clean["prediction_psi"].value
