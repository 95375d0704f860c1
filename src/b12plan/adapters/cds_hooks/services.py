"""The three b12plan CDS Services: discovery, and one call from request JSON to response JSON.

    discovery(ruleset_id) -> dict                      the `GET /cds-services` body
    handle(service_id, request, *, today, ...) -> dict the `POST /cds-services/{id}` body

Pure: no clock (the caller passes `today`), no network (b12plan never queries the client's FHIR server; a
prefetch key that was not sent is reported on a card), no logging of patient data. A request that breaks
CDS Hooks 2.0 or the hook's context is a `UserError` naming the field (`context.draftOrders: ...`); an
unknown service id is an `UnknownServiceError` (a UserError the router turns into 404). A well-formed
request whose record cannot be planned (no birth date, a refused unit) is answered with a card saying so,
since the client cannot fix it by asking again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from b12plan.adapters.cds_hooks.cards import CardKit
from b12plan.adapters.cds_hooks.medicines import read_orders
from b12plan.adapters.cds_hooks.models import (
    Card,
    CdsResponse,
    DiscoveryResponse,
    HookRequest,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    Service,
)
from b12plan.adapters.cds_hooks.order_checks import order_cards
from b12plan.adapters.cds_hooks.patient_view import DueInfo, patient_view_cards
from b12plan.adapters.cds_hooks.prefetch import bundle_resources, prefetch_templates, read_prefetch
from b12plan.adapters.cds_hooks.record import Record, read_record
from b12plan.adapters.fhir.codes import load_codes
from b12plan.errors import FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET, load_ruleset

__all__ = [
    "ORDER_SELECT",
    "ORDER_SIGN",
    "PATIENT_VIEW",
    "SERVICE_IDS",
    "UnknownServiceError",
    "check_service",
    "discovery",
    "handle",
]

JSON = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN = "b12plan-patient-view", "b12plan-order-select", "b12plan-order-sign"


@dataclass(frozen=True)
class _Spec:
    hook: str
    title: str
    description: str
    context: type[PatientViewContext]


_SERVICES: dict[str, _Spec] = {
    PATIENT_VIEW: _Spec(
        "patient-view",
        "b12plan: vitamin B12 status and plan",
        "Vitamin B12 deficiency status, the tests to order next, an injection due or overdue, and a "
        "suggested treatment plan, from the patient's prefetched results, conditions and medicines",
        PatientViewContext,
    ),
    ORDER_SELECT: _Spec(
        "order-select",
        "b12plan: B12 and folic acid order checks",
        "Checks selected B12 and folic acid orders: cyanocobalamin with Leber's optic neuropathy, folic acid "
        "without B12 in known deficiency, dose or interval outside the rule set, IM with the INR above range",
        OrderSelectContext,
    ),
    ORDER_SIGN: _Spec(
        "order-sign",
        "b12plan: B12 and folic acid order checks at signing",
        "The order checks of b12plan-order-select, on every draft order about to be signed",
        OrderSignContext,
    ),
}
SERVICE_IDS: tuple[str, ...] = tuple(_SERVICES)


class UnknownServiceError(UserError):
    """A CDS Service id b12plan does not offer (the router answers 404)."""


def _service(service_id: str) -> _Spec:
    spec = _SERVICES.get(service_id)
    if spec is None:
        choices = ", ".join(SERVICE_IDS)
        problem = FieldProblem("service_id", f"{service_id!r} is not a service; use one of {choices}")
        raise UnknownServiceError([problem])
    return spec


def check_service(service_id: str) -> None:
    """Raise `UnknownServiceError` unless b12plan offers `service_id`."""
    _service(service_id)


def discovery(ruleset_id: str = DEFAULT_RULESET) -> JSON:
    """The discovery response: the three services, each asking for the same prefetch."""
    rules = load_ruleset(ruleset_id)
    templates = prefetch_templates(load_codes())
    usage = (
        f"Rule set {rules.id} ({rules.ruleset.title}). FHIR R4. Send the prefetch: b12plan does not query "
        "FHIR servers, so data not prefetched is not seen."
    )
    services = [
        Service(
            hook=spec.hook,
            id=service_id,
            title=spec.title,
            description=spec.description,
            prefetch=templates,
            usage_requirements=usage,
        )
        for service_id, spec in _SERVICES.items()
    ]
    return DiscoveryResponse(services=services).to_json()


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def _problem(err: Mapping[str, Any]) -> str:
    if err.get("type") == "missing":
        return "is required"
    return str(err.get("msg", "is invalid")).removeprefix("Value error, ")


def _validated(model: type[M], data: Any, prefix: str) -> M:
    """`data` as `model`, or a UserError naming each bad field; input values are never echoed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        raise UserError([FieldProblem(_path(prefix, tuple(e["loc"])), _problem(e)) for e in errors]) from None


def _draft_orders(context: OrderSignContext) -> list[JSON]:
    bundle = context.draft_orders
    if bundle.get("resourceType") != "Bundle":
        raise UserError([FieldProblem("context.draftOrders", "must be a FHIR Bundle")])
    resources = bundle_resources(bundle, "context.draftOrders")
    if isinstance(context, OrderSelectContext):
        present = {f"{r.get('resourceType')}/{r.get('id')}" for r in resources}
        for i, selection in enumerate(context.selections):
            if selection not in present:
                raise UserError(
                    [
                        FieldProblem(
                            f"context.selections[{i}]", f"{selection!r} is not an order in draftOrders"
                        )
                    ]
                )
    return resources


def _data_cards(kit: CardKit, record: Record) -> list[Card]:
    """What b12plan could not see or use: prefetch gaps, and a record it could not plan."""
    cards: list[Card] = []
    gaps = record.prefetch.gap_lines()
    if gaps:
        planned = "No plan was made." if not record.prefetch.can_plan() else "The rest was read."
        cards.append(
            kit.card(
                "data|prefetch",
                summary=f"Prefetch incomplete ({', '.join(record.prefetch.gaps)}): "
                "b12plan does not query FHIR servers",
                indicator="info",
                topic="data",
                rule_ids=[],
                paragraphs=[
                    "b12plan reads only the prefetched data and never queries the FHIR server, so these "
                    f"prefetch keys were not seen. {planned}",
                    "\n".join(f"- {line}" for line in gaps),
                ],
            )
        )
    if record.problem is not None:
        said = [u for u in record.imported.unknown if u.startswith(("Patient/", "Observation/"))]
        said += record.imported.notes
        cards.append(
            kit.card(
                "data|cannot-plan",
                summary=f"b12plan could not plan from the record: {record.problem.problems[0]}",
                indicator="info",
                topic="data",
                rule_ids=[],
                paragraphs=[
                    "\n".join(f"- {line}" for line in record.problem.lines),
                    "What the FHIR import said:\n" + "\n".join(f"- {line}" for line in said) if said else "",
                ],
            )
        )
    return cards


def handle(
    service_id: str,
    request: Any,
    *,
    today: dt.date,
    plan_url: str | None = None,
    due: DueInfo | None = None,
    ruleset: str | None = None,
) -> JSON:
    """Answer one CDS Hooks call: validate, read the prefetch as a case, plan it, return the cards.

    `request` is the decoded JSON body. `plan_url` (absolute) links the patient's plan page and `due` is the
    next injection from the stored record (both patient-view only). `ruleset` defaults to nice-ng239.
    """
    spec = _service(service_id)
    rules = load_ruleset(ruleset or DEFAULT_RULESET)
    if not isinstance(request, dict):
        raise UserError([FieldProblem("request", "must be a JSON object")])
    body = _validated(HookRequest, request, "")
    if body.hook != spec.hook:
        raise UserError(
            [FieldProblem("hook", f"{body.hook!r} is not the hook of {service_id}; use {spec.hook!r}")]
        )
    context = _validated(spec.context, body.context, "context")
    draft = _draft_orders(context) if isinstance(context, OrderSignContext) else []
    codes = load_codes()
    prefetch = read_prefetch(body.prefetch, prefetch_templates(codes))
    record = read_record(prefetch, patient_id=context.patient_id, today=today, rules=rules, codes=codes)
    kit = CardKit(rules, service_id=service_id, hook_instance=body.hook_instance)
    cards = _data_cards(kit, record)
    if isinstance(context, OrderSignContext):
        selected = set(context.selections) if isinstance(context, OrderSelectContext) else None
        cards += order_cards(kit, record, read_orders(draft, codes), selected)
    else:
        cards += patient_view_cards(kit, record, due=due, plan_url=plan_url)
    return CdsResponse(cards=cards).to_json()
