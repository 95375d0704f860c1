"""The plan as iCalendar: read back by two parsers (icalendar, vobject) and compared with the plan.

Plans are built by hand in fixtures/plan_*.json (the planner is not used here).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
import vobject.icalendar
from dateutil import tz as dateutil_tz

from b12plan.adapters.icalendar import PRODID, event_uid, plan_to_ics, vtimezone
from b12plan.domain.codes import EventKind, Stage
from b12plan.domain.plan import Event, Plan
from b12plan.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures"
STAMP = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Asia/Jerusalem"]


def load_plan(name: str) -> Plan:
    return Plan.model_validate_json((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(params=["plan_im_loading", "plan_sc_neuro", "plan_oral"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return load_plan(request.param)


def ics(plan: Plan, zone: str = "Europe/London", calendar_id: str = "cal-42") -> bytes:
    return plan_to_ics(plan, tz=zone, calendar_id=calendar_id, stamp=STAMP)


def events_of(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def shifted(plan: Plan, days: int) -> Plan:
    moved = [e.model_copy(update={"date": e.date + dt.timedelta(days=days)}) for e in plan.events]
    return plan.model_copy(update={"events": moved})


def vobject_calendar(data: bytes) -> Any:
    # vobject keeps one process-wide TZID registry and lets the first VTIMEZONE it saw win: start clean.
    # With pytz installed it resolves an event's TZID by name, so our VTIMEZONE is also read on its own
    # (`cal.vtimezone.gettzinfo()`, dateutil's tzical, as vobject does when it registers one).
    registry = vars(vobject.icalendar)["__tzidMap"]
    registry.clear()
    registry["UTC"] = dateutil_tz.tzutc()
    return vobject.readOne(data.decode("utf-8"))


def expected_text(event: Event) -> list[str]:
    """What the summary must say for this planned event."""
    if event.kind in (EventKind.INJECTION, EventKind.ORAL):
        words = [f"{event.dose_mcg:g} micrograms"]
        if event.volume_ml is not None:
            words.append(f"{event.volume_ml:g} mL")
        if event.syringe_units is not None:
            words.append(f"{event.syringe_units:g} units")
        return words
    if event.kind is EventKind.TEST:
        return ["blood test"]
    return ["review"]


def test_calendar_properties() -> None:
    cal = icalendar.Calendar.from_ical(ics(load_plan("plan_im_loading")))
    assert str(cal["PRODID"]) == PRODID == "-//b12plan//EN"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["X-WR-CALNAME"]) == "Vitamin B12 treatment"
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/London"


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_every_event_read_back_by_icalendar(plan: Plan, zone: str) -> None:
    events = events_of(ics(plan, zone))
    assert len(events) == len(plan.events)
    for planned, vevent in zip(plan.events, events, strict=True):
        start = vevent.decoded("DTSTART")
        assert start.date() == planned.date
        assert start.time() == dt.time(9, 0)
        assert vevent["DTSTART"].params["TZID"] == zone
        assert start.utcoffset() == dt.datetime.combine(planned.date, dt.time(9), ZoneInfo(zone)).utcoffset()
        summary = str(vevent["SUMMARY"])
        for words in expected_text(planned):
            assert words in summary.lower() or words in summary
        if planned.note:
            assert planned.note in str(vevent["DESCRIPTION"])
        assert "RRULE" not in vevent
        assert int(vevent["SEQUENCE"]) == 0
        assert vevent.decoded("DTSTAMP") == STAMP
        [alarm] = vevent.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY"
        if planned.kind is EventKind.INJECTION:
            assert alarm.decoded("TRIGGER") == -dt.timedelta(days=1)


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_every_event_read_back_by_vobject(plan: Plan, zone: str) -> None:
    cal = vobject_calendar(ics(plan, zone))
    ours = cal.vtimezone.gettzinfo()
    events = cal.vevent_list
    assert len(events) == len(plan.events)
    for planned, vevent in zip(plan.events, events, strict=True):
        start = vevent.dtstart.value
        assert (start.date(), start.time()) == (planned.date, dt.time(9, 0))
        utc = dt.datetime.combine(planned.date, dt.time(9), ZoneInfo(zone)).astimezone(dt.UTC)
        assert start.astimezone(dt.UTC) == utc
        assert start.replace(tzinfo=ours).astimezone(dt.UTC) == utc
        summary = vevent.summary.value
        for words in expected_text(planned):
            assert words in summary.lower() or words in summary
        assert vevent.valarm.action.value == "DISPLAY"


@pytest.mark.parametrize("zone", [*ZONES, "Africa/Casablanca", "UTC"])
def test_our_vtimezone_is_read_right_by_both_parsers(zone: str) -> None:
    """Read our VTIMEZONE itself (not the TZID name) with dateutil, as vobject does, and with icalendar."""
    plan = load_plan("plan_im_loading")
    data = ics(plan, zone)
    cal = icalendar.Calendar.from_ical(data)
    [vtz] = cal.walk("VTIMEZONE")
    by_icalendar = vtz.to_tz(lookup_tzid=False)
    by_vobject = vobject_calendar(data).vtimezone.gettzinfo()
    by_dateutil = dateutil_tz.tzical(io.StringIO(vtz.to_ical().decode())).get()
    for event in plan.events:
        local = dt.datetime.combine(event.date, dt.time(9))
        truth = local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
        for reader in (by_icalendar, by_vobject, by_dateutil):
            assert local.replace(tzinfo=reader).astimezone(dt.UTC) == truth, (zone, event.date, reader)


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_vtimezone_is_a_yearly_rrule_pair(zone: str) -> None:
    text = vtimezone(zone, [2026]).to_ical().decode()
    assert text.count("BEGIN:STANDARD") == 1
    assert text.count("BEGIN:DAYLIGHT") == 1
    assert text.count("RRULE:FREQ=YEARLY") == 2
    assert "BYDAY=-1SU" in text if zone == "Europe/London" else "BYDAY=2SU" in text


def test_june_and_december_both_read_0900_local() -> None:
    plan = load_plan("plan_im_loading")
    june = next(e for e in plan.events if e.date.month == 6)
    december = next(e for e in plan.events if e.date.month == 12)
    cal = vobject_calendar(ics(plan))
    ours = cal.vtimezone.gettzinfo()
    starts = {e.dtstart.value.date(): e.dtstart.value for e in cal.vevent_list}
    for event, utc_hour in ((june, 8), (december, 9)):
        start = starts[event.date]
        assert start.time() == dt.time(9, 0)
        assert start.astimezone(dt.UTC).hour == utc_hour
        assert start.replace(tzinfo=ours).astimezone(dt.UTC).hour == utc_hour


def test_uids_stay_when_the_dates_shift() -> None:
    plan = load_plan("plan_im_loading")
    before = events_of(ics(plan))
    after = events_of(ics(shifted(plan, 3)))
    assert [str(e["UID"]) for e in before] == [str(e["UID"]) for e in after]
    assert all(a.decoded("DTSTART") != b.decoded("DTSTART") for a, b in zip(before, after, strict=True))
    assert len({str(e["UID"]) for e in before}) == len(before)


def test_uid_names_kind_stage_and_place_not_the_date() -> None:
    plan = load_plan("plan_im_loading")
    uids = [str(e["UID"]) for e in events_of(ics(plan))]
    first_maintenance = next(
        i for i, e in enumerate(plan.events) if e.kind is EventKind.INJECTION and e.stage is Stage.MAINTENANCE
    )
    assert uids[first_maintenance] == event_uid("cal-42", EventKind.INJECTION, Stage.MAINTENANCE, 1)
    assert uids[0] == event_uid("cal-42", EventKind.INJECTION, Stage.REPLETION, 1)
    # Another calendar (another person) never shares a UID.
    other = {str(e["UID"]) for e in events_of(ics(plan, calendar_id="cal-43"))}
    assert not other & set(uids)


def test_a_dropped_test_keeps_every_other_uid() -> None:
    plan = load_plan("plan_im_loading")
    tests = [e for e in plan.events if e.kind is EventKind.TEST]
    fewer = plan.model_copy(update={"events": [e for e in plan.events if e is not tests[-1]]})
    full = {str(e["UID"]) for e in events_of(ics(plan))}
    assert {str(e["UID"]) for e in events_of(ics(fewer))} == full - {
        event_uid("cal-42", EventKind.TEST, None, len(tests))
    }


def test_sc_dose_gives_syringe_units_and_route() -> None:
    vevent = events_of(ics(load_plan("plan_sc_neuro")))[0]
    assert str(vevent["SUMMARY"]) == "B12 injection: 1000 micrograms (1 mL, 100 units on a U-100 syringe)"
    assert "by subcutaneous injection" in str(vevent["DESCRIPTION"])


def test_injection_description_counts_the_loading_doses() -> None:
    descriptions = [str(e["DESCRIPTION"]) for e in events_of(ics(load_plan("plan_im_loading")))]
    assert "Repletion dose 6 of 6." in "\n".join(descriptions)
    assert "Hydroxocobalamin 1000 micrograms (1 mL) by intramuscular injection." in descriptions[0]


def test_oral_start_tests_in_words_and_review() -> None:
    summaries = [str(e["SUMMARY"]) for e in events_of(ics(load_plan("plan_oral")))]
    assert summaries == [
        "Start B12 tablets: 1000 micrograms every day",
        "B12 blood test: vitamin B12 (total), haemoglobin (full blood count)",
        "B12 treatment review",
        "Start B12 tablets (provisional): 1000 micrograms every day",
    ]


def test_provisional_events_are_tentative() -> None:
    plan = load_plan("plan_sc_neuro")
    for planned, vevent in zip(plan.events, events_of(ics(plan)), strict=True):
        assert str(vevent["STATUS"]) == ("TENTATIVE" if planned.provisional else "CONFIRMED")


def test_event_time_and_sequence_are_the_callers() -> None:
    plan = load_plan("plan_oral")
    data = plan_to_ics(plan, calendar_id="x", event_time=dt.time(18, 30), sequence=2, stamp=STAMP)
    for vevent in events_of(data):
        assert vevent.decoded("DTSTART").time() == dt.time(18, 30)
        assert int(vevent["SEQUENCE"]) == 2


def test_output_is_reproducible() -> None:
    plan = load_plan("plan_sc_neuro")
    assert ics(plan) == ics(plan)
    assert b"\r\n" in ics(plan)
    default = plan_to_ics(plan, calendar_id="cal-42")
    assert default == plan_to_ics(plan, calendar_id="cal-42")
    assert events_of(default)[0].decoded("DTSTAMP") == dt.datetime(2026, 3, 16, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"tz": "Mars/Olympus"}, "tz"), ({"calendar_id": " "}, "calendar_id")],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, str], field: str) -> None:
    args: dict[str, Any] = {"calendar_id": "c", **kwargs}
    with pytest.raises(UserError) as caught:
        plan_to_ics(load_plan("plan_oral"), stamp=STAMP, **args)
    assert caught.value.problems[0].field == field
