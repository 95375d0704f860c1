"""order-select and order-sign cards: checks of draft B12 and folic acid orders against the record.

For each order checked (order-select: the `selections`; order-sign: every draft order):

- cyanocobalamin with Leber's optic neuropathy -> critical; suggestion: the same order as hydroxocobalamin
  (with the plan's dosage when the plan is a hydroxocobalamin regimen) [ALERT-LEBER, formulation switch];
- folic acid while B12 deficiency is confirmed and no B12 is ordered or under way -> critical; suggestions:
  add the planned B12 order, hold the folic acid [FOLATE_ALONE_RISK, FOLATE_BEFORE_B12];
- IM with the latest INR above its reference range -> critical; suggestions: oral replacement when the rule
  set plans one for this record (only without neurological symptoms, which b12plan cannot see in FHIR
  data), or hold the injection [ANTICOAGULANT_IM]; IM with an anticoagulant or bleeding disorder and no INR
  above range -> warning;
- a dose that is no phase's dose (or within its dose range), or an interval outside the intervals, of the
  rule set's regimens for the formulation and route ordered (`dosing.py`) -> warning; suggestion: the
  plan's dosage.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from b12plan.adapters.cds_hooks.cards import CardKit
from b12plan.adapters.cds_hooks.dosing import compare_order
from b12plan.adapters.cds_hooks.medicines import MedicineOrder
from b12plan.adapters.cds_hooks.models import Action, Card, Suggestion
from b12plan.adapters.cds_hooks.record import Record
from b12plan.adapters.render._words import FORMULATION_WORDS, number
from b12plan.domain.codes import Condition, Formulation, Route, Status
from b12plan.domain.rules import MistakeRule, NextTestRule

__all__ = ["order_cards"]

JSON = dict[str, Any]


def _alert_rule_id(record: Record, code: str) -> list[str]:
    rule = record.rules.alert(code)
    return [rule.id] if rule else []


def _alert_message(record: Record, code: str) -> str:
    rule = record.rules.alert(code)
    return rule.message if rule else ""


def _updated(
    order: MedicineOrder, *, medication: JSON | None = None, dosages: list[JSON] | None = None
) -> JSON:
    """The order with another medication and/or dosage, whole (CDS Hooks updates carry the full resource)."""
    resource = copy.deepcopy(order.resource)
    if medication is not None:
        ref = str((resource.pop("medicationReference", None) or {}).get("reference", ""))
        if ref.startswith("#") and resource.get("contained"):
            resource["contained"] = [c for c in resource["contained"] if f"#{c.get('id')}" != ref]
            if not resource["contained"]:
                del resource["contained"]
        resource["medicationCodeableConcept"] = medication
    if dosages is not None:
        resource["dosageInstruction"] = copy.deepcopy(dosages)
    return resource


# -- Leber's optic neuropathy ------------------------------------------------------------------------------


def _leber_card(kit: CardKit, record: Record, order: MedicineOrder) -> Card:
    planned = record.planned_request
    plan_dosage = (
        planned["dosageInstruction"]
        if planned
        and record.plan
        and record.plan.regimen
        and record.plan.regimen.formulation is Formulation.HYDROXOCOBALAMIN
        else None
    )
    how = "with the dose and timing of the b12plan plan" if plan_dosage else "keeping the dose and timing"
    if plan_dosage is None and Route.ORAL in order.routes:
        how += " (hydroxocobalamin is given by injection: set the route and dose)"
    action = Action(
        type="update",
        description=f"Order hydroxocobalamin instead of cyanocobalamin, {how}",
        resource=_updated(
            order, medication=record.medication(Formulation.HYDROXOCOBALAMIN), dosages=plan_dosage
        ),
    )
    switch = record.rules.find_logic("regimen.formulation_switch")
    return kit.card(
        f"leber|{order.reference}",
        summary="Leber's optic neuropathy: do not give cyanocobalamin; order hydroxocobalamin instead",
        indicator="critical",
        topic="safety",
        rule_ids=[*_alert_rule_id(record, "LEBER_CYANOCOBALAMIN"), *([switch.id] if switch else [])],
        paragraphs=[
            f"{order.reference} orders {order.name}, and the record holds Leber's optic neuropathy.",
            _alert_message(record, "LEBER_CYANOCOBALAMIN"),
        ],
        suggestions=[
            kit.suggestion(
                f"leber|{order.reference}", "Order hydroxocobalamin instead", [action], recommended=True
            )
        ],
        selection="at-most-one",
        overridable=True,
    )


# -- folic acid before B12 ---------------------------------------------------------------------------------


def _folate_card(kit: CardKit, record: Record, order: MedicineOrder) -> Card:
    assert record.plan is not None
    mistake = next((r for r in record.rules.of(MistakeRule) if r.code == "FOLATE_BEFORE_B12"), None)
    rule_ids = [
        *_alert_rule_id(record, "FOLATE_ALONE_RISK"),
        *([mistake.id] if mistake else []),
        *record.plan.assessment.rules.get("status", []),
    ]
    suggestions: list[Suggestion] = []
    planned = record.planned_request
    if planned is not None:
        create = Action(type="create", description="Add the B12 order of the b12plan plan", resource=planned)
        suggestions.append(
            kit.suggestion(f"add-b12|{order.reference}", "Start B12 first", [create], recommended=True)
        )
    hold = Action(
        type="delete",
        description="Remove the folic acid order until B12 has started",
        resource_id=order.reference,
    )
    suggestions.append(kit.suggestion(f"hold-folate|{order.reference}", "Hold the folic acid", [hold]))
    return kit.card(
        f"folate|{order.reference}",
        summary="B12 deficiency without B12 treatment: start B12 before folic acid, never folic acid alone",
        indicator="critical",
        topic="safety",
        rule_ids=rule_ids,
        paragraphs=[
            f"{order.reference} orders {order.name}. The record confirms vitamin B12 deficiency, and no B12 "
            "is ordered in this session or recorded as taken.",
            _alert_message(record, "FOLATE_ALONE_RISK"),
        ],
        suggestions=suggestions,
        selection="any",
        overridable=True,
    )


# -- IM injection and the INR ------------------------------------------------------------------------------


def _oral_suggestion(kit: CardKit, record: Record, order: MedicineOrder) -> Suggestion | None:
    if record.plan is None or record.plan.assessment.neurological:
        return None
    oral_plan = record.replan(route="oral")
    regimen = oral_plan.regimen if oral_plan else None
    if regimen is None or any(p.route is not Route.ORAL for p in regimen.phases):
        return None  # the rule set does not treat this record by mouth
    request = record.request_for(oral_plan)
    if request is None:
        return None
    action = Action(
        type="update",
        description=f"Give oral {FORMULATION_WORDS[regimen.formulation]} as the rule set plans it, not IM",
        resource=_updated(
            order, medication=request["medicationCodeableConcept"], dosages=request["dosageInstruction"]
        ),
    )
    label = "Switch to oral B12 (only if no neurological symptoms)"
    return kit.suggestion(f"oral|{order.reference}", label, [action])


def _inr_card(kit: CardKit, record: Record, order: MedicineOrder) -> Card | None:
    if Route.IM not in order.routes:
        return None
    inr = record.inr()
    rule_ids = _alert_rule_id(record, "ANTICOAGULANT_IM")
    if inr is not None and inr.value > inr.upper_limit:
        when = f" on {inr.date}" if inr.date else ""
        suggestions = [s for s in (_oral_suggestion(kit, record, order),) if s]
        hold = Action(
            type="delete",
            description="Remove the IM order until the INR is in range",
            resource_id=order.reference,
        )
        suggestions.append(kit.suggestion(f"hold-im|{order.reference}", "Hold the IM injection", [hold]))
        return kit.card(
            f"inr|{order.reference}",
            summary=f"INR {number(inr.value)} is above its range (upper limit {number(inr.upper_limit)}): "
            "do not give this IM injection now",
            indicator="critical",
            topic="safety",
            rule_ids=rule_ids,
            paragraphs=[
                f"{order.reference} orders {order.name} by intramuscular injection; the latest INR is "
                f"{number(inr.value)}{when}, above the upper limit of its range ({number(inr.upper_limit)}).",
                _alert_message(record, "ANTICOAGULANT_IM"),
                "Oral replacement suits only people without neurological symptoms, and b12plan cannot see "
                "symptoms in the record: check before switching.",
            ],
            suggestions=suggestions,
            selection="at-most-one",
            overridable=True,
        )
    if not (
        record.has_condition(Condition.ANTICOAGULANT) or record.has_condition(Condition.BLEEDING_DISORDER)
    ):
        return None
    no_inr = next((r for r in record.rules.of(NextTestRule) if r.when == "anticoagulant_no_inr"), None)
    return kit.card(
        f"anticoagulant|{order.reference}",
        summary="Anticoagulant or bleeding disorder: avoid IM where possible; check the INR is in range",
        indicator="warning",
        topic="safety",
        rule_ids=[*rule_ids, *([no_inr.id] if no_inr and inr is None else [])],
        paragraphs=[
            f"{order.reference} orders {order.name} by intramuscular injection."
            + ("" if inr else " The record holds no INR with a reference range."),
            _alert_message(record, "ANTICOAGULANT_IM"),
        ],
    )


# -- dose and interval against the rule set ----------------------------------------------------------------


def _dose_card(kit: CardKit, record: Record, order: MedicineOrder) -> Card | None:
    """Warning when a dose or interval is outside the rule set's regimens for the formulation and route
    ordered, or when the rule set holds none; info when the dosage could not be read to check it."""
    assert order.formulation is not None
    found = compare_order(record.rules, order)
    if not (found.problems or found.no_regimen or found.unread):
        return None
    formulation = FORMULATION_WORDS[order.formulation]
    rule_ids = list(found.rule_ids)
    kinds = {kind for kind, _ in found.problems}
    if found.no_regimen:
        summary = f"{record.rules.id} has no regimen for {', '.join(found.no_regimen)}: order not checked"
        switch = record.rules.find_logic("regimen.formulation_switch")
        rule_ids += [switch.id] if switch else []
    elif found.problems:
        what = {
            frozenset({"dose"}): "Dose",
            frozenset({"interval"}): "Interval",
            frozenset({"dose", "interval"}): "Dose and interval",
        }.get(frozenset(kinds), "Dosage")
        summary = f"{what} of this {formulation} order outside {record.rules.id}'s regimens"
        chosen = record.rules.find_logic("regimen.clinician_interval")
        rule_ids += [chosen.id] if chosen and "interval" in kinds else []
    else:
        summary = f"Dose or interval of this {formulation} order could not be checked"
    suggestions: list[Suggestion] = []
    planned, plan = record.planned_request, record.plan
    same = plan is not None and plan.regimen is not None and plan.regimen.formulation is order.formulation
    if found.problems and planned is not None and same:
        action = Action(
            type="update",
            description="Use the dose and timing of the b12plan plan",
            resource=_updated(order, dosages=planned["dosageInstruction"]),
        )
        label = "Use the planned dose and timing"
        suggestions.append(kit.suggestion(f"dose|{order.reference}", label, [action], recommended=True))
    compared = f"Compared with {record.rules.id}'s regimens for {', '.join(found.compared)}:"
    return kit.card(
        f"dose|{order.reference}",
        summary=summary,
        indicator="warning" if found.problems or found.no_regimen else "info",
        topic="order-dose",
        rule_ids=rule_ids,
        paragraphs=[
            f"{order.reference} orders {order.name}.",
            compared + "\n" + "\n".join(f"- {text}" for _, text in found.problems) if found.problems else "",
            "Not checked:\n" + "\n".join(f"- {u}" for u in found.unread) if found.unread else "",
        ],
        suggestions=suggestions,
        selection="at-most-one",
        overridable=bool(found.problems),
    )


# -- the hook ----------------------------------------------------------------------------------------------


def order_cards(
    kit: CardKit, record: Record, orders: Sequence[MedicineOrder], selected: set[str] | None
) -> list[Card]:
    """Cards for the draft orders; `selected` limits the checks to those references (order-select).

    Every draft order counts when asking whether B12 is ordered in this session.
    """
    cards: list[Card] = []
    b12_ordered = any(o.b12 for o in orders)
    deficient = record.plan is not None and record.plan.assessment.status is Status.DEFICIENT
    for order in orders:
        if selected is not None and order.reference not in selected:
            continue
        if order.formulation is Formulation.CYANOCOBALAMIN and record.has_condition(
            Condition.LEBER_OPTIC_NEUROPATHY
        ):
            cards.append(_leber_card(kit, record, order))
        elif order.b12 and (card := _dose_card(kit, record, order)) is not None:
            cards.append(card)
        if order.b12 and (card := _inr_card(kit, record, order)) is not None:
            cards.append(card)
        if order.folic_acid and not b12_ordered and deficient and not record.on_b12:
            cards.append(_folate_card(kit, record, order))
    return sorted(cards, key=lambda c: {"critical": 0, "warning": 1, "info": 2}[c.indicator])
