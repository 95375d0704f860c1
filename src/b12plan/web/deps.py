"""The app's state and the typed dependencies that handlers declare, so that a handler reads like prose:

    def patient_page(ref: str, actor: PageActor, store: ActorStore, clock: Clock) -> HTMLResponse: ...

`PageActor` is the signed-in user of a page (session cookie; else NotSignedInError, which sends the browser
to the sign-in page); `ApiActor` the user of an API call (bearer token; else 401). `ActorStore` is the record
store acting for that user, so the audit log names them. `CsrfForm` is a posted form whose CSRF token
matched its session (else 403).

Dependencies that do no I/O are `async def`, so they run on the event loop: FastAPI runs every plain `def`
dependency in the thread pool, a hop that costs more than their work. The two that read the store (the
signed-in user of a page or a token) stay plain functions, one hop each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from b12plan.errors import ForbiddenError, NotSignedInError
from b12plan.services import accounts
from b12plan.services.accounts import Actor
from b12plan.services.overviews import BoardCache
from b12plan.store import Store
from b12plan.web.security import LoginLimiter, Session, Signer, check_csrf
from b12plan.web.settings import Settings

__all__ = [
    "ActorStore",
    "ApiActor",
    "AppState",
    "CdsActor",
    "Clock",
    "CsrfForm",
    "PageActor",
    "State",
    "cds_actor_now",
    "ensure_session",
]


@dataclass(frozen=True)
class AppState:
    """Everything `create_app` builds once: settings, the database engine, signing, the rate limiter, the
    clock (local wall-clock time, naive: the record's convention) and the dashboard's cache of clinic boards
    (checked against the database on every request: `overviews.BoardCache`)."""

    settings: Settings
    engine: Engine
    signer: Signer
    limiter: LoginLimiter
    now: Callable[[], dt.datetime]
    boards: BoardCache = field(default_factory=BoardCache)

    def store(self, actor: str) -> Store:
        return Store(self.engine, actor=actor)


async def _state(request: Request) -> AppState:
    state: AppState = request.app.state.b12plan
    return state


State = Annotated[AppState, Depends(_state)]


async def _clock(state: State) -> dt.datetime:
    return state.now()


Clock = Annotated[dt.datetime, Depends(_clock)]


def ensure_session(request: Request) -> Session:
    """The page's session, a new anonymous one if it has none (sent back as a cookie)."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):
        session = Session()
        request.state.session = session
    return session


def _page_actor(request: Request, state: State) -> Actor:
    session = getattr(request.state, "session", None)
    actor = None
    if isinstance(session, Session) and session.user_id is not None:
        actor = accounts.signed_in(state.store("web"), session.user_id, session.stamp)
    if actor is None:
        raise NotSignedInError("sign in first")
    request.state.actor = actor
    return actor


PageActor = Annotated[Actor, Depends(_page_actor)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)


def _token_actor(state: AppState, token: str | None) -> Actor:
    found = state.signer.read_token(token) if token else None
    actor = accounts.signed_in(state.store("api"), *found) if found else None
    if actor is None:
        problem = "sign in: POST /api/token" if not token else "the token is not valid or has expired"
        raise NotSignedInError(problem, field="authorization")
    return actor


def _api_actor(state: State, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    return _token_actor(state, token)


ApiActor = Annotated[Actor, Depends(_api_actor)]

# The CDS Hooks router asks for the next dose through a callback that knows no request: the actor of the
# call is handed over in this context variable (set by an async dependency, so it is the handler's context;
# the router runs the call in a worker thread, which copies the context).
_cds_actor: ContextVar[Actor | None] = ContextVar("b12plan_cds_actor", default=None)


async def _cds_dependency(state: State, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    actor = await run_in_threadpool(_token_actor, state, token)
    if not accounts.can_plan(actor):
        raise ForbiddenError("CDS Hooks services are for clinicians' and admins' systems")
    _cds_actor.set(actor)
    return actor


CdsActor = Depends(_cds_dependency)


def cds_actor_now() -> Actor | None:
    """The actor of the CDS Hooks call being answered (None outside one)."""
    return _cds_actor.get()


def _store(state: State, request: Request) -> Store:
    actor = getattr(request.state, "actor", None)
    return state.store(actor.username if isinstance(actor, Actor) else "web")


async def _page_store(state: State, request: Request, _actor: PageActor) -> Store:
    return _store(state, request)


async def _api_store(state: State, actor: ApiActor) -> Store:
    return state.store(actor.username)


ActorStore = Annotated[Store, Depends(_page_store)]
ApiStore = Annotated[Store, Depends(_api_store)]


async def _csrf_form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token")
    session = getattr(request.state, "session", None)
    if not check_csrf(
        session if isinstance(session, Session) else None, sent if isinstance(sent, str) else None
    ):
        raise ForbiddenError("the form has expired: reload the page and try again", field="csrf_token")
    return form


CsrfForm = Annotated[FormData, Depends(_csrf_form)]
