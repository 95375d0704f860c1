"""Every route x every role, own and other patient: who is let in and who is turned away.

The table below has one entry per route of the app; `test_every_route_has_an_entry` builds the list of
routes from the app itself, so a new route without an entry here fails until someone decides who may use it.
The patient in every patient route is P-OWN (clinic North). Roles:

    admin          every clinic
    nurse-north    clinician of P-OWN's clinic          nurse-south   clinician of another clinic
    ann            the patient P-OWN                    bob           another patient (P-OTHER)
    None           nobody signed in

Allowed: anything but 401/403 and the sign-in redirect (a refusal of the input, 422, is past the access
check: bodies here are valid, so the framework's own validation never answers first). Turned away: 403 when
signed in; when nobody is, 401 from the API and CDS Hooks, a 303 to /login from pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webkit import CSRF, PASSWORD, Web, example_case, flat_routes

from b12plan.services.accounts import feed_signature
from b12plan.web import wizard

ROLES = ("admin", "nurse-north", "nurse-south", "ann", "bob", None)
WHO = {
    "public": set(ROLES),
    "signed_in": {"admin", "nurse-north", "nurse-south", "ann", "bob"},
    "staff": {"admin", "nurse-north", "nurse-south"},  # dashboard, lists, planner: a clinician's own clinic
    "read": {"admin", "nurse-north", "ann"},  # P-OWN's record; also their diary and recording a dose
    "clinical": {"admin", "nurse-north"},  # P-OWN's plan versions, labs and vials
    "own_view": {"ann", "bob"},  # a patient's own start page
    "admin": {"admin"},  # the accounts: list, add, set a password
}
NEW = "a brand new long password"
FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures" / "cds"
Request = Callable[[Web, str | None], dict[str, Any]]


def page_form(data: dict[str, Any]) -> Request:
    return lambda web, role: {"data": {"csrf_token": CSRF, **data}}


def api_json(body: Any) -> Request:
    return lambda web, role: {"json": body}


def _plan_form() -> dict[str, Any]:
    values = wizard.form_from_case(example_case())
    return {**values, "reason": "access matrix"}


def _new_patient(web: Web, role: str | None) -> dict[str, Any]:
    return {"data": {"csrf_token": CSRF, "id": "P-NEW", "clinic": "North" if role == "admin" else ""}}


ROUTES: dict[tuple[str, str], tuple[str, Request | None]] = {
    ("GET", "/"): ("public", None),
    ("GET", "/healthz"): ("public", None),
    ("GET", "/favicon.ico"): ("public", None),
    ("GET", "/login"): ("public", None),
    ("POST", "/login"): ("public", page_form({"username": "admin", "password": PASSWORD})),
    ("POST", "/logout"): ("public", page_form({})),
    ("GET", "/static/{path}"): ("public", None),
    ("GET", "/api/openapi.json"): ("public", None),
    ("POST", "/api/token"): (
        "public",
        lambda web, role: {"data": {"username": "admin", "password": PASSWORD}},
    ),
    ("GET", "/feeds/{ref}.ics"): ("public", None),
    ("GET", "/me"): ("own_view", None),
    ("GET", "/api/me"): ("signed_in", None),
    ("GET", "/account"): ("signed_in", None),
    ("POST", "/account/password"): (
        "signed_in",
        page_form({"current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}),
    ),
    ("POST", "/api/me/password"): (
        "signed_in",
        api_json({"current_password": PASSWORD, "new_password": NEW}),
    ),
    ("GET", "/accounts"): ("admin", None),
    ("POST", "/accounts"): (
        "admin",
        page_form(
            {
                "username": "new-nurse",
                "role": "clinician",
                "clinic": "North",
                "password": NEW,
                "repeat_password": NEW,
            }
        ),
    ),
    ("POST", "/accounts/{username}/password"): (
        "admin",
        page_form({"password": NEW, "repeat_password": NEW}),
    ),
    ("GET", "/api/users"): ("admin", None),
    ("POST", "/api/users"): (
        "admin",
        api_json({"username": "new-nurse", "password": NEW, "role": "clinician", "clinic": "North"}),
    ),
    ("POST", "/api/users/{username}/password"): ("admin", api_json({"password": NEW})),
    ("POST", "/accounts/{username}/disable"): ("admin", page_form({})),
    ("POST", "/accounts/{username}/enable"): ("admin", page_form({})),
    ("POST", "/api/users/{username}/disable"): ("admin", None),
    ("POST", "/api/users/{username}/enable"): ("admin", None),
    ("GET", "/dashboard"): ("staff", None),
    ("GET", "/patients"): ("staff", None),
    ("POST", "/patients"): ("staff", _new_patient),
    ("GET", "/api/due"): ("staff", None),
    ("GET", "/api/patients"): ("staff", None),
    ("POST", "/api/patients"): ("staff", api_json({"id": "P-NEW"})),
    ("POST", "/api/plan"): ("staff", api_json(example_case())),
    ("GET", "/cds-services"): ("staff", None),
    ("POST", "/cds-services/{service_id}"): (
        "staff",
        lambda web, role: {"json": json.loads((FIXTURES / "patient-view.json").read_text())},
    ),
    ("GET", "/patients/{ref}"): ("read", None),
    ("GET", "/patients/{ref}/calendar"): ("read", None),
    ("GET", "/patients/{ref}/charts/{name}.svg"): ("read", None),
    ("GET", "/patients/{ref}/doses/new"): ("read", None),
    ("POST", "/patients/{ref}/doses"): (
        "read",
        page_form({"at": "2026-01-20T11:00", "dose": "1000 mcg", "route": "IM", "site": "thigh-left"}),
    ),
    ("POST", "/patients/{ref}/diary"): ("read", page_form({"date": "2026-01-19", "score-fatigue": "3"})),
    ("GET", "/patients/{ref}/interval-report"): ("read", None),
    ("GET", "/patients/{ref}/interval-report.pdf"): ("read", None),
    ("GET", "/patients/{ref}/plan.pdf"): ("read", None),
    ("GET", "/patients/{ref}/plan/print"): ("read", None),
    ("GET", "/api/patients/{ref}"): ("read", None),
    ("GET", "/api/patients/{ref}/administrations"): ("read", None),
    ("POST", "/api/patients/{ref}/administrations"): (
        "read",
        api_json({"at": "2026-01-20T11:00:00", "site": "thigh-left"}),
    ),
    ("GET", "/api/patients/{ref}/labs"): ("read", None),
    ("GET", "/api/patients/{ref}/vials"): ("read", None),
    ("GET", "/api/patients/{ref}/plans"): ("read", None),
    ("GET", "/api/patients/{ref}/plans/{version}"): ("read", None),
    ("GET", "/api/patients/{ref}/review"): ("read", None),
    ("GET", "/api/patients/{ref}/symptoms"): ("read", None),
    ("POST", "/api/patients/{ref}/symptoms"): (
        "read",
        api_json({"symptom": "fatigue", "score": 3, "date": "2026-01-19"}),
    ),
    ("GET", "/patients/{ref}/plan/new"): ("clinical", None),
    ("POST", "/patients/{ref}/plan"): (
        "clinical",
        lambda web, role: {"data": {"csrf_token": CSRF, **_plan_form()}},
    ),
    ("POST", "/patients/{ref}/plan/preview"): (
        "clinical",
        lambda web, role: {"data": {"csrf_token": CSRF, **_plan_form()}},
    ),
    ("POST", "/patients/{ref}/labs"): (
        "clinical",
        page_form({"test": "hb", "value": "120", "unit": "g/L", "date": "2026-01-19"}),
    ),
    ("POST", "/api/patients/{ref}/labs"): (
        "clinical",
        api_json({"test": "hb", "value": 120, "unit": "g/L", "date": "2026-01-19"}),
    ),
    ("POST", "/patients/{ref}/vials"): (
        "clinical",
        page_form({"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "opened": "2026-01-20"}),
    ),
    ("POST", "/api/patients/{ref}/vials"): (
        "clinical",
        api_json({"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "opened": "2026-01-20"}),
    ),
    ("POST", "/api/patients/{ref}/plans"): (
        "clinical",
        api_json({"case": example_case(), "reason": "matrix"}),
    ),
}


def _url(web: Web, path: str) -> str:
    url = (
        path.replace("{ref}", "P-OWN")
        .replace("{version}", "1")
        .replace("{name}", "hb")
        .replace("{service_id}", "b12plan-patient-view")
        .replace("{path}", "app.css")
        .replace("{username}", "nurse-south")
    )
    if path == "/feeds/{ref}.ics":
        url += "?sig=" + feed_signature(web.settings.secret_key, "P-OWN")
    return url


class _FakeHTML:
    def __init__(self, string: str) -> None:
        self.string = string

    def write_pdf(self, **_: object) -> bytes:
        return b"%PDF-1.7 (not rendered in the access tests)"


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/cds-services", "/feeds/"))


def test_every_route_has_an_entry(shared_web: Web) -> None:
    routes = set(flat_routes(list(shared_web.app.routes)))
    assert routes - set(ROUTES) == set(), "routes with no entry in the access table"
    assert set(ROUTES) - routes == set(), "entries for routes the app does not have"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    route: tuple[str, str],
    role: str | None,
) -> None:
    method, path = route
    rule, build = ROUTES[route]
    # A request that may change the record gets its own copy of the store; the rest share one.
    writes = method == "POST" and role in WHO[rule]
    web: Web = request.getfixturevalue("web" if writes else "shared_web")
    monkeypatch.setattr("weasyprint.HTML", _FakeHTML)  # PDFs have their own tests: here only access counts
    client = web.client(role)
    kwargs = build(web, role) if build else {}
    if _is_api(path):
        kwargs["headers"] = web.headers(role)
    response = client.request(method, _url(web, path), **kwargs)
    assert response.status_code < 500, response.text
    to_sign_in = response.status_code == 303 and response.headers["location"].startswith("/login")
    if role in WHO[rule]:
        assert response.status_code not in (401, 403), (response.status_code, response.text[:500])
        if rule != "public":
            assert not to_sign_in
    elif role is None:
        if _is_api(path):
            assert response.status_code == 401, response.text[:300]
            assert response.headers["www-authenticate"] == "Bearer"
        else:
            assert to_sign_in, (response.status_code, response.headers.get("location"))
    else:
        assert response.status_code == 403, (response.status_code, response.text[:500])
