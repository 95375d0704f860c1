"""When the next dose is due, how the planned doses went, and what an overdue dose calls for (REFERENCE 4.6).

No guideline gives a rule for missed doses; b12plan's own (design) rules are: the next dose counts from the
last injection actually given (FU-REANCHOR); a dose up to FU-LATE days after its day is on time; an overdue
dose is given as soon as possible and never doubled (FU-NO-DOUBLE); a long gap (FU-LONG-GAP) counts as
missed and needs a clinician's review, as does an overdue dose with returning symptoms (reloading possible).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from b12plan.domain.codes import AlertLevel, Route, Stage
from b12plan.domain.followup.course import Course, Slot, build_course
from b12plan.domain.followup.finding import Finding, followup_rule, make_finding, number
from b12plan.domain.followup.record import TreatmentRecord
from b12plan.domain.followup.symptoms import returned_since
from b12plan.domain.rules import RuleSet

__all__ = ["Adherence", "DoseOutcome", "DueDose", "adherence", "dose_findings", "long_gap_days", "next_due"]

DueStatus = Literal["upcoming", "due", "overdue"]
OutcomeStatus = Literal["on_time", "late", "missed", "overdue"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DueDose(_Value):
    """The next planned dose: due day, what to give, and how late it is on the day asked about.

    `days_late` is 0 until the due day has passed. `status`: `upcoming` before the due day, `due` up to
    FU-LATE days after it, `overdue` later (give as soon as possible, once). `number` counts the doses of
    the current plan's course from 1; `provisional` marks a maintenance dose that waits on the review of an
    open-ended loading phase.
    """

    due: dt.date
    stage: Stage
    dose_mcg: float
    volume_ml: float | None
    route: Route
    days_late: int
    status: DueStatus
    rules: list[str]
    number: int = 1
    syringe_units: float | None = None
    provisional: bool = False


class DoseOutcome(_Value):
    """One planned dose: given on time, late, missed (a long gap, given or not), or overdue now.

    `days_late` is signed: negative when given early (still on time unless it was a doubled dose, which is
    not a planned dose at all and is counted in `Adherence.extra`).
    """

    number: int
    stage: Stage
    due: dt.date
    given: dt.date | None
    days_late: int
    status: OutcomeStatus
    rules: list[str]


class Adherence(_Value):
    """How the planned doses due by a day went, dose by dose, with the counts."""

    doses: list[DoseOutcome]
    planned: int
    given: int
    on_time: int
    late: int
    missed: int
    overdue: int
    extra: int
    rules: list[str]


def long_gap_days(slot: Slot, rules: RuleSet) -> float:
    """Days overdue beyond which a dose counts as missed (FU-LONG-GAP): `days`, or for a maintenance dose
    `fraction` of its interval when that is shorter."""
    rule = followup_rule(rules, "followup.long_gap")
    limit = number(rule, "days")
    if slot.stage is Stage.MAINTENANCE:
        limit = min(limit, number(rule, "fraction") * slot.interval_days)
    return limit


def _grace(rules: RuleSet) -> int:
    return int(number(followup_rule(rules, "followup.late"), "days"))


def _due_dose(course: Course, rules: RuleSet, on: dt.date) -> DueDose | None:
    slot = course.pending
    if slot is None:
        return None
    due = course.due(slot)
    late = max(0, (on - due).days)
    status: DueStatus = "upcoming" if on < due else "due" if late <= _grace(rules) else "overdue"
    ids = list(slot.rules)
    if slot.index:
        ids.append(followup_rule(rules, "followup.reanchor").id)
    if late:
        ids.append(followup_rule(rules, "followup.late").id)
    if status == "overdue":
        ids.append(course.no_double.id)
    if slot.provisional:
        ids += [r.id for r in [rules.find_logic("schedule.open_loading")] if r is not None]
    return DueDose(
        due=due,
        stage=slot.stage,
        dose_mcg=slot.dose_mcg,
        volume_ml=slot.volume_ml,
        route=slot.route,
        days_late=late,
        status=status,
        rules=list(dict.fromkeys(ids)),
        number=slot.number,
        syringe_units=slot.syringe_units,
        provisional=slot.provisional,
    )


def next_due(
    record: TreatmentRecord, rules: RuleSet, on: dt.date, *, course: Course | None = None
) -> DueDose | None:
    """The next dose of the current plan as the record stands on `on`, or None when no injection is planned
    (no plan, no regimen, or an oral phase next: daily tablets are not tracked dose by dose).

    Due its planned gap after the last injection given (FU-REANCHOR), so never on or before that day; a late
    dose stays one dose, due as soon as possible. `course` is `build_course(record, rules, on)` when the
    caller has already laid it out (`review`: every check shares one).
    """
    return _due_dose(course or build_course(record, rules, on), rules, on)


def adherence(
    record: TreatmentRecord, rules: RuleSet, on: dt.date, *, course: Course | None = None
) -> Adherence:
    """Each planned dose due by `on`: on time (up to FU-LATE days after its day), late (days), missed (more
    than the FU-LONG-GAP limit late, whether given since or not), or overdue now; with the counts.
    Injections that were not a planned dose (doubled, too soon, extra loading) are counted in `extra`."""
    course = course or build_course(record, rules, on)
    grace = _grace(rules)
    late_rule, gap_rule = followup_rule(rules, "followup.late"), followup_rule(rules, "followup.long_gap")
    outcomes: list[DoseOutcome] = []
    for given in course.given:
        status: OutcomeStatus = "on_time"
        if given.days_late > long_gap_days(given.slot, rules):
            status = "missed"
        elif given.days_late > grace:
            status = "late"
        outcomes.append(
            DoseOutcome(
                number=given.slot.number,
                stage=given.slot.stage,
                due=given.due,
                given=given.day,
                days_late=given.days_late,
                status=status,
                rules=[late_rule.id, gap_rule.id] if status == "missed" else [late_rule.id],
            )
        )
    pending = course.pending
    due = course.due(pending) if pending is not None else on
    if pending is not None and (on - due).days > grace:
        late = (on - due).days
        missed = late > long_gap_days(pending, rules)
        outcomes.append(
            DoseOutcome(
                number=pending.number,
                stage=pending.stage,
                due=due,
                given=None,
                days_late=late,
                status="missed" if missed else "overdue",
                rules=[late_rule.id, gap_rule.id] if missed else [late_rule.id],
            )
        )
    reanchor = followup_rule(rules, "followup.reanchor")
    count = {s: sum(1 for o in outcomes if o.status == s) for s in ("on_time", "late", "missed", "overdue")}
    return Adherence(
        doses=outcomes,
        planned=len(outcomes),
        given=len(course.given),
        on_time=count["on_time"],
        late=count["late"],
        missed=count["missed"],
        overdue=count["overdue"],
        extra=len(course.extras),
        rules=[reanchor.id, late_rule.id, gap_rule.id, course.no_double.id],
    )


def dose_findings(
    record: TreatmentRecord, rules: RuleSet, on: dt.date, *, course: Course | None = None
) -> list[Finding]:
    """What the next dose calls for on `on`: DOSE_OVERDUE when it is overdue (give once, as soon as
    possible), and OVERDUE_REVIEW when the gap is long or symptoms have come back since the last injection
    (a clinician reviews first: reloading may be needed)."""
    course = course or build_course(record, rules, on)
    due = _due_dose(course, rules, on)
    if due is None or due.status != "overdue" or course.pending is None:
        return []
    what = f"{due.dose_mcg:g} micrograms" + (
        f", {due.volume_ml:g} mL {due.route.value}" if due.volume_ml else ""
    )
    findings = [
        make_finding(
            rules,
            "DOSE_OVERDUE",
            AlertLevel.WARNING,
            f"Dose {due.number} ({what}) was due on {due.due.isoformat()}, {due.days_late} days ago: give "
            "it as soon as possible, once, never doubled. Later doses count from the day it is given.",
            [followup_rule(rules, f"followup.{role}").id for role in ("reanchor", "late", "no_double")],
        )
    ]
    if course.pending.index == 0 or course.last is None:
        return findings  # not started yet: nothing to reload
    limit = long_gap_days(course.pending, rules)
    back = returned_since(record, rules, course.last, on)
    why: list[str] = []
    ids = [followup_rule(rules, "followup.long_gap").id]
    if due.days_late > limit:
        why.append(f"the gap is long (more than {limit:g} days overdue)")
    if back:
        names = ", ".join(s.value.replace("_", " ") for s in back)
        why.append(f"symptoms have come back since the last injection ({names})")
        ids += [followup_rule(rules, f"followup.{role}").id for role in ("symptom_cycle", "symptom_scale")]
    if why:
        message = (
            f"Dose {due.number} is {due.days_late} days overdue and {' and '.join(why)}: ask a clinician to "
            "review now; a new course of loading doses may be needed instead of a single dose."
        )
        findings.append(make_finding(rules, "OVERDUE_REVIEW", AlertLevel.WARNING, message, ids))
    return findings
