"""The dated calendar: injections, oral starts, tests and reviews from `start_date` to the horizon.

Spacing rules come from the rule set (`schedule.*` design rules and the phases' numbers); monitoring events
from its `monitor` rules. Pure date arithmetic: no clock. Guarantees (property-tested): events are sorted,
no two injections fall on one day, every event carries the rule ids that placed it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from b12plan.domain.codes import EventKind, Route, Stage
from b12plan.domain.findings import Findings
from b12plan.domain.plan import Event, Phase, Regimen
from b12plan.domain.rules import MonitorRule, RuleSet

__all__ = ["add_months", "build_schedule", "horizon_end"]

_KIND_ORDER = {EventKind.INJECTION: 0, EventKind.ORAL: 1, EventKind.TEST: 2, EventKind.REVIEW: 3}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later (the last day when the month is shorter)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError("date value out of range")  # as date + timedelta does
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def horizon_end(start: dt.date, months: int) -> dt.date:
    """The first day after the planning horizon."""
    return add_months(start, months)


def _offsets(times_per_week: int, rules: RuleSet) -> tuple[list[int], str | None]:
    rule = rules.find_logic("schedule.three_weekly")
    if rule is not None and rule.offsets and len(rule.offsets) == times_per_week:
        return list(rule.offsets), rule.id
    return [round(i * 7 / times_per_week) for i in range(times_per_week)], None


def _dose_days(phase: Phase, first: dt.date, end: dt.date, rules: RuleSet) -> tuple[list[dt.date], list[str]]:
    """Dates of one phase's doses, starting on `first`, never on or after `end`."""
    extra: list[str] = []
    days: list[dt.date] = []
    if phase.times_per_week:
        offsets, rule_id = _offsets(phase.times_per_week, rules)
        extra += [rule_id] if rule_id else []
        week = 0
        while phase.doses is not None and len(days) < phase.doses:
            days += [first + dt.timedelta(days=7 * week + o) for o in offsets][: phase.doses - len(days)]
            week += 1
    else:
        step = dt.timedelta(days=phase.interval_days)
        limit = end
        if phase.doses is None and phase.review_after_days is not None:
            limit = min(end, first + dt.timedelta(days=phase.review_after_days))
        day = first
        while day < limit and (phase.doses is None or len(days) < phase.doses):
            days.append(day)
            day += step
    return [d for d in days if d < end], extra


def _note(phase: Phase, regimen: Regimen) -> str:
    """What to take by mouth; injection events carry their dose in fields, not a note."""
    tablet = regimen.oral_product or regimen.product
    tabs = phase.tablets_per_dose or 1
    return f"Start oral {tablet.name}: {tabs} tablet{'s' if tabs > 1 else ''} daily between meals."


def _phase_events(regimen: Regimen, start: dt.date, end: dt.date, rules: RuleSet) -> list[Event]:
    events: list[Event] = []
    cursor: dt.date | None = None  # the last dose of the previous phase
    provisional = False
    maintenance_rule = rules.logic("schedule.maintenance_start").id
    for index, phase in enumerate(regimen.phases):
        first = start if cursor is None else cursor + dt.timedelta(days=max(1, round(phase.interval_days)))
        chain = [] if cursor is None else [maintenance_rule]
        if phase.route is Route.ORAL and phase.interval_days == 1:
            if first < end:
                events.append(
                    Event(
                        date=first,
                        kind=EventKind.ORAL,
                        stage=phase.stage,
                        phase=index,
                        dose_mcg=phase.dose_mcg,
                        route=Route.ORAL,
                        note=_note(phase, regimen),
                        provisional=provisional,
                        rules=[*phase.rules, *chain],
                    )
                )
            cursor = first
            continue
        days, extra = _dose_days(phase, first, end, rules)
        if phase.stage is Stage.MAINTENANCE:
            extra.append(rules.logic("schedule.horizon").id)
        kind = EventKind.ORAL if phase.route is Route.ORAL else EventKind.INJECTION
        note = _note(phase, regimen) if kind is EventKind.ORAL else None
        for day in days:
            events.append(
                Event(
                    date=day,
                    kind=kind,
                    stage=phase.stage,
                    phase=index,
                    dose_mcg=phase.dose_mcg,
                    volume_ml=phase.volume_ml,
                    syringe_units=phase.syringe_units,
                    route=phase.route,
                    note=note,
                    provisional=provisional,
                    rules=list(dict.fromkeys([*phase.rules, *extra, *chain])),
                )
            )
        if phase.doses is None and phase.review_after_days is not None:
            review = first + dt.timedelta(days=phase.review_after_days)
            open_rule = rules.find_logic("schedule.open_loading")
            if review < end:
                events.append(
                    Event(
                        date=review,
                        kind=EventKind.REVIEW,
                        stage=phase.stage,
                        provisional=provisional,
                        note="Clinical review of the loading phase: continue alternate-day doses while "
                        "symptoms still improve, or move to maintenance. Dates after this are provisional.",
                        rules=list(dict.fromkeys([*phase.rules, *([open_rule.id] if open_rule else [])])),
                    )
                )
            provisional = True
        cursor = days[-1] if days else first
    return events


def _applies(rule: MonitorRule, f: Findings, treated: bool, prophylaxis: bool) -> bool:
    pregnant = f.pregnant_or_breastfeeding
    return {
        # prophylaxis (no deficiency): no response tests, the reviews still apply
        "treated": treated and not (prophylaxis and rule.kind == "test"),
        "treated_not_pregnant": treated and not pregnant,
        "treated_pregnant": treated and pregnant,
        "severe_anaemia": treated and f.severe_anaemia,
        "neurological": treated and f.neurological,
        "not_treated": not treated
        and f.status.value in ("indeterminate", "insufficient_data", "uninterpretable"),
        "autoimmune": treated and f.group == "autoimmune",
    }[rule.when]


def _monitoring(
    f: Findings, rules: RuleSet, start: dt.date, end: dt.date, treated: bool, prophylaxis: bool
) -> list[Event]:
    events: list[Event] = []
    for rule in rules.of(MonitorRule):
        day = start + dt.timedelta(days=rule.after_days)
        if day < end and _applies(rule, f, treated, prophylaxis):
            kind = EventKind.TEST if rule.kind == "test" else EventKind.REVIEW
            events.append(
                Event(date=day, kind=kind, tests=list(rule.tests) or None, note=rule.note, rules=[rule.id])
            )
    return events


def _merge(events: Iterable[Event]) -> list[Event]:
    """One test or review event per day: tests, notes and rules of the same kind and day are joined."""
    out: list[Event] = []
    index: dict[tuple[dt.date, EventKind], int] = {}
    for ev in events:
        key = (ev.date, ev.kind)
        if ev.kind in (EventKind.TEST, EventKind.REVIEW) and key in index:
            old = out[index[key]]
            tests = list(dict.fromkeys([*(old.tests or []), *(ev.tests or [])])) or None
            note = " ".join(n for n in (old.note, ev.note) if n)
            rules = list(dict.fromkeys([*old.rules, *ev.rules]))
            out[index[key]] = old.model_copy(update={"tests": tests, "note": note, "rules": rules})
            continue
        index[key] = len(out)
        out.append(ev)
    return sorted(out, key=lambda e: (e.date, _KIND_ORDER[e.kind]))


def build_schedule(
    f: Findings,
    regimen: Regimen | None,
    rules: RuleSet,
    start: dt.date,
    horizon_months: int,
    *,
    prophylaxis: bool = False,
) -> list[Event]:
    """Every dated event of the plan from `start` up to (not including) the horizon's end."""
    end = horizon_end(start, horizon_months)
    events = _phase_events(regimen, start, end, rules) if regimen is not None else []
    events += _monitoring(f, rules, start, end, treated=regimen is not None, prophylaxis=prophylaxis)
    return _merge(events)
