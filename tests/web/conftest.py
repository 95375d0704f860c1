"""Web app fixtures: a record store on a SQLite file, seeded once per session and copied for each test, and
an app made by `create_app(settings)` on the copy with a fixed clock.

Seed (the clock reads 2026-01-20 12:00):

    P-OWN    clinic North, plan version 1 from 5 Jan 2026, doses 5 and 7 Jan, Hb/MCV results, diary scores
    P-OTHER  clinic South, plan version 1, one dose
    P-SPARE  clinic North, no plan

    admin        admin
    nurse-north  clinician, North          (same clinic as P-OWN)
    nurse-south  clinician, South          (another clinic)
    ann          patient, P-OWN            (own record)
    bob          patient, P-OTHER          (another patient's)

Signing in costs an argon2 hash (~0.25 s), so most tests get a session cookie or API token minted with the
app's own signer (`Web.client(role)`, `Web.headers(role)`); the sign-in routes have tests of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from webkit import NOW, PASSWORD, Seed, Web, copy_database, example_case

from b12plan.services import accounts, records
from b12plan.services.accounts import Actor
from b12plan.store import Store
from b12plan.web import Settings, create_app
from b12plan.web.security import Signer

USERS = {
    "admin": ("admin", {}),
    "nurse-north": ("clinician", {"clinic": "North"}),
    "nurse-south": ("clinician", {"clinic": "South"}),
    "ann": ("patient", {"patient": "P-OWN"}),
    "bob": ("patient", {"patient": "P-OTHER"}),
}


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    path = tmp_path_factory.mktemp("web-seed") / "seed.sqlite3"
    with Store.open(str(path), actor="seed") as store:
        records.add_patient(store, "P-OWN", name="Ann Own", clinic="North")
        records.add_patient(store, "P-OTHER", name="Bob Other", clinic="South")
        records.add_patient(store, "P-SPARE", clinic="North")
        for ref in ("P-OWN", "P-OTHER"):
            records.plan_for_patient(
                store,
                ref,
                example_case(),
                today=dt.date(2026, 1, 2),
                reason=None,
                now=dt.datetime(2026, 1, 2, 9),
            )
        for day, site in ((5, "deltoid-left"), (7, "deltoid-right")):
            records.give_dose(store, "P-OWN", at=dt.datetime(2026, 1, day, 10), site=site, lot="AB1", now=NOW)
        records.give_dose(store, "P-OTHER", at=dt.datetime(2026, 1, 5, 10), site="deltoid-left", now=NOW)
        for day, hb, mcv in ((dt.date(2026, 1, 1), 98, 112), (dt.date(2026, 1, 14), 10.6, 108)):
            records.add_lab(store, "P-OWN", "hb", hb, "g/L" if hb > 50 else "g/dL", date=day, now=NOW)
            records.add_lab(store, "P-OWN", "mcv", mcv, "fL", date=day, now=NOW)
        for day, score in ((dt.date(2026, 1, 4), 7), (dt.date(2026, 1, 15), 4)):
            records.add_symptom(store, "P-OWN", "fatigue", score, date=day, now=NOW)
        actors: dict[str, Actor] = {}
        for name, (role, scope) in USERS.items():
            actors[name] = accounts.add_user(store, name, PASSWORD, role, **scope)
    return Seed(path=path, actors=actors)


def make_web(seed: Seed, folder: Path) -> Web:
    """An app on a fresh copy of the seeded store in `folder`."""
    target = folder / "records.sqlite3"
    copy_database(seed.path, target)
    settings = Settings(secret_key="test-secret-" + "x" * 40, database_url=str(target))
    app = create_app(settings, now=lambda: NOW)
    return Web(app=app, settings=settings, seed=seed, signer=Signer(settings))


@pytest.fixture
def web(seed: Seed, tmp_path: Path) -> Iterator[Web]:
    made = make_web(seed, tmp_path)
    yield made
    made.close()


@pytest.fixture(scope="module")
def shared_web(seed: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One app for a module's requests that change nothing (reads, and requests that must be refused)."""
    made = make_web(seed, tmp_path_factory.mktemp("shared-web"))
    yield made
    made.close()


@pytest.fixture
def anonymous(web: Web) -> TestClient:
    return web.client(None)
