"""schemathesis 4 against the OpenAPI document of `create_app(settings)` (/api/openapi.json), in-process over
ASGI: requests generated from the schema, valid ones and invalid ones, for every operation, signed in as an
admin with a bearer token from `POST /api/token`.

Every response must be no server error (5xx), have a documented status code and content type, and match the
documented schema. A patient id in a path is one of the seeded patients most of the time (a schemathesis
dictionary), so that generated bodies reach the services rather than stopping at "no such patient".

Examples per operation and mode stay modest (`MAX_EXAMPLES`) so the module runs in about 20 s; for a deeper
run: `B12PLAN_FUZZ_EXAMPLES=200 pytest tests/web_fuzz`.

`KNOWN` lists what this found that is not fixed yet, each tolerated here exactly (one kind of failure on the
operations it was seen on, nothing broader) and pinned by a strict xfail test at the end of the module, which
fails once the bug is fixed so that its entry is removed. What it found and was fixed is pinned there too, by
ordinary tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from b12plan import services
from b12plan.services import accounts, records
from b12plan.store import Store
from b12plan.web import Settings, create_app

try:
    import schemathesis
except ImportError as missing:  # skipped loudly on a developer's machine; never quietly in CI
    if os.environ.get("CI"):
        raise ImportError(
            f"schemathesis is missing and CI is set: pip install -e '.[dev]' ({missing})"
        ) from None
    warnings.warn(f"API fuzzing NOT RUN: {missing} (pip install -e '.[dev]')", stacklevel=1)
    pytest.skip(f"API fuzzing NOT RUN: {missing}", allow_module_level=True)

NOW = dt.datetime(2026, 1, 20, 12, 0)
PASSWORD = "correct horse battery staple"
PATIENTS = ("P-ONE", "P-TWO", "P-EMPTY")
MAX_EXAMPLES = int(os.environ.get("B12PLAN_FUZZ_EXAMPLES", "12"))


# -- what was found and is not fixed yet ---------------------------------------------------------------------

KNOWN: dict[str, tuple[str, Callable[[BaseException, Any], bool]]] = {}
"""name -> (the check, a matcher of its failures that are known). Empty: date-times without a UTC offset and
FastAPI's 400 for a body that is not JSON were found here and fixed (pinned by the tests at the end)."""


def _tolerating(check: Callable[..., Any]) -> Callable[..., Any]:
    """`check`, less the failures `KNOWN` lists for it."""
    known = [match for name, match in KNOWN.values() if name == check.__name__]

    def wrapped(ctx: Any, response: Any, case: Any) -> Any:
        try:
            return check(ctx, response, case)
        except BaseExceptionGroup as group:
            rest = [f for f in group.exceptions if not any(m(f, response) for m in known)]
            if rest:
                raise group.derive(rest) from None
        except AssertionError as failure:  # a schemathesis Failure
            if not any(m(failure, response) for m in known):
                raise
        return None

    wrapped.__name__ = check.__name__
    return wrapped


CHECKS = [
    schemathesis.checks.not_a_server_error,
    _tolerating(schemathesis.checks.status_code_conformance),
    schemathesis.checks.content_type_conformance,
    _tolerating(schemathesis.checks.response_schema_conformance),
]


# -- the app -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    app: FastAPI
    headers: dict[str, str]


def _seed(path: Path) -> None:
    case: dict[str, Any] = json.loads(services.example_case_text())
    case["start_date"] = "2026-01-05"
    for lab in case["labs"]:
        lab["date"] = "2025-12-29"
    with Store.open(str(path), actor="seed") as store:
        for ref, clinic in zip(PATIENTS, ("North", "South", "North"), strict=True):
            records.add_patient(store, ref, name=f"Patient {ref}", clinic=clinic)
        for ref in PATIENTS[:2]:
            records.plan_for_patient(
                store, ref, case, today=dt.date(2026, 1, 2), reason=None, now=dt.datetime(2026, 1, 2, 9)
            )
        records.give_dose(store, "P-ONE", at=dt.datetime(2026, 1, 5, 10), site="deltoid-left", now=NOW)
        accounts.add_user(store, "admin", PASSWORD, "admin")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path = tmp_path_factory.mktemp("fuzz") / "records.sqlite3"
    _seed(path)
    # Production settings; enough sign-in attempts that fuzzing /api/token does not lock the admin out.
    chosen = Settings(secret_key=secrets.token_urlsafe(48), database_url=str(path), login_attempts=10_000)
    app = create_app(chosen, now=lambda: NOW)
    with TestClient(app, base_url="https://testserver") as client:
        signed = client.post("/api/token", data={"username": "admin", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        token = signed.json()["access_token"]
        yield Api(app=app, headers={"Authorization": f"Bearer {token}"})
    app.state.b12plan.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "dictionaries": {"patients": {"values": list(PATIENTS)}},
            "parameters": {"path.ref": {"dictionary": "patients", "probability": 0.8}},
        }
    )
    return schemathesis.openapi.from_asgi("/api/openapi.json", api.app, config=config)


# -- fuzzing -------------------------------------------------------------------------------------------------


def _fuzz(operation: Any, mode: Any, api: Api) -> None:
    """Generated requests for one operation in one mode (valid or invalid inputs), each checked."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=api.headers, checks=CHECKS)

    run()


# One test per generation mode, looping over the operations. schemathesis's lazy pytest loader
# (`schemathesis.pytest.from_fixture`), which makes one test per operation, reads a private pytest attribute
# that pytest 9.2 no longer has (`Function._nodeid`); and a schema loaded at import needs the app, so its
# store, built at import.
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_conforms_to_its_openapi_document(api_schema: Any, api: Api, mode: str) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        try:
            _fuzz(operation, schemathesis.GenerationMode(mode), api)
        except Unsatisfiable:
            if mode == "positive":
                raise
            # nothing of this operation can be made invalid (no parameters, an unconstrained string)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is a BaseExceptionGroup
            failures.append(f"--- {operation.label} ({mode}):\n{exc}")
    assert not failures, "\n".join(failures)


def test_the_document_describes_the_api(api_schema: Any) -> None:
    """The fuzzing above covers the API: every /api operation is in the document, sign-in included."""
    operations = {result.ok().label for result in api_schema.get_all_operations()}
    assert {"POST /api/token", "POST /api/plan", "GET /api/patients/{ref}", "GET /api/due"} <= operations
    assert len(operations) >= 15, sorted(operations)


# -- what fuzzing found, pinned (a strict xfail for what is still KNOWN; a plain test once fixed) ------------


def _client(api: Api) -> TestClient:
    return TestClient(api.app, base_url="https://testserver", raise_server_exceptions=False)


def test_a_feed_link_with_a_non_ascii_signature_is_refused(api: Api) -> None:
    assert _client(api).get("/feeds/P-ONE.ics", params={"sig": "é"}).status_code == 403


def test_a_form_with_a_non_ascii_csrf_token_is_refused(api: Api) -> None:
    client = _client(api)
    client.get("/login")
    form = {"username": "admin", "password": PASSWORD, "csrf_token": "é"}
    assert client.post("/login", data=form).status_code == 403


def test_a_body_that_is_not_json_is_refused_as_input(api: Api) -> None:
    """Found here: FastAPI answered 400 "There was an error parsing the body", undocumented."""
    response = _client(api).post(
        "/api/patients/P-ONE/labs",
        content=b"\xff\xfe not json",
        headers={**api.headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {"error": {"field": "body", "problem": "is not valid JSON"}}


def test_date_times_carry_a_utc_offset(api: Api) -> None:
    """Found here: times were written without an offset, which RFC 3339's `date-time` needs."""
    client = _client(api)
    created = client.get("/api/patients", headers=api.headers).json()[0]["created_at"]
    assert dt.datetime.fromisoformat(created).tzinfo is not None
    given = client.get("/api/patients/P-ONE/administrations", headers=api.headers).json()[0]["at"]
    assert dt.datetime.fromisoformat(given).tzinfo is not None
