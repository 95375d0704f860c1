"""The symptom diary read against the injections: the cycle between doses, returns, persistence, worsening.

Scores run from 0 (none) to 10 (worst); FU-SYMPTOM-SCALE says from which score a symptom counts as present.
A maintenance cycle runs from an injection to the next one; within it a symptom *returns* when its score
rises FU-SYMPTOM-CYCLE points above its lowest earlier score in the cycle and counts as present. A return
well before the next dose, seen in several cycles, means the interval may be too long: NICE allows more
frequent injections in line with the product information (FU-ADJUST-INTERVAL).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from b12plan.domain.codes import NEUROLOGICAL_SYMPTOMS, AlertLevel, Symptom
from b12plan.domain.followup.course import Course, build_course
from b12plan.domain.followup.finding import Finding, followup_rule, make_finding, number
from b12plan.domain.followup.record import SymptomEntry, TreatmentRecord
from b12plan.domain.rules import RuleSet

__all__ = [
    "SymptomCycle",
    "SymptomReturn",
    "persisting",
    "present_points",
    "returned_since",
    "symptom_cycle",
    "worsening",
]


class SymptomReturn(BaseModel):
    """A symptom coming back in one maintenance cycle: `day` days after the injection that began it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symptom: Symptom
    cycle_start: dt.date
    day: int
    interval_days: int
    early: bool


class SymptomCycle(BaseModel):
    """Mean score by day since the last injection, across maintenance cycles, and the returns found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cycles: int
    mean_by_day: dict[Symptom, dict[int, float]]
    returns: list[SymptomReturn]
    findings: list[Finding]
    rules: list[str]


def present_points(rules: RuleSet) -> int:
    """The score from which a symptom counts as present (FU-SYMPTOM-SCALE)."""
    return int(number(followup_rule(rules, "followup.symptom_scale"), "points"))


def _by_symptom(entries: Iterable[SymptomEntry]) -> dict[Symptom, list[SymptomEntry]]:
    found: dict[Symptom, list[SymptomEntry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.date):
        found[entry.symptom].append(entry)
    return found


def _return_day(entries: Sequence[SymptomEntry], rise: int, present: int) -> dt.date | None:
    """The first entry whose score is `rise` above the lowest score before it, and present."""
    lowest: int | None = None
    for entry in entries:
        if lowest is not None and entry.score >= max(lowest + rise, present):
            return entry.date
        lowest = entry.score if lowest is None else min(lowest, entry.score)
    return None


def symptom_cycle(
    record: TreatmentRecord, rules: RuleSet, on: dt.date | None = None, *, course: Course | None = None
) -> SymptomCycle:
    """Symptom scores by day since the last injection across maintenance cycles (all entries by `on`).

    A return counts as early when it comes FU-SYMPTOM-CYCLE `days` or more before the next dose was due;
    early returns of one symptom in `count` cycles or more give a SYMPTOMS_RETURN_EARLY finding (review the
    interval). Loading doses are too close together to show a cycle and are left out.
    """
    rule, scale = (
        followup_rule(rules, "followup.symptom_cycle"),
        followup_rule(rules, "followup.symptom_scale"),
    )
    adjust = followup_rule(rules, "followup.adjust_interval")
    rise, early_by = int(number(rule, "points")), int(number(rule, "days"))
    needed, present = int(number(rule, "count")), present_points(rules)
    course = course or build_course(record, rules, on)
    entries = [e for e in record.symptoms if on is None or e.date <= on]
    scores: dict[Symptom, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    returns: list[SymptomReturn] = []
    cycles = 0
    for first, interval in course.cycles:
        end = course.cycle_end(first)
        inside = [e for e in entries if first <= e.date and (end is None or e.date < end)]
        cycles += bool(inside)
        for symptom, series in _by_symptom(inside).items():
            for entry in series:
                scores[symptom][(entry.date - first).days].append(entry.score)
            back = _return_day(series, rise, present)
            if back is not None:
                day = (back - first).days
                soon = day <= interval - early_by
                returns.append(
                    SymptomReturn(
                        symptom=symptom, cycle_start=first, day=day, interval_days=interval, early=soon
                    )
                )
    findings: list[Finding] = []
    for symptom in dict.fromkeys(r.symptom for r in returns):
        early = [r for r in returns if r.symptom is symptom and r.early]
        if len(early) < needed:
            continue
        day = round(statistics.median(r.day for r in early))
        interval = early[-1].interval_days
        message = (
            f"{symptom.value.replace('_', ' ').capitalize()} comes back about day {day} after an injection "
            f"in {len(early)} cycles, {interval - day} days before the next dose is due (every {interval} "
            "days): review the interval. NICE allows more frequent injections in line with the product "
            "information; a shorter interval is a new plan version."
        )
        findings.append(
            make_finding(
                rules, "SYMPTOMS_RETURN_EARLY", AlertLevel.WARNING, message, [rule.id, scale.id, adjust.id]
            )
        )
    mean = {
        symptom: {day: statistics.fmean(values) for day, values in sorted(days.items())}
        for symptom, days in scores.items()
    }
    return SymptomCycle(
        cycles=cycles, mean_by_day=mean, returns=returns, findings=findings, rules=[rule.id, scale.id]
    )


def returned_since(record: TreatmentRecord, rules: RuleSet, since: dt.date, on: dt.date) -> list[Symptom]:
    """Symptoms that came back (FU-SYMPTOM-CYCLE rise, and present) in entries from `since` to `on`."""
    rise = int(number(followup_rule(rules, "followup.symptom_cycle"), "points"))
    inside = [e for e in record.symptoms if since <= e.date <= on]
    present = present_points(rules)
    return [s for s, series in _by_symptom(inside).items() if _return_day(series, rise, present)]


def persisting(record: TreatmentRecord, rules: RuleSet, since: dt.date, on: dt.date) -> list[Symptom]:
    """Symptoms present (FU-SYMPTOM-SCALE) in every entry, two or more, from `since` to `on`."""
    present = present_points(rules)
    inside = [e for e in record.symptoms if since <= e.date <= on]
    return [
        s
        for s, series in _by_symptom(inside).items()
        if len(series) >= 2 and all(e.score >= present for e in series)
    ]


def worsening(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[tuple[Symptom, int, int]]:
    """Neurological symptoms whose latest score is FU-NEURO-WORSENING points above their lowest earlier
    score: (symptom, lowest, latest)."""
    rise = int(number(followup_rule(rules, "followup.neuro_worsening"), "points"))
    entries = [e for e in record.symptoms if e.date <= on and e.symptom in NEUROLOGICAL_SYMPTOMS]
    found: list[tuple[Symptom, int, int]] = []
    for symptom, series in _by_symptom(entries).items():
        if len(series) < 2:
            continue
        lowest, latest = min(e.score for e in series[:-1]), series[-1].score
        if latest - lowest >= rise:
            found.append((symptom, lowest, latest))
    return found
