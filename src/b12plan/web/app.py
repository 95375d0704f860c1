"""The web app factory: `create_app(settings) -> FastAPI`. Nothing is built at import.

    pages        /, /login, /logout, /dashboard, /patients, /patients/{id}/..., /me   (routes/*.py)
                 /account (your password), /accounts (admins: the accounts)       (routes/account.py)
    JSON API     /api/...  with its OpenAPI description at /api/openapi.json       (routes/api.py)
    feeds        /feeds/{id}.ics?sig=...                                           (routes/feeds.py)
    CDS Hooks    /cds-services, /cds-services/{id}: a clinician's or admin's bearer token
    static       /static/ (htmx 2, CSS, the body diagram), packaged with b12plan

`create_app` opens the record store (an empty SQLite file is created at the current schema; a PostgreSQL
database must have been upgraded with `b12plan db upgrade` first) and keeps its engine: several app
processes can share one PostgreSQL store, each with its own pool. `now` replaces the clock (tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from b12plan import __version__
from b12plan.adapters.cds_hooks.patient_view import DueInfo
from b12plan.adapters.cds_hooks.router import make_router
from b12plan.errors import AccessError, UnknownPatientError
from b12plan.services import as_user
from b12plan.store import Store
from b12plan.web.deps import AppState, CdsActor, cds_actor_now
from b12plan.web.errors import install_error_handlers
from b12plan.web.routes import account, api, auth, entries, feeds, pages, plans, reports
from b12plan.web.security import LoginLimiter, SecurityHeaders, SessionCookies, Signer
from b12plan.web.settings import Settings

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 1_000_000
"""The largest request body accepted (413 above): a case, a form or a hook call is a few kilobytes."""

_DESCRIPTION = """Plans and follows vitamin B12 injection treatment. **b12plan supports a prescriber: every
plan it writes must be checked and confirmed by one.**

Sign in with `POST /api/token` (an OAuth2 password form) and send the token as `Authorization: Bearer ...`.
Every error is `{"error": {"field": ..., "problem": ...}}`."""


def _local_now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _cds_router(state: AppState) -> APIRouter:
    def today() -> dt.date:
        return state.now().date()

    def due_lookup(patient_id: str, on: dt.date) -> DueInfo | None:
        actor = cds_actor_now()
        if actor is None:
            return None
        moment = dt.datetime.combine(on, state.now().time())
        try:
            return as_user.overview(state.store(actor.username), actor, patient_id, now=moment).next_due
        except (AccessError, UnknownPatientError):
            return None  # not a patient this user may see: as if b12plan did not follow them

    def plan_url(patient_id: str) -> str:
        return f"/patients/{patient_id}"

    return make_router(today, plan_url, due_lookup, ruleset_id=state.settings.ruleset)


def create_app(settings: Settings, *, now: Callable[[], dt.datetime] | None = None) -> FastAPI:
    """The b12plan web app for `settings` (see `Settings`; `Settings.from_env()` reads B12PLAN_*)."""
    opened = Store.open(settings.database_url, actor="web")
    state = AppState(
        settings=settings,
        engine=opened.engine,
        signer=Signer(settings),
        limiter=LoginLimiter(settings.login_attempts, settings.login_window_minutes * 60),
        now=now or _local_now,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.engine.dispose()

    app = FastAPI(
        title="b12plan",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,  # the interactive docs load scripts from a CDN: not here (CSP, offline)
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.b12plan = state
    install_error_handlers(app)
    app.add_middleware(SessionCookies, signer=state.signer)
    app.add_middleware(SecurityHeaders, hsts=settings.hsts)
    app.mount("/static", StaticFiles(packages=[("b12plan.web", "static")]), name="static")
    for module in (auth, pages, plans, entries, reports, feeds, account):
        app.include_router(module.router)
    app.include_router(api.router, prefix="/api")
    app.include_router(_cds_router(state), dependencies=[CdsActor])
    _publish_contract(app)
    return app


def _publish_contract(app: FastAPI) -> None:
    """The OpenAPI document with the case and plan schemas of the contract in its components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "contract_published", False):
            app.openapi_schema = api.contract_schemas(generate())
            app.state.contract_published = True
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
