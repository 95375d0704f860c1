"""Is the treatment working? Response read on the expected timeline (REFERENCE 5, papergp).

Counted from the first dose of the current plan's course: reticulocytes at 7-10 days (FU-RESP-RETIC), a
full blood count by 8 weeks (FU-RESP-FBC), nerves judged no earlier than 3 months (FU-RESP-NERVES). With
anaemia at the start, a blood count at 8 weeks that has not responded (FU-HAEM-RESPONSE: haemoglobin not
risen, MCV not fallen) calls for folate, iron and a haematology referral (FU-NO-RESPONSE); a normal blood
count with symptoms that persist calls for a broader evaluation, not more injections (FU-BROADEN).
Lab values are compared in the unit of the rule that reads them; an entry whose unit cannot be read is left
out (the record's entry point checks units).
"""

from __future__ import annotations

import datetime as dt

from b12plan.domain.codes import NEUROLOGICAL_SYMPTOMS, AlertLevel, LabTest
from b12plan.domain.followup.course import Course, build_course
from b12plan.domain.followup.finding import Finding, followup_rule, make_finding, number
from b12plan.domain.followup.record import TreatmentRecord
from b12plan.domain.followup.symptoms import persisting, present_points
from b12plan.domain.plan import Plan
from b12plan.domain.rules import AnaemiaRule, RuleSet
from b12plan.domain.units import UnitProblem, convert

__all__ = ["anaemia_rule", "lab_value", "response_checks"]


def lab_value(
    record: TreatmentRecord, test: LabTest, unit: str, after: dt.date, until: dt.date, *, latest: bool = True
) -> float | None:
    """The latest (or earliest) value of `test` dated from `after` to `until`, in `unit`."""
    found: list[tuple[dt.date, float]] = []
    for lab in record.labs:
        if lab.test is test and after <= lab.date <= until and not isinstance(lab.value, str):
            try:
                found.append((lab.date, convert(test, lab.value, lab.unit, unit)))
            except UnitProblem:
                continue
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    return found[-1][1] if latest else found[0][1]


def _baseline(record: TreatmentRecord, test: LabTest, unit: str, start: dt.date) -> float | None:
    """The last value before treatment: from the record, else from the first plan version's assessment."""
    value = lab_value(record, test, unit, dt.date.min, start)
    if value is not None or not record.plan_versions:
        return value
    first = min(record.plan_versions, key=lambda v: v.version).plan
    for reading in reversed(first.assessment.labs):
        if reading.test is test and not isinstance(reading.value, str) and (reading.date or start) <= start:
            try:
                return convert(test, reading.value, reading.unit, unit)
            except UnitProblem:
                continue
    return None


def anaemia_rule(plan: Plan, rules: RuleSet) -> AnaemiaRule | None:
    """The anaemia threshold the plan used (by sex and pregnancy), else the rule set's sex-unknown one."""
    used = plan.assessment.rules.get("anaemia", [])
    anaemia = list(rules.of(AnaemiaRule))
    return next(
        (r for r in anaemia if r.id in used), next((r for r in anaemia if r.group == "unknown"), None)
    )


def _haematology(
    record: TreatmentRecord, rules: RuleSet, plan: Plan, start: dt.date, on: dt.date
) -> list[Finding]:
    fbc, window = followup_rule(rules, "followup.response_fbc"), followup_rule(rules, "followup.lab_window")
    milestone = start + dt.timedelta(days=int(number(fbc, "after_days")))
    if on < milestone:
        return []
    counted = milestone - dt.timedelta(days=int(number(window, "days")))
    threshold = anaemia_rule(plan, rules)
    below = convert(LabTest.HB, threshold.below, threshold.unit, "g/L") if threshold else None
    hb, mcv = (
        lab_value(record, LabTest.HB, "g/L", counted, on),
        lab_value(record, LabTest.MCV, "fL", counted, on),
    )
    if hb is None and mcv is None:
        message = (
            f"A full blood count was due 8 weeks after the first dose ({milestone.isoformat()}): take one "
            "(haemoglobin and MCV) to judge the response."
        )
        return [make_finding(rules, "FBC_CHECK_DUE", AlertLevel.INFO, message, [fbc.id, window.id])]
    findings: list[Finding] = []
    base_hb = _baseline(record, LabTest.HB, "g/L", start)
    if threshold is not None and below is not None and base_hb is not None and base_hb < below:
        expect = followup_rule(rules, "followup.haem_response")
        base_mcv = _baseline(record, LabTest.MCV, "fL", start)
        hb_flat = hb is not None and hb - base_hb < number(expect, "hb_rise_g_per_l")
        mcv_flat = mcv is not None and base_mcv is not None and base_mcv - mcv < number(expect, "mcv_fall_fl")
        if hb_flat or mcv_flat:
            seen = [f"haemoglobin {base_hb:g} then {hb:g} g/L" if hb is not None else ""]
            seen.append(
                f"MCV {base_mcv:g} then {mcv:g} fL" if mcv is not None and base_mcv is not None else ""
            )
            message = (
                f"No haematological response by 8 weeks ({'; '.join(s for s in seen if s)}): recheck folate, "
                "consider coexisting iron deficiency, and refer to haematology."
            )
            ids = [expect.id, followup_rule(rules, "followup.no_response").id, fbc.id, threshold.id]
            findings.append(make_finding(rules, "NO_HAEM_RESPONSE", AlertLevel.WARNING, message, ids))
    broaden = followup_rule(rules, "followup.broaden")
    since = start + dt.timedelta(days=int(number(broaden, "after_days")))
    if threshold is not None and below is not None and hb is not None and hb >= below and on >= since:
        still = persisting(record, rules, since, on)
        if still:
            names = ", ".join(s.value.replace("_", " ") for s in still)
            message = (
                f"The blood count is normal (haemoglobin {hb:g} g/L) but symptoms persist ({names}): broaden "
                "the evaluation and look for another cause rather than inject more."
            )
            ids = [broaden.id, followup_rule(rules, "followup.symptom_scale").id, threshold.id]
            findings.append(
                make_finding(rules, "LABS_NORMAL_SYMPTOMS_PERSIST", AlertLevel.WARNING, message, ids)
            )
    return findings


def _nerves(
    record: TreatmentRecord, rules: RuleSet, plan: Plan, start: dt.date, on: dt.date
) -> list[Finding]:
    rule = followup_rule(rules, "followup.response_nerves")
    entries = sorted(
        (e for e in record.symptoms if e.symptom in NEUROLOGICAL_SYMPTOMS and e.date <= on),
        key=lambda e: e.date,
    )
    if not (plan.assessment.neurological or entries):
        return []
    if on < start + dt.timedelta(days=int(number(rule, "after_days"))):
        return []
    latest = {e.symptom: e.score for e in entries}
    still = [s for s, score in latest.items() if score >= present_points(rules)]
    if entries and not still:
        return []
    detail = f" Still present: {', '.join(s.value.replace('_', ' ') for s in still)}." if still else ""
    message = (
        "Three months or more since the first dose: judge neurological recovery now (nerves recover over "
        f"months, often incompletely).{detail}"
    )
    ids = [rule.id] + ([followup_rule(rules, "followup.symptom_scale").id] if still else [])
    return [make_finding(rules, "NERVE_REVIEW_DUE", AlertLevel.INFO, message, ids)]


def response_checks(
    record: TreatmentRecord, rules: RuleSet, on: dt.date, *, course: Course | None = None
) -> list[Finding]:
    """The response checks due or failed on `on`, counted from the first dose of the current course:
    RETIC_CHECK_DUE, FBC_CHECK_DUE, NO_HAEM_RESPONSE, LABS_NORMAL_SYMPTOMS_PERSIST, NERVE_REVIEW_DUE."""
    course = course or build_course(record, rules, on)
    if course.plan is None or not course.given:
        return []
    start = course.given[0].day
    findings: list[Finding] = []
    retic = followup_rule(rules, "followup.response_retic")
    opens = start + dt.timedelta(days=int(number(retic, "after_days")))
    closes = start + dt.timedelta(days=int(number(retic, "by_days")))
    counted = any(lab.test is LabTest.RETICULOCYTES and start <= lab.date <= on for lab in record.labs)
    if opens <= on <= closes and not counted:
        message = (
            f"Count reticulocytes now (days {number(retic, 'after_days'):g} to {number(retic, 'by_days'):g} "
            f"after the first dose, by {closes.isoformat()}): the first sign of response."
        )
        findings.append(make_finding(rules, "RETIC_CHECK_DUE", AlertLevel.INFO, message, [retic.id]))
    findings += _haematology(record, rules, course.plan, start, on)
    findings += _nerves(record, rules, course.plan, start, on)
    return findings
