"""Safety: every alert the inputs can trigger, each with its level, plain message and source.

When an alert fires is decided here; what it says, how serious it is and where it comes from live in the
rule set's `alert` rules. Case-specific details (the INR value, the volume) are appended to the message.
"""

from __future__ import annotations

from collections.abc import Iterable

from b12plan.domain import products as dose
from b12plan.domain.codes import AlertLevel, Cause, Condition, Formulation, Route, Status
from b12plan.domain.findings import Findings
from b12plan.domain.plan import Alert
from b12plan.domain.products import Catalogue
from b12plan.domain.regimen import Notice, RegimenChoice
from b12plan.domain.rules import AlertRule, RuleSet

__all__ = ["check_safety", "make_alert"]

_LEVEL_ORDER = {AlertLevel.CRITICAL: 0, AlertLevel.WARNING: 1, AlertLevel.INFO: 2}


def make_alert(rules: RuleSet, code: str, detail: str = "", level: AlertLevel | None = None) -> Alert | None:
    rule: AlertRule | None = rules.alert(code)
    if rule is None:
        return None
    message = f"{rule.message} {detail}".strip()
    return Alert(
        code=code, level=level or rule.level, message=message, source=rules.source_url(rule), rules=[rule.id]
    )


def _triggers(
    f: Findings, choice: RegimenChoice, catalogue: Catalogue
) -> Iterable[Notice | tuple[Notice, AlertLevel]]:
    case, conditions, causes = f.case, set(f.case.conditions), set(f.causes)
    regimen = choice.regimen
    injected = [p for p in regimen.phases if p.route is not Route.ORAL] if regimen else []
    if f.neurological:
        course = (
            " Symptoms are getting worse: this is an emergency." if case.symptom_course == "worsening" else ""
        )
        yield Notice("NEURO_URGENT", course)
    if f.severe_anaemia:
        yield Notice("SEVERE_ANAEMIA")
        k = f.potassium_low
        yield Notice("HYPOKALAEMIA_RISK", f"Potassium is already low ({k.reported})." if k else "")
    if f.folate_low is not None or Condition.TAKING_FOLIC_ACID in conditions:
        what = f"Folate is low ({f.folate_low.reported})." if f.folate_low else "Folic acid is being taken."
        if f.status in (Status.DEFICIENT, Status.INDETERMINATE) or regimen is not None:
            yield Notice("FOLATE_ALONE_RISK", what)
    held = (choice.in_hand, choice.product, choice.oral_product)
    cyano = [p for p in held if p and p.formulation is Formulation.CYANOCOBALAMIN]
    if Condition.LEBER_OPTIC_NEUROPATHY in conditions and cyano:  # by any route, tablets included
        yield Notice("LEBER_CYANOCOBALAMIN")
    if Condition.COBALT_ALLERGY in conditions:
        yield Notice("COBALT_ALLERGY")
    if Condition.B12_HYPERSENSITIVITY in conditions:
        yield Notice("HYPERSENSITIVITY")
    im = any(p.route is Route.IM for p in injected)
    if conditions & {Condition.ANTICOAGULANT, Condition.BLEEDING_DISORDER} and (im or regimen is None):
        inr = f.inr_above
        if inr is not None:
            limit = f"{inr.upper_limit:g}"
            detail = f"INR {inr.reported} is above its range (upper limit {limit}): no IM injection now."
            yield Notice("ANTICOAGULANT_IM", detail), AlertLevel.CRITICAL
        else:
            yield Notice("ANTICOAGULANT_IM")
    if case.patient.pregnant:
        yield Notice("PREGNANCY")
        if f.used_total_in_pregnancy:
            yield Notice("CONFOUNDER_PREGNANCY")
    if Cause.NITROUS_OXIDE in causes:
        yield Notice("N2O_FUNCTIONAL")
    if Condition.RENAL_IMPAIRMENT in conditions:
        yield Notice("CONFOUNDER_RENAL")
    if f.excluded_after_treatment or f.ifab_after_treatment:
        yield Notice("CONFOUNDER_RECENT_TREATMENT")
    if conditions & {Condition.HORMONAL_CONTRACEPTION, Condition.HRT}:
        yield Notice("CONFOUNDER_HORMONAL")
    if Condition.BIOTIN in conditions:
        yield Notice("CONFOUNDER_BIOTIN")
    if conditions & {Condition.MYELOMA, Condition.HIV}:
        yield Notice("CONFOUNDER_MYELOMA_HIV")
    if "black" in (case.patient.ethnicity or "").lower().split() and f.status is not Status.DEFICIENT:
        yield Notice("ETHNICITY_RANGE")
    if Cause.METFORMIN in causes:
        yield Notice("METFORMIN_CONTINUE")
    if f.raised_b12 is not None:
        yield Notice("RAISED_B12", f"Total B12 {f.raised_b12.reported}.")
    yield from _product_notices(choice, catalogue)
    if regimen is not None:
        yield Notice("NO_RETEST_B12")
        if f.group == "unknown" and f.status is Status.DEFICIENT:
            yield Notice("CAUSE_UNKNOWN")
    if Cause.AUTOIMMUNE_GASTRITIS in causes:
        yield Notice("GASTRIC_SURVEILLANCE")
    yield from choice.notices


def _product_notices(choice: RegimenChoice, catalogue: Catalogue) -> Iterable[Notice]:
    regimen, product = choice.regimen, choice.product
    if regimen is None or product is None or product.form != "injection":
        return
    for phase in regimen.phases:
        if phase.route is Route.ORAL or phase.volume_ml is None:
            continue
        problem = dose.check_site_volume(phase.volume_ml, phase.route, catalogue.defaults.site_limits)
        if problem:
            yield Notice("VOLUME_SITE", problem + ".")
        if not dose.is_route_licensed(product, phase.route):
            licensed = ", ".join(r.value for r in product.routes)
            yield Notice(
                "ROUTE_NOT_LICENSED", f"{product.name} is licensed for {licensed}, not {phase.route.value}."
            )
    if product.multi_dose:
        yield Notice("MULTIDOSE_DISCARD", f"Discard {product.discard_after_days} days after first use.")


def check_safety(f: Findings, choice: RegimenChoice, rules: RuleSet, catalogue: Catalogue) -> list[Alert]:
    """All alerts for one plan, most serious first, one per code."""
    alerts: dict[str, Alert] = {}
    for item in _triggers(f, choice, catalogue):
        notice, level = item if isinstance(item, tuple) else (item, None)
        alert = make_alert(rules, notice.code, notice.detail, level)
        if alert is None:
            continue
        if notice.code in alerts:
            old = alerts[notice.code]
            if notice.detail and notice.detail not in old.message:
                alerts[notice.code] = old.model_copy(update={"message": f"{old.message} {notice.detail}"})
            continue
        alerts[notice.code] = alert
    return sorted(alerts.values(), key=lambda a: _LEVEL_ORDER[a.level])
