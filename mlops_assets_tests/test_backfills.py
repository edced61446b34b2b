"""make backfill's checks, before it asks the webserver for anything."""

from datetime import date

import pytest

from mlops_assets.defs.monitoring import scoring_partitions
from mlops_assets.settings import Settings
from mlops_assets.tools.backfills import BackfillError, check_partitions, days_between, main


def test_the_days_of_a_range_are_each_day_from_first_to_last():
    assert days_between(date(2026, 1, 30), date(2026, 2, 2)) == [
        "2026-01-30",
        "2026-01-31",
        "2026-02-01",
        "2026-02-02",
    ]
    with pytest.raises(BackfillError, match="before --from"):
        days_between(date(2026, 2, 2), date(2026, 1, 30))


def test_a_day_before_the_first_partition_is_refused_naming_the_range(capsys):
    daily_partitions = scoring_partitions(Settings.from_env().scoring_start)
    first = daily_partitions.get_first_partition_key()
    check_partitions([first])
    with pytest.raises(BackfillError) as refused:
        check_partitions(["2001-01-01", first])
    assert str(refused.value).startswith("2001-01-01 is not a daily partition")
    assert f"from {first} to {daily_partitions.get_last_partition_key()}" in str(refused.value)
    # The command says so and exits non-zero, without a webserver to ask.
    assert main(["--from", "2001-01-01", "--to", "2001-01-02", "--url", "http://127.0.0.1:9"]) == 1
    assert "2001-01-01 is not a daily partition" in capsys.readouterr().err
