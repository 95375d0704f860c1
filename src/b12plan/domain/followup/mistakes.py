"""Common mistakes, found over the whole record (the plan's `mistake` rules, seen happening).

Each finding cites the rule set's `mistake` rule (its advice closes the message) and the follow-up rule
that says how the mistake is recognised. Limits: the record holds no medicines list, so folic acid is known
only from a plan version's FOLATE_ALONE_RISK alert (FU-FOLATE-ORDER); a dose's strength is known only for
the product of the plan in force that day.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable

from b12plan.domain.codes import AlertLevel, LabTest, Route, Stage
from b12plan.domain.followup.course import Course, build_course
from b12plan.domain.followup.entry import volume_mismatch
from b12plan.domain.followup.finding import Finding, followup_rule, make_finding, mistake_rule, number
from b12plan.domain.followup.record import PlanVersion, TreatmentRecord, injections, version_at
from b12plan.domain.followup.symptoms import worsening
from b12plan.domain.plan import Phase
from b12plan.domain.rules import RuleSet

__all__ = ["detect_mistakes"]


def _finding(
    rules: RuleSet, code: str, level: AlertLevel, detail: str, ids: Iterable[str], mistake: str | None = None
) -> Finding:
    """A finding whose message is `detail` then the advice of the mistake rule `mistake` (default: `code`)."""
    rule = mistake_rule(rules, mistake or code)
    message = f"{detail} {rule.message}" if rule is not None else detail
    return make_finding(rules, code, level, message, [*([rule.id] if rule else []), *ids])


def _phases(version: PlanVersion) -> dict[Stage, list[Phase]]:
    out: dict[Stage, list[Phase]] = {}
    for phase in version.plan.regimen.phases if version.plan.regimen else []:
        out.setdefault(phase.stage, []).append(phase)
    return out


def _changes(before: PlanVersion, after: PlanVersion) -> list[str]:
    """What changed in dose or spacing between two versions, in words (empty: nothing did)."""
    old, new = _phases(before), _phases(after)
    said: list[str] = []
    for stage in Stage:
        a, b = old.get(stage, []), new.get(stage, [])
        if [p.dose_mcg for p in a] != [p.dose_mcg for p in b]:
            doses = (", ".join(f"{p.dose_mcg:g}" for p in x) or "none" for x in (a, b))
            said.append(f"{stage.value} dose {' -> '.join(doses)} micrograms")
        spacing = [[(p.interval_days, p.times_per_week, p.doses, p.route) for p in x] for x in (a, b)]
        if spacing[0] != spacing[1]:
            days = (", ".join(f"{p.interval_days:g}" for p in x) or "none" for x in (a, b))
            said.append(f"{stage.value} interval or course {' -> '.join(days)} days")
    return said


def _unreviewed_changes(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[Finding]:
    review = followup_rule(rules, "followup.change_review")
    versions = sorted((v for v in record.plan_versions if v.created_at.date() <= on), key=lambda v: v.version)
    found: list[Finding] = []
    for before, after in itertools.pairwise(versions):
        changed = _changes(before, after) if before.plan.regimen is not None else []
        if not changed or (after.reason or "").strip():
            continue
        lo, hi = before.created_at.date(), after.created_at.date()
        entries = [e.date for e in record.labs] + [e.date for e in record.symptoms]
        if any(lo < day <= hi for day in entries):
            continue
        detail = (
            f"Plan version {after.version} changed the {'; '.join(changed)} from version {before.version} "
            "with no lab result or symptom score recorded in between and no reason given."
        )
        found.append(_finding(rules, "CHANGE_WITHOUT_REASSESSMENT", AlertLevel.WARNING, detail, [review.id]))
    return found


def _extras(course: Course, rules: RuleSet) -> list[Finding]:
    found: list[Finding] = []
    loading = [x for x in course.extras if x.kind == "extra_loading"]
    if loading:
        open_ended = any(x.pending is not None and x.pending.provisional for x in loading)
        days = ", ".join(x.day.isoformat() for x in loading)
        many = "doses" if len(loading) > 1 else "dose"
        detail = f"{len(loading)} loading {many} after the {course.repletion_doses} planned ({days})"
        detail += (
            ": confirm a clinician reviewed the loading phase and decided to go on." if open_ended else "."
        )
        open_rule = rules.find_logic("schedule.open_loading") if open_ended else None
        level = AlertLevel.INFO if open_ended else AlertLevel.WARNING
        ids = [course.no_double.id, *([open_rule.id] if open_rule else [])]
        found.append(_finding(rules, "LOADING_TOO_LONG", level, detail, ids))
    for extra in course.extras:
        if extra.kind not in ("same_day", "too_soon"):
            continue
        what = "a second injection the same day"
        if extra.kind == "too_soon" and extra.after is not None:
            gap = (extra.day - extra.after).days
            what = f"an injection {gap} days after the one on {extra.after.isoformat()}"
        detail = f"Doubled dose on {extra.day.isoformat()}: {what}. A late dose is given once, never doubled."
        found.append(make_finding(rules, "DOUBLED_DOSE", AlertLevel.WARNING, detail, [course.no_double.id]))
    return found


def _stopped(course: Course, rules: RuleSet, on: dt.date) -> list[Finding]:
    plan, last = course.plan, course.last
    if plan is None or plan.regimen is None or last is None:
        return []
    maintenance = next((p for p in plan.regimen.phases if p.stage is Stage.MAINTENANCE), None)
    if maintenance is None or maintenance.route is Route.ORAL:
        return []
    if not (plan.assessment.lifelong or maintenance.lifelong):
        return []
    rule = followup_rule(rules, "followup.stopped")
    limit = number(rule, "factor") * maintenance.interval_days
    if (on - last).days <= limit:
        return []
    detail = (
        f"No injection since {last.isoformat()} ({(on - last).days} days, more than {limit:g}: "
        f"{number(rule, 'factor'):g} times the {maintenance.interval_days:g}-day interval), and treatment is "
        "for life."
    )
    ids = [rule.id, *plan.assessment.rules.get("lifelong", [])]
    return [_finding(rules, "STOPPING_MAINTENANCE", AlertLevel.WARNING, detail, ids)]


def _strength(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[Finding]:
    rule = followup_rule(rules, "followup.volume_match")
    wrong: list[str] = []
    for adm in injections(record, on):
        version = version_at(record, adm.day)
        product = version.plan.regimen.product if version and version.plan.regimen else None
        if adm.volume_ml is None or product is None or product.strength_mcg_per_ml is None:
            continue
        vial = next((v.product_id for v in record.vials if v.id == adm.vial_id), None)
        if any(pid not in (None, product.id) for pid in (adm.product_id, vial)):
            continue  # another product: its strength is not known here
        holds = volume_mismatch(adm.volume_ml, product.strength_mcg_per_ml, adm.dose_mcg, rules)
        if holds is not None:
            wrong.append(
                f"{adm.day.isoformat()}: {adm.volume_ml:g} mL of {product.strength_mcg_per_ml:g} "
                f"micrograms/mL holds {holds:g} micrograms, not {adm.dose_mcg:g}"
            )
    if not wrong:
        return []
    detail = f"The volume drawn does not hold the dose recorded: {'; '.join(wrong)}."
    return [_finding(rules, "STRENGTH_MISMATCH", AlertLevel.WARNING, detail, [rule.id])]


def _retest(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[Finding]:
    given = injections(record, on)
    if not given:
        return []
    first = given[0].day
    late = sorted(
        lab.date
        for lab in record.labs
        if lab.test in (LabTest.B12_TOTAL, LabTest.HOLOTC) and first < lab.date <= on
    )
    if not late:
        return []
    dates = ", ".join(d.isoformat() for d in late)
    detail = f"Serum B12 was tested after replacement began on {first.isoformat()} ({dates})."
    return [_finding(rules, "RETEST_DURING_REPLACEMENT", AlertLevel.INFO, detail, [])]


def _folate(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[Finding]:
    order = followup_rule(rules, "followup.folate_order")
    noted = sorted(
        (
            v
            for v in record.plan_versions
            if v.created_at.date() <= on and any(a.code == "FOLATE_ALONE_RISK" for a in v.plan.alerts)
        ),
        key=lambda v: v.created_at.replace(tzinfo=None),
    )
    if not noted:
        return []
    version = noted[0]
    given = injections(record, on)
    if given and given[0].day <= version.created_at.date():
        return []
    alert_ids = [rid for a in version.plan.alerts if a.code == "FOLATE_ALONE_RISK" for rid in a.rules]
    if given:
        detail = (
            f"Plan version {version.version} ({version.created_at.date().isoformat()}) noted folic acid or "
            f"low folate before the first B12 dose ({given[0].day.isoformat()}): check folic acid was not "
            "started first."
        )
        return [_finding(rules, "FOLATE_BEFORE_B12", AlertLevel.INFO, detail, [order.id, *alert_ids])]
    detail = (
        f"Plan version {version.version} notes folic acid or low folate and no B12 has been given yet: "
        "give B12 first."
    )
    return [_finding(rules, "FOLATE_BEFORE_B12", AlertLevel.WARNING, detail, [order.id, *alert_ids])]


def _neuro(record: TreatmentRecord, rules: RuleSet, on: dt.date) -> list[Finding]:
    worse = worsening(record, rules, on)
    if not worse:
        return []
    said = ", ".join(f"{s.value.replace('_', ' ')} {lo} -> {hi}" for s, lo, hi in worse)
    detail = f"Neurological symptoms are getting worse ({said} of 10): same-day clinical assessment."
    urgent = rules.alert("NEURO_URGENT")
    ids = [followup_rule(rules, "followup.neuro_worsening").id, *([urgent.id] if urgent else [])]
    return [
        _finding(
            rules, "NEURO_WORSENING", AlertLevel.CRITICAL, detail, ids, mistake="PROGRESSIVE_NEURO_IGNORED"
        )
    ]


def detect_mistakes(
    record: TreatmentRecord, rules: RuleSet, on: dt.date, *, course: Course | None = None
) -> list[Finding]:
    """Mistakes in the record as it stands on `on`: CHANGE_WITHOUT_REASSESSMENT, LOADING_TOO_LONG,
    DOUBLED_DOSE, STOPPING_MAINTENANCE, STRENGTH_MISMATCH, RETEST_DURING_REPLACEMENT, FOLATE_BEFORE_B12 and
    NEURO_WORSENING (critical: same-day assessment)."""
    course = course or build_course(record, rules, on)
    return [
        *_neuro(record, rules, on),
        *_unreviewed_changes(record, rules, on),
        *_extras(course, rules),
        *_stopped(course, rules, on),
        *_strength(record, rules, on),
        *_retest(record, rules, on),
        *_folate(record, rules, on),
    ]
