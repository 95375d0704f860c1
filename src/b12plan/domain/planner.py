"""The planning core's one entry point: a parsed case in, a Plan out. Pure: the caller supplies `today`.

case -> read_labs -> assess -> select_regimen -> build_schedule -> check_safety -> Plan (with reasons)
"""

from __future__ import annotations

import datetime as dt

from b12plan.domain import products as dose
from b12plan.domain.assessment import assess
from b12plan.domain.case import Case
from b12plan.domain.codes import EventKind, Route
from b12plan.domain.findings import Findings
from b12plan.domain.labs import read_labs
from b12plan.domain.plan import Alert, Event, Expectation, Plan, Reason, Regimen, RulesetRef
from b12plan.domain.products import Catalogue
from b12plan.domain.regimen import RegimenChoice, select_regimen
from b12plan.domain.rules import ExpectRule, MistakeRule, RuleSet
from b12plan.domain.safety import check_safety, make_alert
from b12plan.domain.schedule import build_schedule
from b12plan.errors import CaseError, FieldProblem

__all__ = ["DISCLAIMER", "MAX_HORIZON_MONTHS", "make_plan"]

DISCLAIMER = (
    "b12plan supports a prescriber; it does not replace one. This plan must be checked and confirmed by a "
    "prescriber who knows the person before any dose is given or changed."
)
MAX_HORIZON_MONTHS = 120


def _with_supply(
    choice: RegimenChoice, events_doses: list[tuple[dt.date, float]], catalogue: Catalogue
) -> Regimen | None:
    regimen, product = choice.regimen, choice.product
    if regimen is None or product is None or not events_doses:
        return regimen
    if product.form == "injection" and product.container_ml is None:
        return regimen  # a product described without its container size: volumes, but no supply count
    supply = dose.supply_for(events_doses, product, catalogue.defaults.syringe)
    return regimen.model_copy(update={"supply": supply})


def _hold_for_inr(findings: Findings, events: list[Event], rules: RuleSet) -> list[Event]:
    """INR above its range: no IM injection now, so every IM date waits for an INR back in range."""
    alert = rules.alert("ANTICOAGULANT_IM")
    if findings.inr_above is None or alert is None:
        return events
    note = "Only once the INR is back in its range: dates move with the first dose."
    return [
        e.model_copy(update={"provisional": True, "note": note, "rules": [*e.rules, alert.id]})
        if e.kind is EventKind.INJECTION and e.route is Route.IM
        else e
        for e in events
    ]


def _reasons(rules: RuleSet, ids: list[str]) -> list[Reason]:
    out: list[Reason] = []
    for rule_id in dict.fromkeys(ids):
        rule = rules.rule(rule_id)
        out.append(
            Reason(rule=rule.id, source=rules.source_url(rule), text=rule.text, evidence=rule.evidence)
        )
    return out


def make_plan(
    case: Case, rules: RuleSet, catalogue: Catalogue, *, today: dt.date, horizon_months: int = 12
) -> Plan:
    """Plan one case with one rule set. Raises CaseError for input the rules cannot use."""
    if not 1 <= horizon_months <= MAX_HORIZON_MONTHS:
        raise CaseError([FieldProblem("horizon", f"{horizon_months} months: use 1 to {MAX_HORIZON_MONTHS}")])
    start = case.start_date or today
    labs = read_labs(case, rules)
    findings = assess(case, labs, rules)
    choice = select_regimen(findings, rules, catalogue)
    try:
        events = build_schedule(
            findings, choice.regimen, rules, start, horizon_months, prophylaxis=choice.prophylaxis
        )
        events = _hold_for_inr(findings, events, rules)
        injections = [(e.date, e.dose_mcg) for e in events if e.kind is EventKind.INJECTION and e.dose_mcg]
        regimen = _with_supply(choice, injections, catalogue)
    except OverflowError:  # the calendar (or a vial's discard date) would run past 9999-12-31
        problem = f"{start.isoformat()} is too far in the future for a {horizon_months}-month plan"
        raise CaseError([FieldProblem("start_date", problem)]) from None
    alerts = check_safety(findings, choice, rules, catalogue)
    treated = regimen is not None
    expectations = [
        Expectation(after=r.after, what=r.what, rules=[r.id])
        for r in rules.of(ExpectRule)
        if treated and not choice.prophylaxis and (r.when == "treated" or findings.neurological)
    ]
    mistakes = [
        Alert(code=r.code, level="info", message=r.message, source=rules.source_url(r), rules=[r.id])
        for r in rules.of(MistakeRule)
        if r.role == "mistake" and (r.when == "always" or treated)
    ]
    red_flags = [
        Alert(code=r.code, level="critical", message=r.message, source=rules.source_url(r), rules=[r.id])
        for r in rules.of(MistakeRule)
        if r.role == "red_flag" and (r.when == "always" or treated)
    ]
    a = findings.assessment
    used: list[str] = [rid for ids in a.rules.values() for rid in ids]
    used += [rid for reading in a.labs for rid in reading.rules]
    used += findings.rules_used + choice.rules_used
    if regimen is not None:
        used += regimen.rules + [rid for p in regimen.phases for rid in p.rules]
    used += [rid for e in events for rid in e.rules]
    used += [rid for x in [*alerts, *red_flags, *mistakes] for rid in x.rules]
    used += [rid for x in expectations for rid in x.rules]
    if any(rules.rule(rid).evidence == "D" for rid in used):
        design = make_alert(rules, "DESIGN_RULE")
        if design is not None:
            alerts.append(design)
            used += design.rules
    if regimen is not None:
        oral_only = all(p.route is Route.ORAL for p in regimen.phases)
        how = "by mouth" if oral_only else "by injection"
        decision = f"Start B12 replacement {how} with {regimen.product.name}, as set out below."
    else:
        decision = choice.why_none
    return Plan(
        ruleset=RulesetRef(id=rules.id, version=rules.ruleset.version, title=rules.ruleset.title),
        generated_for=start,
        horizon_months=horizon_months,
        assessment=a,
        decision=decision,
        regimen=regimen,
        events=events,
        alerts=alerts,
        expectations=expectations,
        red_flags=red_flags,
        mistakes=mistakes,
        reasons=_reasons(rules, used),
        disclaimer=DISCLAIMER,
    )
