"""CDS Hooks 2.0 for b12plan: the services as pure functions, and a FastAPI router to mount them.

    services.py      discovery(ruleset_id), handle(service_id, request, *, today, plan_url, due, ruleset)
    models.py        request and response bodies from the specification's logical models
    prefetch.py      the prefetch templates, and reading what a client sent
    record.py        prefetched FHIR resources -> case (FHIR importer) -> plan
    medicines.py     draft MedicationRequests: medicine, dose, interval, route
    cards.py         card source, rule ids, uuids and summaries, the same way on every card
    patient_view.py  patient-view cards (status, next tests, injection due, suggested plan)
    order_checks.py  order-select / order-sign cards (Leber's, folic acid first, INR, dose and interval)
    router.py        make_router(...) -> fastapi.APIRouter (imports FastAPI; not imported here)

Services: `b12plan-patient-view` (patient-view), `b12plan-order-select` (order-select) and
`b12plan-order-sign` (order-sign). b12plan never calls a FHIR server: it reads the prefetch only.
"""

from b12plan.adapters.cds_hooks.models import Card, CdsResponse, DiscoveryResponse, HookRequest
from b12plan.adapters.cds_hooks.patient_view import DueInfo
from b12plan.adapters.cds_hooks.services import (
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    SERVICE_IDS,
    UnknownServiceError,
    check_service,
    discovery,
    handle,
)

__all__ = [
    "ORDER_SELECT",
    "ORDER_SIGN",
    "PATIENT_VIEW",
    "SERVICE_IDS",
    "Card",
    "CdsResponse",
    "DiscoveryResponse",
    "DueInfo",
    "HookRequest",
    "UnknownServiceError",
    "check_service",
    "discovery",
    "handle",
]
