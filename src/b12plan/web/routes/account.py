"""Accounts on the web: every signed-in user's own account page (change their password), and the admin's
accounts page (the list, a form to add an account, and per account a form to set a new password and a
button to disable or enable it).

Forms post plainly and redirect (303, `?saved=...`); a refused form comes back (422) with each problem beside
its field. The access checks are in the services (`accounts.change_password`, `accounts.list_users_as`, ...).
A wrong current password counts against the sign-in rate limit, so a borrowed session cannot be used to
guess it. Changing one's own password keeps this session signed in (it gets the new stamp) and ends every
other session and token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from b12plan.errors import FieldProblem, UnknownAccountError, UserError
from b12plan.services import accounts
from b12plan.services.accounts import Actor
from b12plan.store import Store
from b12plan.web.deps import ActorStore, CsrfForm, PageActor, State, ensure_session
from b12plan.web.errors import TooManyAttempts
from b12plan.web.forms import field_problems, form_text
from b12plan.web.routes.auth import client_address
from b12plan.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_NEW_USER_FIELDS = ("username", "role", "clinic", "patient")


def _raw(form: FormData, name: str) -> str:
    return form_text(form, name, strip=False)


def _repeated(password: str, repeat: str, field: str = "repeat_password") -> None:
    if password != repeat:
        raise UserError([FieldProblem(field, "the two passwords differ")])


# -- one's own account -------------------------------------------------------------------------------------


def _account_page(request: Request, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    context = {"errors": errors or {}, "saved": request.query_params.get("saved") if status == 200 else None}
    return render(request, "account.html", context, status=status)


@router.get("/account", name="account")
def account_page(request: Request, actor: PageActor) -> Response:
    return _account_page(request)


@router.post("/account/password", name="account_password")
def change_password(
    request: Request, actor: PageActor, store: ActorStore, form: CsrfForm, state: State
) -> Response:
    address = client_address(request)
    wait = state.limiter.retry_after(address, actor.username)
    if wait is not None:
        raise TooManyAttempts(wait)
    current, new = _raw(form, "current_password"), _raw(form, "new_password")
    try:
        _repeated(new, _raw(form, "repeat_password"))
        changed = accounts.change_password(store, actor, current, new)
    except UserError as exc:
        if any(p.field == "current_password" for p in exc.problems):
            state.limiter.failed(address, actor.username)
        return _account_page(request, field_problems(exc), 422)
    ensure_session(request).sign_in(changed.user_id, changed.stamp)
    return RedirectResponse("/account?saved=password", status_code=303)


# -- the accounts (admins) ---------------------------------------------------------------------------------


def _accounts_page(request: Request, store: Store, actor: Actor, status: int = 200, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "users": accounts.list_users_as(store, actor),
        "values": {},
        "errors": {},
        "reset_for": None,
        "reset_errors": {},
        "status_for": None,
        "status_error": None,
        "saved": request.query_params.get("saved") if status == 200 else None,
        "saved_for": request.query_params.get("for") if status == 200 else None,
    }
    context.update(extra)
    return render(request, "accounts.html", context, status=status)


@router.get("/accounts", name="accounts")
def accounts_page(request: Request, actor: PageActor, store: ActorStore) -> Response:
    return _accounts_page(request, store, actor)


@router.post("/accounts", name="account_add")
def add_account(request: Request, actor: PageActor, store: ActorStore, form: CsrfForm) -> Response:
    values = {name: _raw(form, name).strip() for name in _NEW_USER_FIELDS}
    password = _raw(form, "password")
    try:
        _repeated(password, _raw(form, "repeat_password"))
        accounts.add_user_as(
            store,
            actor,
            values["username"],
            password,
            values["role"],
            clinic=values["clinic"] or None,
            patient=values["patient"] or None,
        )
    except UserError as exc:
        return _accounts_page(request, store, actor, 422, values=values, errors=field_problems(exc))
    return RedirectResponse("/accounts?saved=account", status_code=303)


@router.post("/accounts/{username}/password", name="account_reset")
def reset_password(
    request: Request, username: str, actor: PageActor, store: ActorStore, form: CsrfForm
) -> Response:
    password = _raw(form, "password")
    try:
        _repeated(password, _raw(form, "repeat_password"))
        changed = accounts.reset_password(store, actor, username, password)
    except UnknownAccountError:
        raise  # no such account: the error page (404), there is no form of theirs to show it beside
    except UserError as exc:
        problems = field_problems(exc)
        return _accounts_page(request, store, actor, 422, reset_for=username, reset_errors=problems)
    if changed.user_id == actor.user_id:  # their own: this session goes on with the new password
        ensure_session(request).sign_in(changed.user_id, changed.stamp)
    return RedirectResponse(f"/accounts?saved=reset&for={quote(changed.username)}", status_code=303)


def _set_disabled(request: Request, username: str, actor: Actor, store: Store, disabled: bool) -> Response:
    change = accounts.disable_user if disabled else accounts.enable_user
    try:
        changed = change(store, actor, username)
    except UnknownAccountError:
        raise
    except UserError as exc:
        problem = exc.problems[0].problem if exc.problems else str(exc)
        return _accounts_page(request, store, actor, 422, status_for=username, status_error=problem)
    saved = "disabled" if disabled else "enabled"
    return RedirectResponse(f"/accounts?saved={saved}&for={quote(changed.username)}", status_code=303)


@router.post("/accounts/{username}/disable", name="account_disable")
def disable_account(
    request: Request, username: str, actor: PageActor, store: ActorStore, form: CsrfForm
) -> Response:
    return _set_disabled(request, username, actor, store, True)


@router.post("/accounts/{username}/enable", name="account_enable")
def enable_account(
    request: Request, username: str, actor: PageActor, store: ActorStore, form: CsrfForm
) -> Response:
    return _set_disabled(request, username, actor, store, False)
