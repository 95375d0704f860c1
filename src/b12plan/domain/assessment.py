"""Assessment: deficiency status, anaemia, neurological involvement, urgency, causes, lifelong, next tests.

Reads thresholds from the rule set (`dx.*`, `anaemia`, `cause`, `next_test` rules); holds no number itself.
Status logic (rule DX-COMBINE, a b12plan design rule): any direct marker (total or active B12) in the
deficient range confirms deficiency; all in the unlikely range make it unlikely; otherwise indeterminate,
resolved by MMA where measured. With nitrous oxide (DX-N2O) a raised MMA or homocysteine confirms
deficiency whatever the serum B12, and a normal serum B12 alone does not make it unlikely.
"""

from __future__ import annotations

from b12plan.domain.case import Case
from b12plan.domain.codes import NEUROLOGICAL_SYMPTOMS, Cause, LabTest, Sex, Status
from b12plan.domain.findings import Findings
from b12plan.domain.labs import Lab, latest
from b12plan.domain.plan import Assessment, LabReading
from b12plan.domain.rules import (
    AnaemiaRule,
    CauseRule,
    FunctionalRule,
    LowRule,
    NextTestRule,
    RaisedRule,
    RuleSet,
    ThresholdRule,
)

__all__ = ["assess"]

_MARKERS = (LabTest.B12_TOTAL, LabTest.HOLOTC, LabTest.MMA, LabTest.HOMOCYSTEINE)


class _Notes:
    """Rule ids per assessment field, plus the interpretation of each lab."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.readings: dict[int, tuple[str, list[str]]] = {}

    def add(self, field: str, *rule_ids: str) -> None:
        bucket = self.fields.setdefault(field, [])
        bucket.extend(r for r in rule_ids if r not in bucket)

    def read(self, lab: Lab, text: str, *rule_ids: str) -> None:
        self.readings[lab.index] = (text, list(rule_ids))


def _classify(lab: Lab, rule: ThresholdRule, notes: _Notes) -> Status:
    v = lab.in_unit(rule.unit)
    if v < rule.deficient_below:
        status, words = Status.DEFICIENT, f"below {rule.deficient_below:g} {rule.unit}: deficient"
    elif v > rule.unlikely_above:
        status, words = Status.UNLIKELY, f"above {rule.unlikely_above:g} {rule.unit}: deficiency unlikely"
    else:
        status = Status.INDETERMINATE
        words = f"{rule.deficient_below:g}-{rule.unlikely_above:g} {rule.unit}: indeterminate"
    notes.read(lab, words, rule.id)
    return status


def _raised(lab: Lab, rule: FunctionalRule, notes: _Notes) -> bool | None:
    limit = lab.limit_in("upper", rule.unit)
    whose = "the lab's upper limit"
    if limit is None:
        limit, whose = rule.default_upper_limit, "the rule set's default upper limit"
    if limit is None:
        notes.read(lab, "no upper limit given: cannot be read", rule.id)
        return None
    raised = lab.in_unit(rule.unit) > limit
    notes.read(lab, f"{'above' if raised else 'within'} {whose} ({limit:g} {rule.unit})", rule.id)
    return raised


def _status(case: Case, rules: RuleSet, usable: list[Lab], notes: _Notes, excluded: bool) -> Status:
    n2o = Cause.NITROUS_OXIDE in case.causes
    direct: list[Status] = []
    for test in (LabTest.B12_TOTAL, LabTest.HOLOTC):
        lab, rule = latest(usable, test), rules.threshold(test)
        if lab is not None and rule is not None:
            direct.append(_classify(lab, rule, notes))
            notes.add("status", rule.id)
    functional: dict[LabTest, bool | None] = {}
    for marker in rules.of(FunctionalRule):
        found = latest(usable, marker.test)
        if found is not None:
            functional[marker.test] = _raised(found, marker, notes)
    any_raised = any(v for v in functional.values())
    combine = rules.logic("dx.combine").id
    boundary = rules.logic("dx.boundary").id
    if n2o and (any_raised or direct):
        n2o_rule = rules.logic("dx.n2o").id
        notes.add("status", n2o_rule)
        if any_raised:
            return Status.DEFICIENT
        if Status.DEFICIENT in direct:
            return Status.DEFICIENT
        if functional and all(v is False for v in functional.values()):
            return Status.UNLIKELY
        return Status.INDETERMINATE
    if not direct:
        if excluded:
            notes.add("status", rules.logic("dx.recent_treatment").id)
            return Status.UNINTERPRETABLE
        return Status.INDETERMINATE if functional else Status.INSUFFICIENT_DATA
    notes.add("status", combine, boundary)
    if Status.DEFICIENT in direct:
        return Status.DEFICIENT
    if all(s is Status.UNLIKELY for s in direct):
        return Status.UNLIKELY
    mma = functional.get(LabTest.MMA)
    renal = "renal_impairment" in case.conditions
    if mma is True and not renal:
        return Status.DEFICIENT
    if mma is False:
        return Status.UNLIKELY
    return Status.INDETERMINATE


def _anaemia(case: Case, labs: list[Lab], rules: RuleSet, notes: _Notes) -> tuple[bool | None, bool]:
    hb = latest(labs, LabTest.HB)
    if hb is None:
        return None, False
    group = (
        "pregnant"
        if case.patient.pregnant
        else {Sex.MALE: "male", Sex.FEMALE: "female"}.get(case.patient.sex or Sex.OTHER, "unknown")
    )
    rule = next((r for r in rules.of(AnaemiaRule) if r.group == group), None)
    if rule is None:
        return None, False
    value = hb.in_unit(rule.unit)
    lab_lower = hb.limit_in("lower", rule.unit)
    below = lab_lower if lab_lower is not None else rule.below
    anaemia, severe = value < below, value < rule.severe_below
    notes.add("anaemia", rule.id)
    notes.add("severe_anaemia", rule.id)
    words = "severe anaemia" if severe else "anaemia" if anaemia else "no anaemia"
    src = "the lab's lower limit" if lab_lower is not None else f"{rule.below:g} {rule.unit}"
    notes.read(hb, f"{words} (against {src}; severe below {rule.severe_below:g} {rule.unit})", rule.id)
    return anaemia, severe


def _low(labs: list[Lab], rules: RuleSet, test: LabTest, notes: _Notes) -> Lab | None:
    lab = latest(labs, test)
    rule = next((r for r in rules.of(LowRule) if r.test is test), None)
    if lab is None or rule is None:
        return None
    lower = lab.limit_in("lower", rule.unit)
    limit = lower if lower is not None else rule.below
    low = lab.in_unit(rule.unit) < limit
    notes.read(lab, f"{'low' if low else 'not low'} (below {limit:g} {rule.unit} is low)", rule.id)
    return lab if low else None


def _causes(case: Case, labs: list[Lab], rules: RuleSet, notes: _Notes) -> tuple[list[Cause], Lab | None]:
    causes = list(dict.fromkeys(case.causes))
    ifab = latest(labs, LabTest.IFAB)
    suspect: Lab | None = None
    if ifab is not None and ifab.qualitative == "positive":
        window = rules.logic("dx.recent_treatment").window_days or 0
        started = case.treatment_started
        if started and ifab.date and 0 <= (ifab.date - started).days <= window:
            suspect = ifab
            notes.read(ifab, "positive, but taken soon after an injection: may be falsely positive")
        elif Cause.AUTOIMMUNE_GASTRITIS not in causes:
            causes.append(Cause.AUTOIMMUNE_GASTRITIS)
            notes.add("causes", rules.logic("cause.ifab").id)
            notes.read(ifab, "positive: autoimmune gastritis", rules.logic("cause.ifab").id)
    if Cause.UNKNOWN in causes and len(causes) > 1:
        causes.remove(Cause.UNKNOWN)
    return causes, suspect


def _cause_rules(causes: list[Cause], rules: RuleSet, notes: _Notes) -> tuple[list[CauseRule], str]:
    matched = [r for r in rules.of(CauseRule) if any(c in r.causes for c in causes)]
    if not matched:
        notes.add("causes", rules.logic("cause.none_given").id)
        matched = [r for r in rules.of(CauseRule) if Cause.UNKNOWN in r.causes]
    notes.add("lifelong", *(r.id for r in matched))
    group = min(matched, key=lambda r: r.priority).group if matched else "unknown"
    return matched, group


def _lifelong(cause_rules: list[CauseRule]) -> bool | None:
    if any(r.lifelong is True for r in cause_rules):
        return True
    if not cause_rules or any(r.lifelong is None for r in cause_rules):
        return None
    return False


def _next_tests(f: Findings, rules: RuleSet, notes: _Notes) -> list[LabTest]:
    case, status = f.case, f.status
    pregnant = case.patient.pregnant
    n2o = Cause.NITROUS_OXIDE in f.causes
    open_question = status in (Status.DEFICIENT, Status.INDETERMINATE)
    conditions = {
        "indeterminate": status is Status.INDETERMINATE,
        "insufficient": status is Status.INSUFFICIENT_DATA and not pregnant,
        "pregnant": pregnant and status is not Status.UNLIKELY and not f.measured(LabTest.HOLOTC),
        "n2o": n2o and not (f.measured(LabTest.HOMOCYSTEINE) or f.measured(LabTest.MMA)),
        "cause_unknown": status is Status.DEFICIENT and f.group == "unknown" and not f.measured(LabTest.IFAB),
        "no_blood_count": open_question and not f.measured(LabTest.HB),
        "no_folate": open_question and not f.measured(LabTest.FOLATE),
        "severe_anaemia_no_potassium": f.severe_anaemia and not f.measured(LabTest.POTASSIUM),
        "anticoagulant_no_inr": "anticoagulant" in case.conditions and not f.measured(LabTest.INR),
    }
    tests: list[LabTest] = []
    for rule in rules.of(NextTestRule):
        if conditions[rule.when]:
            new = [
                t
                for t in rule.tests
                if t not in tests and not (f.measured(t) and rule.when != "insufficient")
            ]
            if new:
                tests.extend(new)
                notes.add("next_tests", rule.id)
    return tests


def _summary(f: Findings, a: Assessment) -> str:
    words = {
        Status.DEFICIENT: "Vitamin B12 deficiency is confirmed",
        Status.INDETERMINATE: "The result is indeterminate: deficiency is neither confirmed nor ruled out",
        Status.UNLIKELY: "Vitamin B12 deficiency is unlikely",
        Status.UNINTERPRETABLE: "The B12 results cannot be interpreted (taken after replacement started)",
        Status.INSUFFICIENT_DATA: "There are not enough results to assess B12 status",
    }[a.status]
    parts = [words]
    if a.neurological:
        parts.append("with neurological symptoms")
    if a.severe_anaemia:
        parts.append("with severe anaemia")
    elif a.anaemia:
        parts.append("with anaemia")
    return ", ".join(parts) + "."


def assess(case: Case, labs: list[Lab], rules: RuleSet) -> Findings:
    """Assess one case. `labs` come from `read_labs` (already checked)."""
    notes = _Notes()
    started = case.treatment_started
    excluded = [
        lab
        for lab in labs
        if started and lab.test in _MARKERS and lab.date is not None and lab.date >= started
    ]
    usable = [lab for lab in labs if lab not in excluded]
    for lab in excluded:
        notes.read(
            lab, "taken after replacement started: not interpreted", rules.logic("dx.recent_treatment").id
        )
    status = _status(case, rules, usable, notes, bool(excluded))
    neuro = bool(NEUROLOGICAL_SYMPTOMS.intersection(case.symptoms))
    notes.add("neurological", rules.logic("dx.neurological").id)
    anaemia, severe = _anaemia(case, labs, rules, notes)
    urgent = neuro or severe
    if urgent:
        notes.add("urgent", rules.logic("dx.urgent").id)
    causes, ifab_suspect = _causes(case, labs, rules, notes)
    cause_rules, group = _cause_rules(causes, rules, notes)
    raised_rule = next(iter(rules.of(RaisedRule)), None)
    total = latest(usable, LabTest.B12_TOTAL)
    raised = (
        total
        if raised_rule and total is not None and total.in_unit(raised_rule.unit) > raised_rule.above
        else None
    )
    draft = Assessment(
        status=status,
        neurological=neuro,
        anaemia=anaemia,
        severe_anaemia=severe,
        urgent=urgent,
        causes=causes,
        lifelong=_lifelong(cause_rules),
        next_tests=[],
    )
    findings = Findings(
        case=case,
        labs=labs,
        assessment=draft,
        cause_rules=cause_rules,
        group=group,
        folate_low=_low(labs, rules, LabTest.FOLATE, notes),
        potassium_low=_low(labs, rules, LabTest.POTASSIUM, notes),
        raised_b12=raised,
        excluded_after_treatment=excluded,
        ifab_after_treatment=ifab_suspect,
        used_total_in_pregnancy=case.patient.pregnant and total is not None,
    )
    inr = latest(labs, LabTest.INR)
    if (
        inr is not None
        and inr.upper_limit is not None
        and inr.value is not None
        and inr.value > inr.upper_limit
    ):
        findings.inr_above = inr
    next_tests = _next_tests(findings, rules, notes)
    missing = [f"{t.value} result" for t in next_tests] if status is Status.INSUFFICIENT_DATA else []
    readings = [
        LabReading(
            test=lab.test,
            value=lab.qualitative if lab.qualitative is not None else round(lab.value or 0.0, 4),
            unit=lab.unit,
            reported=lab.reported,
            date=lab.date,
            interpretation=notes.readings.get(lab.index, (None, []))[0],
            rules=notes.readings.get(lab.index, (None, []))[1],
        )
        for lab in labs
    ]
    findings.assessment = draft.model_copy(
        update={
            "next_tests": next_tests,
            "labs": readings,
            "missing": missing,
            "rules": notes.fields,
            "summary": _summary(findings, draft),
        }
    )
    return findings
