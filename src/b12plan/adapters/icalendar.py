"""A plan as an iCalendar feed (RFC 5545): one VEVENT per planned injection, oral start, test and review.

Choices, and why:
- One VEVENT per dose, never an RRULE: a dose moved or skipped changes one event, and calendar apps that
  mishandle recurrence exceptions cannot lose a dose.
- Every DTSTART carries a TZID, and the VTIMEZONE is written here with yearly RRULE pairs (one STANDARD,
  one DAYLIGHT) worked out from zoneinfo's transitions. icalendar's auto-generated VTIMEZONE is misread by
  vobject and ical.js (09:00 London in December came back as 08:00 UTC; ECOSYSTEM.md). A zone whose rule
  changes inside the plan's years gets one component per transition instead.
- UIDs come from the calendar id, the event kind, the stage and the event's place among events of that kind
  and stage, never from the date: a plan re-exported with shifted dates updates the same events (with a
  later DTSTAMP, or a higher SEQUENCE) instead of duplicating them.
- Each event has a display VALARM; many apps drop alarms from subscribed feeds, so reminders that must
  arrive need a server-side path too.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from b12plan.adapters.render import _words as w
from b12plan.domain.codes import EventKind, Route, Stage
from b12plan.domain.plan import Event as PlanEvent
from b12plan.domain.plan import Phase, Plan
from b12plan.errors import FieldProblem, UserError

__all__ = ["PRODID", "event_uid", "plan_to_ics", "vtimezone"]

PRODID = "-//b12plan//EN"
_UID_NAMESPACE = uuid.UUID("6f1b9d4e-2a57-4c1e-9a43-0b12b12b1200")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# How long each kind of event blocks the calendar, and when its reminder shows (before the start).
_DURATION = {
    EventKind.INJECTION: dt.timedelta(minutes=15),
    EventKind.ORAL: dt.timedelta(minutes=5),
    EventKind.TEST: dt.timedelta(minutes=15),
    EventKind.REVIEW: dt.timedelta(minutes=20),
}
_REMINDER = {
    EventKind.INJECTION: dt.timedelta(days=1),
    EventKind.ORAL: dt.timedelta(0),
    EventKind.TEST: dt.timedelta(days=1),
    EventKind.REVIEW: dt.timedelta(days=1),
}


def plan_to_ics(
    plan: Plan,
    *,
    tz: str = "Europe/London",
    calendar_id: str,
    event_time: dt.time = dt.time(9, 0),
    calendar_name: str = "Vitamin B12 treatment",
    sequence: int = 0,
    stamp: dt.datetime | None = None,
) -> bytes:
    """The plan's dated events as an RFC 5545 calendar (UTF-8 bytes, CRLF line ends).

    Each event starts at `event_time`, local time in the IANA zone `tz`. `calendar_id` identifies this
    person's calendar (not their name: it is hashed into the UIDs). Raise `sequence` when re-issuing
    changed events by hand. `stamp` is DTSTAMP, the time of export: the caller passes its clock (adapters
    read none), so a later export of the same UIDs wins; without it, midnight UTC of the plan's start date
    keeps the output reproducible.
    """
    if not calendar_id.strip():
        raise UserError([FieldProblem("calendar_id", "must not be empty")])
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError([FieldProblem("tz", f"{tz!r} is not a known IANA time zone")]) from None
    if stamp is None:
        stamp = dt.datetime.combine(plan.generated_for, dt.time(0), tzinfo=dt.UTC)
    elif stamp.utcoffset() is None:
        raise ValueError("stamp needs a UTC offset (an aware datetime)")
    stamp = stamp.astimezone(dt.UTC)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", tz)
    if plan.events:
        years = range(min(e.date for e in plan.events).year, max(e.date for e in plan.events).year + 1)
        cal.add_component(vtimezone(tz, years))

    counts: Counter[tuple[EventKind, Stage | None]] = Counter()
    totals = _stage_totals(plan)
    for event in plan.events:
        counts[event.kind, event.stage] += 1
        number = counts[event.kind, event.stage]
        start = dt.datetime.combine(event.date, event_time, tzinfo=zone)
        summary, description = _texts(plan, event, number, totals.get(event.stage))
        vevent = Event()
        vevent.add("uid", event_uid(calendar_id, event.kind, event.stage, number))
        vevent.add("dtstamp", stamp)
        vevent.add("sequence", sequence)
        vevent.add("dtstart", start)
        vevent.add("dtend", start + _DURATION[event.kind])
        vevent.add("summary", summary)
        vevent.add("description", description)
        vevent.add("status", "TENTATIVE" if event.provisional else "CONFIRMED")
        vevent.add("transp", "TRANSPARENT")
        vevent.add("categories", ["B12", event.kind.value])
        vevent.add_component(_alarm(event.kind, summary))
        cal.add_component(vevent)
    return bytes(cal.to_ical())


def event_uid(calendar_id: str, kind: EventKind, stage: Stage | None, number: int) -> str:
    """Stable UID for the `number`th event (from 1) of this kind and stage in this calendar."""
    key = f"{calendar_id}/{kind.value}/{stage.value if stage else '-'}/{number}"
    return f"{uuid.uuid5(_UID_NAMESPACE, key)}@b12plan"


def _alarm(kind: EventKind, summary: str) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Reminder: {summary}")
    alarm.add("trigger", -_REMINDER[kind])
    return alarm


def _stage_totals(plan: Plan) -> dict[Stage | None, int]:
    """Doses planned per stage, where every phase of that stage has a dose count."""
    totals: dict[Stage | None, int] = {}
    if plan.regimen is None:
        return totals
    for stage in Stage:
        phases = [p for p in plan.regimen.phases if p.stage is stage]
        if phases and all(p.doses is not None for p in phases):
            totals[stage] = sum(p.doses or 0 for p in phases)
    return totals


def _phase_for(plan: Plan, event: PlanEvent) -> Phase | None:
    if plan.regimen is None:
        return None
    route = event.route or (Route.ORAL if event.kind is EventKind.ORAL else None)
    for phase in plan.regimen.phases:
        if phase.stage is event.stage and (route is None or phase.route is route):
            return phase
    return None


def _dose_words(event: PlanEvent, phase: Phase | None) -> str:
    dose = f"{w.number(event.dose_mcg)} micrograms" if event.dose_mcg is not None else "dose as prescribed"
    volume = event.volume_ml if event.volume_ml is not None else (phase.volume_ml if phase else None)
    units = (
        event.syringe_units if event.syringe_units is not None else (phase.syringe_units if phase else None)
    )
    extra = [f"{w.number(volume)} mL"] if volume is not None else []
    if units is not None:
        extra.append(f"{w.number(units)} units on a U-100 syringe")
    return f"{dose} ({', '.join(extra)})" if extra else dose


def _every(phase: Phase | None) -> str:
    return f" {w.plain_every_words(phase.interval_days, phase.times_per_week)}" if phase else ""


def _texts(plan: Plan, event: PlanEvent, number: int, total: int | None) -> tuple[str, str]:
    """SUMMARY and DESCRIPTION of one event, in words."""
    medicine = plan.regimen.formulation.value.capitalize() if plan.regimen else "Vitamin B12"
    phase = _phase_for(plan, event)
    flag = " (provisional)" if event.provisional else ""
    lines: list[str] = []
    if event.kind is EventKind.INJECTION:
        route = event.route or (phase.route if phase else None)
        dose = _dose_words(event, phase)
        summary = f"B12 injection{flag}: {dose}"
        how = f" {w.ROUTE_WORDS[route]}" if route else ""
        lines.append(f"{medicine} {dose}{how}.")
        if event.stage:
            of = f" of {total}" if total else ""
            lines.append(f"{event.stage.value.capitalize()} dose {number}{of}.")
    elif event.kind is EventKind.ORAL:
        dose = _dose_words(event, phase)
        summary = f"Start B12 tablets{flag}: {dose}{_every(phase)}"
        lines.append(f"Start {medicine.lower()} {dose} by mouth{_every(phase)}.")
    elif event.kind is EventKind.TEST:
        tests = ", ".join(w.STANDALONE_TEST_WORDS[t] for t in event.tests or ()) or "as requested"
        summary = f"B12 blood test{flag}: {tests}"
        lines.append(f"Blood test: {tests}.")
    else:
        summary = f"B12 treatment review{flag}"
        lines.append("Review of vitamin B12 treatment with the clinician.")
    if event.note:
        lines.append(event.note)
    if event.provisional:
        lines.append("Provisional: the date depends on an earlier result or review.")
    lines.append(f"Planned by b12plan ({plan.ruleset.title}); a prescriber must confirm this plan.")
    return summary, "\n".join(lines)


# --- VTIMEZONE from zoneinfo ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Transition:
    local: dt.datetime  # wall-clock time of the change, read in the offset before it (naive)
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str

    def rule_key(self) -> tuple[int, str, dt.time, dt.timedelta, dt.timedelta, str]:
        """The yearly rule this transition fits: (month, BYDAY, time, from, to, name)."""
        day = self.local.day
        last = day + 7 > _calendar.monthrange(self.local.year, self.local.month)[1]
        nth = -1 if last else (day - 1) // 7 + 1
        byday = f"{nth}{_WEEKDAYS[self.local.weekday()]}"
        return (self.local.month, byday, self.local.time(), self.offset_from, self.offset_to, self.name)


def _offset(zone: ZoneInfo, at: dt.datetime) -> dt.timedelta:
    return at.astimezone(zone).utcoffset() or dt.timedelta(0)


def _transitions(zone: ZoneInfo, year: int) -> list[_Transition]:
    """Every change of UTC offset in `year`, found by stepping 6 hours and bisecting to the second."""
    found: list[_Transition] = []
    step = dt.timedelta(hours=6)
    at = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    while at < end:
        before, after = _offset(zone, at), _offset(zone, at + step)
        if before != after:
            lo, hi = at, at + step
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(zone, mid) == before else (lo, mid)
            local = (hi + before).replace(tzinfo=None)
            found.append(_Transition(local, before, after, hi.astimezone(zone).tzname() or ""))
        at += step
    return found


def vtimezone(tz: str, years: Iterable[int]) -> Timezone:
    """A VTIMEZONE for `tz` valid over `years` (and the year either side), readable by vobject and ical.js.

    Yearly RRULE pairs when the zone keeps one rule over those years; one component per transition when
    its rule changes; a single STANDARD component when it has no transitions.
    """
    zone = ZoneInfo(tz)
    span = sorted(set(years))
    span = list(range(span[0] - 1, span[-1] + 2)) if span else [2000]
    by_year = {year: _transitions(zone, year) for year in span}
    vtz = Timezone()
    vtz.add("tzid", tz)
    all_transitions = [t for year in span for t in by_year[year]]
    if not all_transitions:
        start = dt.datetime(span[0], 1, 1, tzinfo=dt.UTC)
        offset = _offset(zone, start)
        name = start.astimezone(zone).tzname() or tz
        vtz.add_component(_observance(dt.datetime(1970, 1, 1), offset, offset, name, None, daylight=False))
        return vtz
    keys = {year: sorted(t.rule_key() for t in by_year[year]) for year in span}
    yearly = len({tuple(k) for k in keys.values()}) == 1 and len(keys[span[0]]) == 2
    if yearly:
        pair = by_year[span[0]]
        high = max(t.offset_to for t in pair)
        for t in pair:
            month, byday, _, _, _, _ = t.rule_key()
            rrule = {"FREQ": "YEARLY", "BYMONTH": month, "BYDAY": byday}
            vtz.add_component(
                _observance(t.local, t.offset_from, t.offset_to, t.name, rrule, daylight=t.offset_to == high)
            )
        return vtz
    high = max(t.offset_to for t in all_transitions)
    first = all_transitions[0]
    opening = dt.datetime(span[0], 1, 1)
    opening_name = opening.replace(tzinfo=zone).tzname() or tz
    vtz.add_component(
        _observance(
            opening,
            first.offset_from,
            first.offset_from,
            opening_name,
            None,
            daylight=first.offset_from == high,
        )
    )
    for t in all_transitions:
        vtz.add_component(
            _observance(t.local, t.offset_from, t.offset_to, t.name, None, daylight=t.offset_to == high)
        )
    return vtz


def _observance(
    start: dt.datetime,
    offset_from: dt.timedelta,
    offset_to: dt.timedelta,
    name: str,
    rrule: dict[str, object] | None,
    *,
    daylight: bool,
) -> TimezoneStandard | TimezoneDaylight:
    part: TimezoneStandard | TimezoneDaylight = TimezoneDaylight() if daylight else TimezoneStandard()
    part.add("dtstart", start)
    part.add("tzoffsetfrom", offset_from)
    part.add("tzoffsetto", offset_to)
    part.add("tzname", name)
    if rrule:
        part.add("rrule", rrule)
    return part
