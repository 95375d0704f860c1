"""Recording what happened: an injection (site chosen on the body diagram), a multi-dose vial opened, a lab
result, diary scores.

Each form posts plainly and redirects to the page it came from (303, `?saved=...`); a refused entry comes
back as the same page (422) with each problem beside its field and the values as typed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from b12plan.errors import FieldProblem, UserError
from b12plan.services import as_user, overviews
from b12plan.services.accounts import Actor, Role
from b12plan.store import Store
from b12plan.web.deps import ActorStore, Clock, CsrfForm, PageActor
from b12plan.web.forms import field_problems, form_text
from b12plan.web.routes.pages import patient_context
from b12plan.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_DOSE_FIELDS = ("at", "dose", "route", "site", "lot", "expiry", "vial_id", "product_id")


def _date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(
            [FieldProblem(field, f"{text!r} is not a date; use the date picker or YYYY-MM-DD")]
        ) from None


def _moment(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None, second=0, microsecond=0)
    except ValueError:
        raise UserError(
            [FieldProblem("at", f"{text!r} is not a date and time, e.g. 2026-01-05T09:30")]
        ) from None


def _float(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise UserError([FieldProblem(field, f"{text!r} is not a number")]) from None


def _back(actor: Actor, ref: str, saved: str) -> Response:
    page = "/me" if actor.role is Role.PATIENT else f"/patients/{ref}"
    return RedirectResponse(f"{page}?saved={saved}", status_code=303)


# -- an injection ------------------------------------------------------------------------------------------


def _dose_page(
    request: Request,
    store: Store,
    actor: Actor,
    ref: str,
    now: dt.datetime,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    form = overviews.dose_form(store, actor, ref, now=now)
    defaults: dict[str, Any] = {
        "at": now.strftime("%Y-%m-%dT%H:%M"),
        "dose": f"{form.due.dose_mcg:g} mcg" if form.due else "",
        "route": form.route.value,
        "site": form.suggested_site or "",
    }
    context = {"form": form, "values": {**defaults, **(values or {})}, "errors": errors or {}}
    return render(request, "dose.html", context, status=status)


@router.get("/patients/{ref}/doses/new", name="dose_form")
def dose_page(request: Request, ref: str, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    return _dose_page(request, store, actor, ref, now)


@router.post("/patients/{ref}/doses", name="dose_save")
def record_dose(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = {name: form_text(form, name) for name in _DOSE_FIELDS}
    try:
        vial = values["vial_id"]
        if vial and not vial.isdigit():
            raise UserError([FieldProblem("vial_id", "choose a vial from the list")])
        as_user.give_dose(
            store,
            actor,
            ref,
            now=now,
            at=_moment(values["at"]),
            dose=values["dose"] or None,
            route=values["route"] or None,
            site=values["site"] or None,
            lot=values["lot"] or None,
            expiry=_date(values["expiry"], "expiry"),
            vial=int(vial) if vial else None,
            product=values["product_id"] or None,
        )
    except UserError as exc:
        return _dose_page(request, store, actor, ref, now, values, field_problems(exc), 422)
    return _back(actor, ref, "dose")


# -- a vial, a lab result and diary scores (forms on the patient page) -------------------------------------


def _patient_page_again(
    request: Request, store: Store, actor: Actor, ref: str, now: dt.datetime, **extra: Any
) -> Response:
    template = "me.html" if actor.role is Role.PATIENT else "patient.html"
    return render(request, template, patient_context(store, actor, ref, now, saved=None, **extra), status=422)


@router.post("/patients/{ref}/vials", name="vial_save")
def record_vial(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = {name: form_text(form, name) for name in ("product_id", "opened", "lot", "expiry")}
    try:
        as_user.open_vial(
            store,
            actor,
            ref,
            now=now,
            product=values["product_id"] or None,
            opened=_date(values["opened"], "opened"),
            lot=values["lot"] or None,
            expiry=_date(values["expiry"], "expiry"),
        )
    except UserError as exc:
        return _patient_page_again(
            request, store, actor, ref, now, vial_values=values, vial_errors=field_problems(exc)
        )
    return _back(actor, ref, "vial")


@router.post("/patients/{ref}/labs", name="lab_save")
def record_lab(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = {name: form_text(form, name) for name in ("test", "value", "unit", "date", "upper_limit")}
    try:
        as_user.add_lab(
            store,
            actor,
            ref,
            test=values["test"],
            value=values["value"],
            unit=values["unit"] or None,
            date=_date(values["date"], "date"),
            upper_limit=_float(values["upper_limit"], "upper_limit"),
            now=now,
        )
    except UserError as exc:
        return _patient_page_again(
            request, store, actor, ref, now, lab_values=values, lab_errors=field_problems(exc)
        )
    return _back(actor, ref, "lab")


@router.post("/patients/{ref}/diary", name="diary_save")
def record_diary(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = {key: form_text(form, key) for key in form if key != "csrf_token"}
    scores = {key.removeprefix("score-"): v for key, v in values.items() if key.startswith("score-") and v}
    try:
        as_user.add_diary(store, actor, ref, scores, date=_date(values.get("date", ""), "date"), now=now)
    except UserError as exc:
        errors = field_problems(exc)
        return _patient_page_again(request, store, actor, ref, now, diary_values=values, diary_errors=errors)
    return _back(actor, ref, "diary")
