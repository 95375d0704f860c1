"""The clinic dashboard, the patient list, a patient's page, a patient's own view and the calendar link.

Handlers only gather what the services return and render it; every access check is in the services.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from b12plan.errors import UserError
from b12plan.rulebook import load_catalogue
from b12plan.services import as_user, overviews
from b12plan.services.accounts import Role, require
from b12plan.web import wizard
from b12plan.web.deps import ActorStore, Clock, CsrfForm, PageActor, State
from b12plan.web.templating import render

__all__ = ["patient_context", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", name="dashboard")
def dashboard(request: Request, actor: PageActor, store: ActorStore, now: Clock, state: State) -> Response:
    board = overviews.clinic_board(store, actor, on=now.date(), cache=state.boards)
    return render(request, "dashboard.html", {"board": board})


def _patients_page(
    request: Request,
    store: ActorStore,
    actor: PageActor,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> Response:
    people = as_user.patients(store, actor)
    context = {"patients": people, "values": values, "errors": errors}
    return render(request, "patients.html", context, status=status)


@router.get("/patients", name="patients")
def patient_list(request: Request, actor: PageActor, store: ActorStore) -> Response:
    return _patients_page(request, store, actor, {}, {}, 200)


@router.post("/patients")
def add_patient(request: Request, actor: PageActor, store: ActorStore, form: CsrfForm) -> Response:
    values = {k: str(form.get(k) or "") for k in ("id", "name", "clinic")}
    try:
        added = as_user.add_patient(
            store, actor, values["id"].strip() or None, name=values["name"], clinic=values["clinic"]
        )
    except UserError as exc:
        errors = {p.field: p.problem for p in exc.problems}
        return _patients_page(request, store, actor, values, errors, 422)
    return RedirectResponse(f"/patients/{added.ref}?saved=patient", status_code=303)


def _multi_dose_products() -> list[wizard.Choice]:
    """The catalogue's multi-dose vials: the products the "Open a vial" form offers."""
    return [wizard.Choice(p.id, p.name) for p in load_catalogue().products if p.multi_dose and p.id]


def patient_context(
    store: ActorStore, actor: PageActor, ref: str, now: Clock, **extra: Any
) -> dict[str, Any]:
    """What the patient page (and the patient's own view) shows; `extra` adds form values and errors."""
    page = overviews.patient_page(store, actor, ref, now=now)
    charts = overviews.chart_data(page.file)
    context: dict[str, Any] = {
        "page": page,
        "patient": page.file.patient,
        "charts": charts,
        "today": now.date(),
        "lab_rows": wizard.lab_rows(),
        "lab_values": {},
        "lab_errors": {},
        "diary_values": {},
        "diary_errors": {},
        "vial_products": _multi_dose_products(),
        "vial_values": {},
        "vial_errors": {},
    }
    context.update(extra)
    return context


@router.get("/patients/{ref}", name="patient")
def patient_page(request: Request, ref: str, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    context = patient_context(store, actor, ref, now, saved=request.query_params.get("saved"))
    return render(request, "patient.html", context)


@router.get("/me", name="me")
def own_view(request: Request, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    require(actor.role is Role.PATIENT and actor.patient_ref is not None, "this page is a patient's own view")
    assert actor.patient_ref is not None
    context = patient_context(store, actor, actor.patient_ref, now, saved=request.query_params.get("saved"))
    return render(request, "me.html", context)


@router.get("/patients/{ref}/calendar", name="calendar")
def calendar_link(request: Request, ref: str, actor: PageActor, store: ActorStore, state: State) -> Response:
    query = as_user.feed_query(store, actor, ref, secret=state.settings.secret_key)
    url = str(request.url_for("feed", ref=ref)) + "?" + query
    webcal = "webcal://" + url.split("://", 1)[1]
    patient = as_user.patient(store, actor, ref)
    return render(request, "calendar.html", {"patient": patient, "feed_url": url, "webcal_url": webcal})
