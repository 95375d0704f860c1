"""A review of the whole treatment record on one day: every follow-up check, and what to do next."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from b12plan.domain.codes import AlertLevel, Route
from b12plan.domain.followup.course import build_course
from b12plan.domain.followup.dosing import Adherence, DueDose, adherence, dose_findings, next_due
from b12plan.domain.followup.finding import Finding, sort_findings
from b12plan.domain.followup.mistakes import detect_mistakes
from b12plan.domain.followup.record import TreatmentRecord, current_version
from b12plan.domain.followup.response import response_checks
from b12plan.domain.followup.symptoms import SymptomCycle, symptom_cycle
from b12plan.domain.followup.vials import VialStatus, vial_status
from b12plan.domain.plan import Plan
from b12plan.domain.rules import RuleSet

__all__ = ["NextStep", "Review", "review"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NextStep(_Value):
    """One thing to do, how pressing it is, and the rules it rests on."""

    text: str
    level: AlertLevel
    rules: list[str]


class Review(_Value):
    """Everything the follow-up checks found on `on`; `findings` holds them all, most serious first."""

    on: dt.date
    plan_version: int | None
    next_due: DueDose | None
    adherence: Adherence
    vials: list[VialStatus]
    response: list[Finding]
    symptom_cycle: SymptomCycle
    mistakes: list[Finding]
    findings: list[Finding]
    next_steps: list[NextStep]


def _dose_step(due: DueDose | None, plan: Plan | None, on: dt.date) -> NextStep | None:
    if due is None:
        oral = (
            next((p for p in plan.regimen.phases if p.route is Route.ORAL), None)
            if plan and plan.regimen
            else None
        )
        if oral is None:
            return None
        text = f"Injections are done: continue oral {oral.dose_mcg:g} micrograms ({oral.description})."
        return NextStep(text=text, level=AlertLevel.INFO, rules=list(oral.rules))
    what = f"{due.dose_mcg:g} micrograms" + (
        f", {due.volume_ml:g} mL {due.route.value}" if due.volume_ml else ""
    )
    if due.status == "upcoming":
        after = (
            " (provisional: it waits on the clinical review of the loading phase)" if due.provisional else ""
        )
        text = f"Next: dose {due.number} ({what}) on {due.due.isoformat()}{after}."
        return NextStep(text=text, level=AlertLevel.INFO, rules=due.rules)
    if due.status == "due":
        when = "today" if due.due == on else f"since {due.due.isoformat()}"
        text = f"Give dose {due.number} ({what}) now: due {when}."
        return NextStep(text=text, level=AlertLevel.INFO, rules=due.rules)
    text = (
        f"Give dose {due.number} ({what}) as soon as possible: due {due.due.isoformat()}, {due.days_late} "
        "days overdue. Give it once, never doubled; later doses count from the day it is given."
    )
    return NextStep(text=text, level=AlertLevel.WARNING, rules=due.rules)


def review(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> Review:
    """Every follow-up check of the record as it stands on `on` (next dose, adherence, vials, response,
    symptom cycle, mistakes), and the next steps: the next dose first, then one step per finding, most
    serious first, each with the ids of the rules it rests on. The course is laid out once and shared by
    the checks (each would build the same one from the same record and day)."""
    version = current_version(record, on)
    course = build_course(record, rules, on)
    due = next_due(record, rules, on, course=course)
    vials = vial_status(record, on, rules)
    response = response_checks(record, rules, on, course=course)
    cycle = symptom_cycle(record, rules, on, course=course)
    mistakes = detect_mistakes(record, rules, on, course=course)
    vial_findings = [v.finding for v in vials if v.finding is not None]
    doses = dose_findings(record, rules, on, course=course)
    findings = sort_findings([*doses, *response, *cycle.findings, *mistakes, *vial_findings])
    steps = [s for s in [_dose_step(due, version.plan if version else None, on)] if s is not None]
    steps += [
        NextStep(text=f.message, level=f.level, rules=f.rules) for f in findings if f.code != "DOSE_OVERDUE"
    ]
    return Review(
        on=on,
        plan_version=version.version if version else None,
        next_due=due,
        adherence=adherence(record, rules, on, course=course),
        vials=vials,
        response=response,
        symptom_cycle=cycle,
        mistakes=mistakes,
        findings=findings,
        next_steps=steps,
    )
