"""One alert per drift episode, whatever order the days arrive in."""

from datetime import date, timedelta

from mlops_assets.domain.alerts import Alert, DriftEpisodes, drift_incidents

D = date(2026, 1, 9)


def day(offset: int) -> date:
    return D + timedelta(days=offset)


def test_an_episode_of_consecutive_alarming_days_opens_one_incident():
    opened, state = drift_incidents(
        DriftEpisodes(), [(day(-1), False), (day(0), True), (day(1), True), (day(2), True)]
    )
    assert opened == [day(0)]
    # The next tick, with the cursor's state: the episode goes on, nothing new.
    opened, state = drift_incidents(state, [(day(3), True)])
    assert opened == []


def test_a_gap_ends_the_episode_and_the_next_alarm_is_a_new_incident():
    opened, _ = drift_incidents(DriftEpisodes(), [(day(0), True), (day(1), False), (day(2), True)])
    assert opened == [day(0), day(2)]


def test_a_backfilled_day_joins_its_episode_instead_of_opening_one():
    _, state = drift_incidents(DriftEpisodes(), [(day(0), True), (day(1), True)])
    opened, _ = drift_incidents(state, [(day(-1), True)])
    assert opened == []


def test_a_first_day_corrected_to_clean_does_not_announce_its_episode_again():
    _, state = drift_incidents(DriftEpisodes(), [(day(0), True), (day(1), True)])
    opened, state = drift_incidents(state, [(day(0), False), (day(1), True)])
    assert day(0) not in state.alarming
    assert opened == []


def test_the_state_round_trips_through_the_cursor_and_forgets_old_days():
    _, state = drift_incidents(DriftEpisodes(), [(day(0), True), (day(200), True)])
    again = DriftEpisodes.from_json(state.to_json())
    assert again == state
    assert day(0) not in again.alarming and day(200) in again.announced


def test_the_payload_is_a_slack_incoming_webhook_body():
    payload = Alert("rejection", "Challenger v2 rejected", "no gain", "http://ui/runs/1").payload()
    assert payload["text"] == "Challenger v2 rejected: no gain"
    (block,) = payload["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert "<http://ui/runs/1|Open in the UI>" in block["text"]["text"]
