"""Browser fixtures: the real app (`create_app`) served by uvicorn on 127.0.0.1 and a free port, over a
SQLite store seeded with the project's own services, and Debian's Chromium driven by Playwright.

Seed (the app's clock reads 2026-01-20 12:00, `browserkit.NOW`):

    P-ANN    Clinic A, plan from 3 Mar 2025 (loading, then maintenance every 12 weeks), every injection
             given on its day, Hb/MCV results, weekly fatigue scores: the interval report has cycles
    P-BOB    Clinic A, plan from 12 Jan 2026, one dose
    P-CAROL  Clinic B, no plan

    admin    admin
    nurse-a  clinician, Clinic A
    ann      patient, P-ANN
    bob      patient, P-BOB

Each test gets fresh browser contexts; each user signs in through the form once per session and later
contexts reuse that sign-in (Playwright's storage state). Tests that write make their own patients.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browserkit import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    NOW,
    PASSWORD,
    ServerLog,
    Site,
    Watch,
    sign_in,
    unavailable,
)

from b12plan import services
from b12plan.domain.codes import EventKind, Stage
from b12plan.services import accounts, records
from b12plan.store import Store
from b12plan.web import Settings, create_app
from b12plan.web.server import start_server

USERS = {
    "admin": ("admin", {}),
    "nurse-a": ("clinician", {"clinic": "Clinic A"}),
    "ann": ("patient", {"patient": "P-ANN"}),
    "bob": ("patient", {"patient": "P-BOB"}),
}


def _case(start: dt.date) -> dict[str, Any]:
    """The shipped example case starting on `start`, its labs taken a week before."""
    case: dict[str, Any] = json.loads(services.example_case_text())
    case["start_date"] = start.isoformat()
    for lab in case["labs"]:
        lab["date"] = (start - dt.timedelta(days=7)).isoformat()
    return case


def seed(path: Path) -> None:
    """The patients and accounts in the module docstring."""
    with Store.open(str(path), actor="seed") as store:
        records.add_patient(store, "P-ANN", name="Ann Example", clinic="Clinic A")
        records.add_patient(store, "P-BOB", name="Bob Example", clinic="Clinic A")
        records.add_patient(store, "P-CAROL", name="Carol Example", clinic="Clinic B")
        start = dt.date(2025, 3, 3)
        plan, _ = records.plan_for_patient(
            store, "P-ANN", _case(start), today=start, reason=None, now=dt.datetime(2025, 3, 3, 9)
        )
        sites = ("deltoid-left", "deltoid-right")
        injections = [e for e in plan.events if e.kind is EventKind.INJECTION and e.date < NOW.date()]
        for number, event in enumerate(injections):
            at = dt.datetime.combine(event.date, dt.time(10, 0))
            records.give_dose(store, "P-ANN", at=at, site=sites[number % 2], lot="AB1", now=at)
        maintenance = [e.date for e in injections if e.stage is Stage.MAINTENANCE]
        day = maintenance[0]
        while day < NOW.date():
            score = 2 + (day - max(d for d in maintenance if d <= day)).days // 14
            records.add_symptom(store, "P-ANN", "fatigue", min(score, 10), date=day, now=NOW)
            day += dt.timedelta(days=7)
        for taken, hb, mcv in ((start - dt.timedelta(days=7), 98, 112), (dt.date(2025, 4, 14), 121, 99)):
            records.add_lab(store, "P-ANN", "hb", hb, "g/L", date=taken, now=NOW)
            records.add_lab(store, "P-ANN", "mcv", mcv, "fL", date=taken, now=NOW)
        bob_start = dt.date(2026, 1, 12)
        records.plan_for_patient(
            store, "P-BOB", _case(bob_start), today=bob_start, reason=None, now=dt.datetime(2026, 1, 12, 9)
        )
        records.give_dose(store, "P-BOB", at=dt.datetime(2026, 1, 12, 10), site="deltoid-left", now=NOW)
        for name, (role, scope) in USERS.items():
            accounts.add_user(store, name, PASSWORD, role, **scope)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app on a free loopback port, with production settings (a random secret, Secure cookies)."""
    path = tmp_path_factory.mktemp("browser") / "records.sqlite3"
    seed(path)
    settings = Settings(secret_key=secrets.token_urlsafe(48), database_url=str(path))
    app = create_app(settings, now=lambda: NOW)
    server = start_server(app)
    log = ServerLog()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "b12plan")]
    for logger in loggers:
        logger.addHandler(log)
    try:
        yield Site(url=server.url, users=tuple(USERS), log=log)
    finally:
        for logger in loggers:
            logger.removeHandler(log)
        server.stop()
        app.state.b12plan.engine.dispose()


@pytest.fixture(autouse=True)
def no_server_errors(site: Site) -> Iterator[None]:
    """Every browser test ends with nothing in the server's error log (a 500, a crash in a handler)."""
    site.log.take()
    yield
    errors = site.log.take()  # a client hanging up (htmx cancelling a preview) is not one: web/errors.py
    assert errors == [], "the server logged errors:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        unavailable("Playwright", f"{exc} (pip install playwright; never `playwright install`)")
    if not CHROMIUM.exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    driver = sync_playwright().start()
    try:
        try:
            launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        except Error as exc:
            unavailable("Chromium", f"Playwright could not launch {CHROMIUM}: {exc}")
        yield launched
        launched.close()
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        unavailable("axe-core", f"{AXE} is missing (npm ci --prefix tests/js)")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Browse:
    """Opens pages in fresh browser contexts, signed in as a seeded user (or nobody)."""

    browser: Any
    site: Site
    _states: dict[str, Any] = field(default_factory=dict)
    _contexts: list[Any] = field(default_factory=list)

    def _context(self, state: Any = None) -> Any:
        context = self.browser.new_context(
            base_url=self.site.url, storage_state=state, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        return context

    def state(self, username: str) -> Any:
        """The browser state of `username` signed in through the form (once per session)."""
        if username not in self._states:
            context = self._context()
            sign_in(context.new_page(), username)
            self._states[username] = context.storage_state()
            context.close()
        return self._states[username]

    def open(self, username: str | None) -> tuple[Any, Watch]:
        """A page in a new context as `username` (None: signed out) and the watch on its problems."""
        context = self._context(self.state(username) if username else None)
        self._contexts.append(context)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        return page, watch

    def close_pages(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()


@pytest.fixture(scope="session")
def browsing(browser: Any, site: Site) -> Browse:
    return Browse(browser, site)


@pytest.fixture
def browse(browsing: Browse) -> Iterator[Callable[[str | None], tuple[Any, Watch]]]:
    """`page, watch = browse("nurse-a")`: a page signed in as that user; its context closes after the test."""
    yield browsing.open
    browsing.close_pages()
