"""The plan wizard (with its live preview), saving a plan version, and the written plan to print or as PDF.

Without JavaScript the wizard's Preview button posts the form and the whole page comes back with the
preview; with htmx the form posts itself as you type (`hx-trigger`) and only the preview fragment
(`_preview.html`) is swapped in. Saving always posts the whole form and redirects (303) to the patient's page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from starlette.datastructures import FormData

from b12plan.adapters.render import render_html
from b12plan.adapters.render._words import date_words
from b12plan.domain.plan import Plan
from b12plan.errors import FieldProblem, UserError
from b12plan.services import as_user
from b12plan.services.accounts import Action, Actor
from b12plan.store import PatientInfo, Store
from b12plan.web import wizard
from b12plan.web.deps import ActorStore, Clock, CsrfForm, PageActor
from b12plan.web.templating import render

__all__ = ["router", "written_plan_html"]

router = APIRouter(include_in_schema=False)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _values(form: FormData) -> wizard.Values:
    values: wizard.Values = {}
    for key in form:
        items = [str(v) for v in form.getlist(key)]
        values[key] = items if key in ("symptoms", "causes", "conditions") else items[-1]
    return values


def _wizard(
    request: Request,
    store: Store,
    actor: Actor,
    ref: str,
    values: wizard.Values,
    *,
    plan: Plan | None = None,
    problems: list[FieldProblem] | None = None,
    lab_order: list[str] | None = None,
    status: int = 200,
) -> Response:
    found = as_user.patient(store, actor, ref, Action.CLINICAL)
    versions = as_user.plan_versions(store, actor, ref)
    problems = problems or []
    context: dict[str, Any] = {
        "patient": found,
        "values": values,
        "plan": plan,
        "problems": problems,
        "errors": wizard.place_errors(problems, lab_order or []),
        "choices": wizard.choices(),
        "lab_rows": wizard.lab_rows(),
        "versions": versions,
        "needs_reason": bool(versions),
    }
    template = "_preview.html" if request.headers.get("hx-request") == "true" else "wizard.html"
    return render(request, template, context, status=status)


@router.get("/patients/{ref}/plan/new", name="wizard")
def wizard_page(request: Request, ref: str, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    as_user.patient(store, actor, ref, Action.CLINICAL)
    versions = as_user.plan_versions(store, actor, ref)
    if not versions:
        return _wizard(request, store, actor, ref, {"start_date": now.date().isoformat()})
    values = wizard.form_from_case(versions[-1].case)
    plan, problems, order = _preview(actor, values, now)
    return _wizard(request, store, actor, ref, values, plan=plan, problems=problems, lab_order=order)


def _preview(
    actor: Actor, values: wizard.Values, now: Clock
) -> tuple[Plan | None, list[FieldProblem], list[str]]:
    case, order = wizard.case_from_form(values)
    try:
        return as_user.preview_plan(actor, case, today=now.date()), [], order
    except UserError as exc:
        return None, exc.problems, order


@router.post("/patients/{ref}/plan/preview", name="plan_preview")
def preview(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = _values(form)
    plan, problems, order = _preview(actor, values, now)
    status = 200 if plan is not None or request.headers.get("hx-request") == "true" else 422
    return _wizard(
        request, store, actor, ref, values, plan=plan, problems=problems, lab_order=order, status=status
    )


@router.post("/patients/{ref}/plan", name="plan_save")
def save(
    request: Request, ref: str, actor: PageActor, store: ActorStore, form: CsrfForm, now: Clock
) -> Response:
    values = _values(form)
    case, order = wizard.case_from_form(values)
    reason = str(values.get("reason") or "").strip() or None
    try:
        _plan, version = as_user.save_plan(store, actor, ref, case, reason=reason, now=now)
    except UserError as exc:
        plan, problems, order = _preview(actor, values, now)
        problems = [p for p in exc.problems if p not in problems] + problems
        return _wizard(
            request, store, actor, ref, values, plan=plan, problems=problems, lab_order=order, status=422
        )
    return RedirectResponse(f"/patients/{ref}?saved=plan-{version.version}", status_code=303)


def written_plan_html(view: as_user.PlanVersionView, patient: PatientInfo) -> str:
    """The written plan (`render_html`) headed with the patient id and the plan version, for a prescriber to
    check and sign."""
    stored = view.stored
    saved = escape(date_words(stored.created_at.date()))
    line = (
        f'<p class="record-line">Patient <strong>{escape(patient.ref)}</strong> · plan version '
        f"{stored.version}, saved {saved} by {escape(stored.created_by)}"
        f"{' · reason: ' + str(escape(stored.reason)) if stored.reason else ''}</p>\n"
    )
    html = render_html(view.plan)
    # Inside the written plan's <header> (a landmark), so that nothing on the page sits outside one.
    if "<body>\n<header>\n" in html:
        return html.replace("<body>\n<header>\n", "<body>\n<header>\n" + line, 1)
    return html.replace("<body>\n", "<body>\n" + line, 1)


def _style_hashes(html: str) -> str:
    digests = (hashlib.sha256(m.group(1).encode()).digest() for m in _STYLE.finditer(html))
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


@router.get("/patients/{ref}/plan/print", name="plan_print")
def print_view(ref: str, actor: PageActor, store: ActorStore, version: int | None = None) -> Response:
    view = as_user.plan_version(store, actor, ref, version)
    html = written_plan_html(view, as_user.patient(store, actor, ref))
    # The written plan carries its print stylesheet inline: allow exactly that stylesheet, still no script.
    policy = (
        f"default-src 'none'; style-src {_style_hashes(html)}; img-src 'self' data:; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"content-security-policy": policy})


@router.get("/patients/{ref}/plan.pdf", name="plan_pdf")
def pdf(ref: str, actor: PageActor, store: ActorStore, version: int | None = None) -> Response:
    import weasyprint  # type: ignore[import-untyped, import-not-found, unused-ignore]

    view = as_user.plan_version(store, actor, ref, version)
    html = written_plan_html(view, as_user.patient(store, actor, ref))
    document = weasyprint.HTML(string=html).write_pdf()
    name = f"b12plan-{ref}-plan-v{view.stored.version}.pdf"
    return Response(
        bytes(document),
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{name}"'},
    )
