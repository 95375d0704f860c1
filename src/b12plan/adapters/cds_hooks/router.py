"""The CDS Hooks endpoints as a FastAPI router, for the web app to mount (`app.include_router(...)`).

    GET  /cds-services              discovery
    POST /cds-services/{service_id} a hook call: 200 cards; 400 bad request; 404 unknown service

Errors use b12plan's one JSON error shape, `{"error": {"field": ..., "problem": ...}}` (the first problem
when there are several). The clock, the plan page URL and the stored next dose are given as callables so
the router holds no settings and reads no clock of its own; the call runs in a worker thread (planning is
CPU work). Relative plan URLs are made absolute against the request's base URL (CDS links are absolute).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from b12plan.adapters.cds_hooks.patient_view import DueInfo
from b12plan.adapters.cds_hooks.services import (
    PATIENT_VIEW,
    UnknownServiceError,
    check_service,
    discovery,
    handle,
)
from b12plan.errors import FieldProblem, UnknownPatientError, UserError
from b12plan.rulebook import DEFAULT_RULESET

__all__ = ["error_body", "make_router"]

GetToday = Callable[[], dt.date]
PlanUrlFor = Callable[[str], str | None]
DueLookup = Callable[[str, dt.date], DueInfo | None]
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Bad request: `{"error": {"field", "problem"}}`'},
    404: {"description": 'Unknown service: `{"error": {"field", "problem"}}`'},
}


def error_body(exc: UserError) -> dict[str, dict[str, str]]:
    """The JSON error shape for a user error: its first field and problem."""
    first = exc.problems[0] if exc.problems else FieldProblem("", str(exc))
    return {"error": {"field": first.field, "problem": first.problem}}


def _patient_id(body: Any) -> str | None:
    context = body.get("context") if isinstance(body, dict) else None
    value = context.get("patientId") if isinstance(context, dict) else None
    return value if isinstance(value, str) and value else None


def make_router(
    get_today: GetToday,
    plan_url_for: PlanUrlFor,
    due_lookup: DueLookup | None = None,
    *,
    ruleset_id: str = DEFAULT_RULESET,
) -> APIRouter:
    """The CDS Hooks router.

    `get_today()` is the service's today; `plan_url_for(patient_id)` the plan page of a patient (absolute, or
    relative to the app) or None; `due_lookup(patient_id, today)` the next injection from the record store,
    or None when the patient or dose is unknown. `ruleset_id` is the rule set every service plans with.
    """
    router = APIRouter(tags=["cds-hooks"])

    def call(service_id: str, body: Any, base_url: str) -> dict[str, Any]:
        today = get_today()
        patient_id = _patient_id(body) if service_id == PATIENT_VIEW else None
        plan_url = plan_url_for(patient_id) if patient_id else None
        due: DueInfo | None = None
        if patient_id and due_lookup is not None:
            try:
                due = due_lookup(patient_id, today)
            except UnknownPatientError:
                due = None  # a patient b12plan does not follow has no stored dose
        return handle(
            service_id,
            body,
            today=today,
            plan_url=urljoin(base_url, plan_url) if plan_url else None,
            due=due,
            ruleset=ruleset_id,
        )

    @router.get("/cds-services", summary="CDS Hooks discovery")
    def cds_discovery() -> JSONResponse:
        return JSONResponse(discovery(ruleset_id))

    @router.post("/cds-services/{service_id}", summary="Call a CDS Service", responses=_ERROR_RESPONSES)
    async def cds_call(service_id: str, request: Request) -> JSONResponse:
        try:
            check_service(service_id)
        except UnknownServiceError as exc:
            return JSONResponse(error_body(exc), status_code=404)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse(
                error_body(UserError([FieldProblem("request", "is not valid JSON")])), status_code=400
            )
        try:
            result = await run_in_threadpool(call, service_id, body, str(request.base_url))
        except UnknownServiceError as exc:
            return JSONResponse(error_body(exc), status_code=404)
        except UserError as exc:
            return JSONResponse(error_body(exc), status_code=400)
        return JSONResponse(result)

    return router
