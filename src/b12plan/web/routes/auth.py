"""Signing in and out, the home page (which sends each role to its own start page), a health check and the
/favicon.ico that browsers ask for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from b12plan.services import accounts
from b12plan.services.accounts import Actor, Role
from b12plan.web.deps import CsrfForm, State, ensure_session
from b12plan.web.errors import TooManyAttempts
from b12plan.web.security import Session
from b12plan.web.templating import render

__all__ = ["client_address", "router", "safe_next", "start_page"]

router = APIRouter(include_in_schema=False)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str | None:
    """A local path to return to after signing in; anything else (`//evil`, `https:`...) is None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target


def start_page(actor: Actor) -> str:
    return "/me" if actor.role is Role.PATIENT else "/dashboard"


def _signed_in(request: Request, state: State) -> Actor | None:
    session = getattr(request.state, "session", None)
    if isinstance(session, Session) and session.user_id is not None:
        return accounts.signed_in(state.store("web"), session.user_id, session.stamp)
    return None


@router.get("/", name="home")
def home(request: Request, state: State) -> Response:
    actor = _signed_in(request, state)
    return RedirectResponse(start_page(actor) if actor else "/login", status_code=303)


def _login_page(
    request: Request, state: State, *, next_page: str, error: str | None, status: int
) -> Response:
    first_run = accounts.count_users(state.store("web")) == 0
    context = {"next": next_page, "error": error, "first_run": first_run, "username": ""}
    return render(request, "login.html", context, status=status)


@router.get("/login", name="login")
def login_page(request: Request, state: State, next: str = "") -> Response:
    actor = _signed_in(request, state)
    if actor is not None:
        return RedirectResponse(safe_next(next) or start_page(actor), status_code=303)
    return _login_page(request, state, next_page=safe_next(next) or "", error=None, status=200)


@router.post("/login")
def login(request: Request, state: State, form: CsrfForm) -> Response:
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_page = safe_next(str(form.get("next") or "")) or ""
    address = client_address(request)
    wait = state.limiter.retry_after(address, username)
    if wait is not None:
        raise TooManyAttempts(wait)
    actor = accounts.authenticate(state.store("web"), username, password) if username and password else None
    if actor is None:
        state.limiter.failed(address, username)
        error = (
            "The username or password is wrong."
            if username and password
            else "Enter your username and password."
        )
        response = _login_page(request, state, next_page=next_page, error=error, status=401)
        return response
    state.limiter.succeeded(address, username)
    ensure_session(request).sign_in(actor.user_id, actor.stamp)
    return RedirectResponse(next_page or start_page(actor), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, form: CsrfForm) -> Response:
    ensure_session(request).sign_out()
    return RedirectResponse("/login", status_code=303)


@router.get("/healthz")
def health() -> JSONResponse:
    """For load balancers and test servers: the app is up (it does not touch the database)."""
    return JSONResponse({"status": "ok"})


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico by themselves on pages that link no icon (the printable plan)."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
