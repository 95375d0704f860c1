"""Regimen selection: which rule set regimen, formulation, route and product; doses as mcg, mL and units.

Inputs are the findings of `assess`; every number comes from a `regimen` rule of the rule set and from the
product catalogue. A clinician's maintenance interval is honoured inside the rule's range and refused
outside it. Nothing here invents a dose: when no rule fits, no regimen is returned and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from b12plan.domain import products as dose
from b12plan.domain.codes import Condition, Formulation, Route, Stage, Status
from b12plan.domain.findings import Findings
from b12plan.domain.plan import Phase, Regimen
from b12plan.domain.products import Catalogue, Product
from b12plan.domain.rules import PhaseSpec, RegimenRule, RuleSet
from b12plan.errors import CaseError, FieldProblem

__all__ = ["Notice", "RegimenChoice", "select_regimen"]


@dataclass(frozen=True)
class Notice:
    """An alert the regimen step raises: its code and the case-specific detail."""

    code: str
    detail: str = ""


@dataclass
class RegimenChoice:
    regimen: Regimen | None
    rule: RegimenRule | None
    product: Product | None
    oral_product: Product | None
    in_hand: Product | None = None
    prophylaxis: bool = False
    notices: list[Notice] = field(default_factory=list)
    rules_used: list[str] = field(default_factory=list)
    why_none: str = ""


def _should_treat(f: Findings, rules: RuleSet, choice: RegimenChoice) -> tuple[bool, bool]:
    """(treat, prophylaxis)."""
    if f.status is Status.DEFICIENT:
        return True, False
    if f.case.treatment_started is not None and f.status is not Status.UNLIKELY:
        return True, False
    unconfirmed = f.status in (Status.INDETERMINATE, Status.INSUFFICIENT_DATA, Status.UNINTERPRETABLE)
    if unconfirmed and (f.neurological or f.severe_anaemia):
        choice.rules_used.append(rules.logic("dx.treat_before_results").id)
        choice.notices.append(Notice("TREAT_BEFORE_RESULTS"))
        return True, False
    if any(f.group in r.groups for r in rules.of(RegimenRule) if r.prophylaxis):
        return True, True
    return False, False


def _family(f: Findings, product: Product | None, rules: RuleSet, choice: RegimenChoice) -> str:
    wanted = f.case.preferences.route
    oral = wanted is Route.ORAL or (wanted is None and product is not None and product.form == "tablet")
    if oral and (f.neurological or not f.oral_allowed):
        choice.notices.append(Notice("ORAL_NOT_SUITABLE"))
        return "injection"
    return "oral" if oral else "injection"


def _candidates(
    rules: RuleSet, f: Findings, family: str, prophylaxis: bool, formulation: Formulation | None
) -> list[RegimenRule]:
    found = [
        r
        for r in rules.of(RegimenRule)
        if r.prophylaxis == prophylaxis
        and f.group in r.groups
        and r.family == family
        and (r.neurological is None or r.neurological == f.neurological)
        and (formulation is None or r.formulation == formulation)
    ]
    if formulation is None:  # nothing in hand to match: the rule set's own formulation comes first
        found.sort(key=lambda r: r.formulation is not rules.ruleset.default_formulation)
    if f.case.preferences.route in (Route.IM, Route.SC) or f.case.patient.pregnant:
        # injections asked for, or pregnancy (IM hydroxocobalamin is standard): all-injection regimens first
        found.sort(key=lambda r: any(p.route == "oral" for p in r.phases))
    return found


def _product(f: Findings, catalogue: Catalogue) -> Product | None:
    given = f.case.product
    if given is None:
        return None
    if isinstance(given, str):
        return catalogue.get(given)
    return dose.product_from_custom(given, catalogue.defaults)


def _pick_rule(
    f: Findings,
    rules: RuleSet,
    family: str,
    prophylaxis: bool,
    product: Product | None,
    choice: RegimenChoice,
) -> RegimenRule | None:
    wanted = (
        product.formulation
        if product is not None and family == "injection" and product.form == "injection"
        else None
    )
    if wanted is Formulation.CYANOCOBALAMIN and Condition.LEBER_OPTIC_NEUROPATHY in f.case.conditions:
        choice.rules_used.append(rules.logic("regimen.formulation_switch").id)
        wanted = Formulation.HYDROXOCOBALAMIN
    found = _candidates(rules, f, family, prophylaxis, wanted)
    if not found and wanted is not None:
        found = _candidates(rules, f, family, prophylaxis, rules.ruleset.default_formulation)
        if found and product is not None:
            choice.rules_used.append(rules.logic("regimen.formulation_switch").id)
            choice.notices.append(
                Notice(
                    "FORMULATION_SWITCH",
                    f"{rules.id} holds no regimen for {product.formulation.value} here: "
                    f"the plan uses {found[0].formulation.value}.",
                )
            )
    if Condition.LEBER_OPTIC_NEUROPATHY in f.case.conditions:
        # No cyanocobalamin by any route; every oral phase is cyanocobalamin tablets.
        found = [
            r
            for r in found
            if r.formulation is not Formulation.CYANOCOBALAMIN and all(p.route != "oral" for p in r.phases)
        ]
    return found[0] if found else None


def _injectable(rule: RegimenRule, product: Product | None, rules: RuleSet, catalogue: Catalogue) -> Product:
    if product is not None and product.form == "injection" and product.formulation is rule.formulation:
        return product
    default = catalogue.get(rules.ruleset.default_product)
    if default.formulation is rule.formulation:
        return default
    other = catalogue.default_for(rule.formulation, rules.ruleset.country, "injection")
    return other if other is not None else default


def _oral(
    spec: PhaseSpec, product: Product | None, rules: RuleSet, catalogue: Catalogue
) -> tuple[Product, float]:
    """The tablet for an oral phase and the dose: the product in hand when its strength fits the rule."""
    lo, hi = spec.dose_range_mcg or (spec.dose_mcg, spec.dose_mcg)
    in_hand = product.strength_mcg if product is not None and product.form == "tablet" else None
    if product is not None and in_hand is not None and lo <= in_hand <= hi:
        return product, in_hand
    for p in catalogue.products:
        if (
            p.form == "tablet"
            and p.strength_mcg == spec.dose_mcg
            and (p.country or "") == rules.ruleset.country
        ):
            return p, spec.dose_mcg
    default = catalogue.get(rules.ruleset.default_oral_product)
    return default, spec.dose_mcg


def _interval(spec: PhaseSpec, f: Findings, rules: RuleSet, choice: RegimenChoice) -> float:
    asked = f.case.preferences.maintenance_interval_days
    base = spec.interval_days if spec.interval_days is not None else 7 / (spec.times_per_week or 1)
    if spec.stage is not Stage.MAINTENANCE or asked is None:
        return base
    rule_id = rules.logic("regimen.clinician_interval").id
    lo, hi = spec.interval_range_days or (int(base), int(base))
    if not lo <= asked <= hi:
        where = f"{lo}-{hi} days" if lo != hi else f"a fixed {lo} day{'s' if lo != 1 else ''}"
        raise CaseError(
            [
                FieldProblem(
                    "preferences.maintenance_interval_days",
                    f"{asked} is outside {rules.id}'s range for this maintenance ({where}) [{rule_id}]",
                )
            ]
        )
    choice.rules_used.append(rule_id)
    if asked != base:
        choice.notices.append(
            Notice("CLINICIAN_INTERVAL", f"Maintenance every {asked} days (range {lo}-{hi}).")
        )
    return float(asked)


def _phase(
    spec: PhaseSpec,
    rule: RegimenRule,
    f: Findings,
    rules: RuleSet,
    catalogue: Catalogue,
    injectable: Product,
    oral: Product | None,
    choice: RegimenChoice,
) -> tuple[Phase, Product | None]:
    lifelong = spec.stage is Stage.MAINTENANCE and f.assessment.lifelong is True
    until = spec.until
    if spec.stage is Stage.MAINTENANCE:
        lifelong_rules = [r for r in f.cause_rules if r.lifelong is True]
        lead = min(lifelong_rules or f.cause_rules, key=lambda r: r.priority, default=None)
        until = "lifelong" if lifelong else (lead.until if lead else "clinical_review")
    common = {
        "stage": spec.stage,
        "interval_days": round(_interval(spec, f, rules, choice), 2),
        "times_per_week": spec.times_per_week,
        "doses": spec.doses,
        "until": until,
        "lifelong": lifelong,
        "interval_range_days": spec.interval_range_days,
        "review_after_days": spec.review_after_days,
        "description": spec.description,
        "rules": [rule.id, *spec.design_rules],
    }
    if spec.route == "oral":
        tablet, mcg = _oral(spec, oral, rules, catalogue)
        return Phase(
            route=Route.ORAL,
            dose_mcg=mcg,
            volume_ml=None,
            syringe_units=None,
            tablets_per_dose=dose.tablets_per_dose(mcg, tablet),
            **common,
        ), tablet
    wanted = f.case.preferences.route
    route = wanted if wanted in (Route.IM, Route.SC) else Route.IM
    try:
        volume = dose.dose_volume_ml(spec.dose_mcg, injectable, catalogue.defaults.syringe)
    except ValueError as exc:  # a product described in the case too strong to measure one dose
        raise CaseError([FieldProblem("product.strength_mcg_per_ml", str(exc))]) from None
    units = dose.syringe_units(volume, catalogue.defaults.syringe) if route is Route.SC else None
    per_dose = (
        None
        if injectable.multi_dose or injectable.container_ml is None
        else dose.containers_per_dose(spec.dose_mcg, injectable, catalogue.defaults.syringe)
    )
    return Phase(
        route=route,
        dose_mcg=spec.dose_mcg,
        volume_ml=volume,
        syringe_units=units,
        containers_per_dose=per_dose,
        **common,
    ), None


def select_regimen(f: Findings, rules: RuleSet, catalogue: Catalogue) -> RegimenChoice:
    """Choose the regimen for assessed findings, or none with the reason."""
    product = _product(f, catalogue)
    choice = RegimenChoice(regimen=None, rule=None, product=product, oral_product=None, in_hand=product)
    if Condition.B12_HYPERSENSITIVITY in f.case.conditions:
        choice.rules_used.append(rules.logic("regimen.withhold").id)
        choice.why_none = (
            "Known hypersensitivity to vitamin B12: no regimen is planned; a specialist decides."
        )
        return choice
    treat, prophylaxis = _should_treat(f, rules, choice)
    choice.prophylaxis = prophylaxis
    if not treat:
        choice.why_none = {
            Status.UNLIKELY: "Deficiency is unlikely: no B12 replacement is recommended.",
            Status.INDETERMINATE: "The result is indeterminate: order the next tests, then decide.",
        }.get(f.status, "Not enough results to decide: order the tests listed.")
        return choice
    family = _family(f, product, rules, choice)
    rule = _pick_rule(f, rules, family, prophylaxis, product, choice)
    if rule is None and family == "oral":
        choice.notices.append(
            Notice("ORAL_NOT_SUITABLE", f"{rules.id} holds no oral regimen for this cause.")
        )
        rule = _pick_rule(f, rules, "injection", prophylaxis, product, choice)
    if rule is None:
        choice.why_none = (
            f"The rule set {rules.id} holds no regimen for this picture: a prescriber must decide."
        )
        return choice
    injectable = _injectable(rule, product, rules, catalogue)
    phases: list[Phase] = []
    tablet: Product | None = None
    for spec in rule.phases:
        phase, used = _phase(spec, rule, f, rules, catalogue, injectable, product, choice)
        phases.append(phase)
        tablet = used or tablet
    any_injection = any(p.route is not Route.ORAL for p in phases)
    choice.rule = rule
    choice.product = injectable if any_injection else tablet
    choice.oral_product = tablet if any_injection else None
    main = choice.product
    assert main is not None
    choice.regimen = Regimen(
        formulation=main.formulation,
        product=dose.to_product_use(main),
        oral_product=dose.to_product_use(tablet) if tablet is not None and any_injection else None,
        phases=phases,
        rules=[rule.id],
    )
    return choice
