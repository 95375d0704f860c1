"""The JSON API: tokens, the planner (the CLI's JSON exactly), the record routes, the one error shape,
401 without a token, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webkit import PASSWORD, Web, error_of, example_case

from b12plan.web.routes.api import contract_schemas

Cli = Callable[..., Any]
RECORD_ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/due"),
    ("GET", "/api/patients"),
    ("POST", "/api/patients"),
    ("GET", "/api/patients/P-OWN"),
    ("GET", "/api/patients/P-OWN/plans"),
    ("POST", "/api/patients/P-OWN/plans"),
    ("GET", "/api/patients/P-OWN/plans/1"),
    ("GET", "/api/patients/P-OWN/administrations"),
    ("POST", "/api/patients/P-OWN/administrations"),
    ("GET", "/api/patients/P-OWN/vials"),
    ("POST", "/api/patients/P-OWN/vials"),
    ("GET", "/api/patients/P-OWN/labs"),
    ("POST", "/api/patients/P-OWN/labs"),
    ("GET", "/api/patients/P-OWN/symptoms"),
    ("POST", "/api/patients/P-OWN/symptoms"),
    ("GET", "/api/patients/P-OWN/review"),
    ("POST", "/api/plan"),
    ("GET", "/cds-services"),
]


def test_token_is_an_oauth2_password_grant(web: Web) -> None:
    client = web.client(None)
    response = client.post("/api/token", data={"username": "nurse-north", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type"}
    assert body["token_type"] == "bearer"
    me = client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "nurse-north", "role": "clinician", "clinic": "North", "patient": None}


def test_a_wrong_password_gets_no_token(web: Web) -> None:
    response = web.client(None).post(
        "/api/token", data={"username": "nurse-north", "password": "wrong guess!!"}
    )
    assert response.status_code == 401
    assert error_of(response) == {"field": "password", "problem": "the username or password is wrong"}


@pytest.mark.parametrize(("method", "path"), RECORD_ROUTES)
def test_no_token_is_401_in_the_error_shape(shared_web: Web, method: str, path: str) -> None:
    response = shared_web.client(None).request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response)["field"] == "authorization"


@pytest.mark.parametrize("token", ["not-a-token", "eyJ1IjoxLCJzIjoiIn0.Zz.Zz"])
def test_a_forged_token_is_401(shared_web: Web, token: str) -> None:
    response = shared_web.client(None).get("/api/patients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_of(response) == {
        "field": "authorization",
        "problem": "the token is not valid or has expired",
    }


def test_plan_is_the_cli_json_exactly(shared_web: Web, cli: Cli, tmp_path: Path) -> None:
    case = example_case("2026-12-07")
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    from_cli = cli("plan", path, "--format", "json")
    assert from_cli.exit_code == 0, from_cli.all_output
    response = shared_web.client(None).post("/api/plan", json=case, headers=shared_web.headers("nurse-north"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == from_cli.stdout
    assert response.json()["schema"] == "b12plan.plan/1"


def test_plan_takes_the_cli_options(shared_web: Web) -> None:
    headers = shared_web.headers("admin")
    client = shared_web.client(None)
    case = example_case("2026-12-07")
    short = client.post("/api/plan?horizon=3&ruleset=us-common-practice", json=case, headers=headers).json()
    assert short["ruleset"]["id"] == "us-common-practice"
    assert short["horizon_months"] == 3


@pytest.mark.parametrize(
    ("body", "query", "field", "problem"),
    [
        (
            {"patient": {"age": 60}, "labs": [{"test": "b12_total", "value": 150, "unit": "mg"}]},
            "",
            "labs[0] (b12_total).unit",
            "'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L",
        ),
        (
            {"patient": {"age": 60}, "symptoms": ["sneezing"]},
            "",
            "symptoms[0]",
            "'sneezing' is not a known code",
        ),
        ({"labs": []}, "", "patient", "is required"),
        ([1, 2], "", "case", "must be a JSON object with at least `patient`"),
        ({"patient": {"age": 60}}, "?horizon=0", "horizon", "greater than or equal to 1"),
        ({"patient": {"age": 60}}, "?ruleset=nice-ng999", "ruleset", "'nice-ng999' is not a rule set"),
    ],
)
def test_refused_input_is_422_naming_the_field(
    shared_web: Web, body: Any, query: str, field: str, problem: str
) -> None:
    response = shared_web.client(None).post(
        f"/api/plan{query}", json=body, headers=shared_web.headers("admin")
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field
    assert problem in error["problem"]


def test_text_that_is_not_json_is_422(shared_web: Web) -> None:
    headers = {**shared_web.headers("admin"), "content-type": "application/json"}
    response = shared_web.client(None).post("/api/plan", content=b"{not json", headers=headers)
    assert response.status_code == 422
    assert error_of(response) == {"field": "body", "problem": "is not valid JSON"}


@pytest.mark.parametrize(
    ("content_type", "body", "problem"),
    [
        ("application/json", b"\xff\xfe not json", "is not valid JSON"),  # not even UTF-8
        ("application/json", b'{"test": "hb",', "is not valid JSON"),
        ("text/plain", b'{"test": "hb", "value": 120, "unit": "g/L"}', "is not JSON: send a JSON object"),
        ("application/x-www-form-urlencoded", b"test=hb&value=120", "is not JSON: send a JSON object"),
        (None, b"test=hb", "is not JSON: send a JSON object"),
        ("application/json", b"[1, 2]", "must be a JSON object"),
        ("application/json", b"", "is required"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_422_naming_the_body(
    shared_web: Web, content_type: str | None, body: bytes, problem: str
) -> None:
    headers = shared_web.headers("admin")
    if content_type:
        headers["content-type"] = content_type
    response = shared_web.client(None).post("/api/patients/P-OWN/labs", content=body, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "body"
    assert error["problem"].startswith(problem)


def test_a_patient_may_not_use_the_planner(shared_web: Web) -> None:
    response = shared_web.client(None).post(
        "/api/plan", json=example_case(), headers=shared_web.headers("ann")
    )
    assert response.status_code == 403
    assert error_of(response)["problem"] == "planning is for clinicians and admins"


def test_unknown_patient_is_404_for_an_admin_and_403_for_others(shared_web: Web) -> None:
    client = shared_web.client(None)
    response = client.get("/api/patients/P-NOBODY", headers=shared_web.headers("admin"))
    assert response.status_code == 404
    assert error_of(response)["field"] == "patient"
    for who in ("nurse-north", "ann"):  # never tells a non-admin which ids exist
        other = client.get("/api/patients/P-NOBODY", headers=shared_web.headers(who))
        theirs = client.get("/api/patients/P-OTHER", headers=shared_web.headers(who))
        assert other.status_code == theirs.status_code == 403
        assert other.json() == theirs.json()


def test_no_such_route_and_wrong_method_in_the_error_shape(shared_web: Web) -> None:
    client = shared_web.client(None)
    assert client.get("/api/nothing-here").status_code == 404
    assert error_of(client.get("/api/nothing-here"))["problem"] == "there is nothing at this address"
    response = client.delete("/api/patients", headers=shared_web.headers("admin"))
    assert response.status_code == 405
    error_of(response)


def test_a_record_through_the_api(web: Web) -> None:
    client, nurse = web.client(None), web.headers("nurse-north")
    added = client.post("/api/patients", json={"id": "P-API", "name": "Cara"}, headers=nurse)
    assert added.status_code == 201
    assert added.json()["clinic"] == "North"  # a clinician adds to their own clinic
    wrong_clinic = client.post("/api/patients", json={"id": "P-X", "clinic": "South"}, headers=nurse)
    assert wrong_clinic.status_code == 403
    case = example_case("2026-01-19")
    first = client.post("/api/patients/P-API/plans", json={"case": case}, headers=nurse)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    assert first.json()["plan"]["schema"] == "b12plan.plan/1"
    second = client.post("/api/patients/P-API/plans", json={"case": case}, headers=nurse)
    assert second.status_code == 422
    assert error_of(second) == {
        "field": "reason",
        "problem": "a new plan version needs the reason for the change",
    }
    given = client.post(
        "/api/patients/P-API/administrations",
        json={"at": "2026-01-19T09:30:00", "site": "deltoid-left", "lot": "LOT7"},
        headers=nurse,
    )
    assert given.status_code == 201, given.text
    dose = given.json()
    assert (dose["dose_mcg"], dose["volume_ml"], dose["route"], dose["given_by"]) == (
        1000.0,
        1.0,
        "IM",
        "nurse-north",
    )
    assert dose["next_site"] == "deltoid-right"
    bad_site = client.post("/api/patients/P-API/administrations", json={"site": "elbow"}, headers=nurse)
    assert bad_site.status_code == 422
    assert error_of(bad_site)["field"] == "site"
    lab = client.post(
        "/api/patients/P-API/labs",
        json={"test": "718-7", "value": 11.2, "unit": "g/dL", "date": "2026-01-19"},
        headers=nurse,
    )
    assert lab.status_code == 201
    assert (lab.json()["test"], lab.json()["unit"]) == ("hb", "g/dL")
    bad_unit = client.post(
        "/api/patients/P-API/labs", json={"test": "hb", "value": 11.2, "unit": "mg"}, headers=nurse
    )
    assert bad_unit.status_code == 422
    assert error_of(bad_unit)["field"] == "unit"
    symptom = client.post(
        "/api/patients/P-API/symptoms", json={"symptom": "fatigue", "score": 6}, headers=nurse
    )
    assert symptom.status_code == 201
    assert symptom.json()["date"] == "2026-01-20"
    bad_score = client.post(
        "/api/patients/P-API/symptoms", json={"symptom": "fatigue", "score": 11}, headers=nurse
    )
    assert bad_score.status_code == 422
    assert error_of(bad_score)["field"] == "score"
    detail = client.get("/api/patients/P-API", headers=nurse).json()
    assert [v["version"] for v in detail["plan_versions"]] == [1]
    assert detail["next_due"]["due"] == "2026-01-21"  # three times a week: two days after the first dose
    assert [a["site"] for a in client.get("/api/patients/P-API/administrations", headers=nurse).json()] == [
        "deltoid-left"
    ]
    assert [s["score"] for s in client.get("/api/patients/P-API/symptoms", headers=nurse).json()] == [6]
    assert client.get("/api/patients/P-API/review", headers=nurse).json()["next_steps"]


def test_a_patient_records_their_own_dose_and_diary(web: Web) -> None:
    client, ann = web.client(None), web.headers("ann")
    given = client.post(
        "/api/patients/P-OWN/administrations",
        json={"at": "2026-01-20T08:00:00", "site": "thigh-left"},
        headers=ann,
    )
    assert given.status_code == 201, given.text
    assert given.json()["given_by"] == "self"
    assert (
        client.post(
            "/api/patients/P-OWN/symptoms", json={"symptom": "fatigue", "score": 2}, headers=ann
        ).status_code
        == 201
    )
    lab = client.post(
        "/api/patients/P-OWN/labs", json={"test": "hb", "value": 120, "unit": "g/L"}, headers=ann
    )
    assert lab.status_code == 403  # labs are a clinician's entry


def test_the_due_list_is_the_clinicians_clinic(shared_web: Web) -> None:
    client = shared_web.client(None)
    north = client.get("/api/due", headers=shared_web.headers("nurse-north")).json()
    everyone = client.get("/api/due", headers=shared_web.headers("admin")).json()
    assert [d["patient"] for d in north] == ["P-OWN"]
    assert {d["patient"] for d in everyone} == {"P-OWN", "P-OTHER"}
    own = north[0]
    assert (own["status"], own["due"], own["days_late"], own["dose_mcg"], own["volume_ml"]) == (
        "overdue",
        "2026-01-09",
        11,
        1000.0,
        1.0,
    )
    assert client.get("/api/due", headers=shared_web.headers("ann")).status_code == 403


def test_cds_hooks_need_a_clinicians_token_and_see_only_their_patients(shared_web: Web) -> None:
    client = shared_web.client(None)
    fixture = Path(__file__).resolve().parents[1] / "adapters" / "fixtures" / "cds" / "patient-view.json"
    hook = json.loads(fixture.read_text(encoding="utf-8"))
    hook["context"]["patientId"] = "P-OWN"
    assert client.get("/cds-services").status_code == 401
    assert client.get("/cds-services", headers=shared_web.headers("ann")).status_code == 403
    services = client.get("/cds-services", headers=shared_web.headers("nurse-north")).json()["services"]
    assert "b12plan-patient-view" in [s["id"] for s in services]

    def summaries(who: str) -> list[str]:
        response = client.post(
            "/cds-services/b12plan-patient-view", json=hook, headers=shared_web.headers(who)
        )
        assert response.status_code == 200, response.text
        return [card["summary"] for card in response.json()["cards"]]

    assert any("overdue" in s for s in summaries("nurse-north"))
    assert not any("overdue" in s for s in summaries("nurse-south"))  # not their clinic: no stored dose


def test_openapi_describes_the_api_with_the_contract(shared_web: Web) -> None:
    doc = shared_web.client(None).get("/api/openapi.json").json()
    paths = doc["paths"]
    assert "/api/token" in paths
    assert "/api/plan" in paths
    assert "/api/patients/{ref}/administrations" in paths
    assert not any(p.startswith(("/patients", "/dashboard", "/login")) for p in paths)  # pages stay out
    plan = paths["/api/plan"]["post"]
    assert plan["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Case"
    }
    assert plan["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    schemas = doc["components"]["schemas"]
    assert {"Case", "Plan", "ErrorBody"} <= set(schemas)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    missing = {r for r in refs(doc) if r.removeprefix("#/components/schemas/") not in schemas}
    assert missing == set()
    assert contract_schemas(json.loads(json.dumps(doc))) == doc  # publishing twice changes nothing


def test_clinical_times_are_local_wall_clock_with_the_servers_offset(web: Web) -> None:
    client, nurse = web.client(None), web.headers("nurse-north")
    at = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
    given = client.post(
        "/api/patients/P-OWN/administrations",
        json={"at": at.isoformat(), "site": "thigh-left"},
        headers=nurse,
    )
    assert given.status_code == 201, given.text
    written = dt.datetime.fromisoformat(given.json()["at"])
    assert written == at  # the same moment ...
    assert written.replace(tzinfo=None) == at.astimezone().replace(tzinfo=None)  # ... as the wall clock read
    listed = client.get("/api/patients/P-OWN/administrations", headers=nurse).json()
    assert listed[-1]["at"] == given.json()["at"]
    seeded = dt.datetime.fromisoformat(listed[0]["at"])
    assert seeded.replace(tzinfo=None) == dt.datetime(2026, 1, 5, 10)  # as the nurse wrote it
    assert seeded.utcoffset() == dt.datetime(2026, 1, 5, 10).astimezone().utcoffset()


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's local time zone is New York's while the test runs."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_local_time_is_written_with_the_offset_of_its_day(shared_web: Web, new_york: None) -> None:
    body = shared_web.client(None).get(
        "/api/patients/P-OWN/administrations", headers=shared_web.headers("admin")
    )
    assert body.json()[0]["at"] == "2026-01-05T10:00:00-05:00"  # stored as 10:00, the nurse's wall clock


def _date_times(node: Any, schema: Any, doc: dict[str, Any]) -> list[str]:
    """The values of `node` that its OpenAPI `schema` says are `format: date-time`."""
    if isinstance(schema, dict) and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if not isinstance(schema, dict):
        return []
    if schema.get("format") == "date-time":
        return [node] if isinstance(node, str) else []
    found = [t for option in schema.get("anyOf", []) for t in _date_times(node, option, doc)]
    if isinstance(node, dict):
        found += [
            t for k, v in node.items() for t in _date_times(v, schema.get("properties", {}).get(k), doc)
        ]
    if isinstance(node, list):
        found += [t for item in node for t in _date_times(item, schema.get("items"), doc)]
    return found


@pytest.mark.parametrize(
    "path",
    [
        "/api/patients",
        "/api/patients/P-OWN",
        "/api/patients/P-OWN/plans",
        "/api/patients/P-OWN/plans/1",
        "/api/patients/P-OWN/administrations",
    ],
)
def test_every_date_time_carries_a_utc_offset(shared_web: Web, path: str) -> None:
    """RFC 3339 `date-time`, as the OpenAPI document says: `Z` for the record's UTC times, the server's
    offset for its local wall-clock times."""
    client = shared_web.client(None)
    doc = client.get("/api/openapi.json").json()
    template = path.replace("P-OWN", "{ref}").replace("/1", "/{version}")
    schema = doc["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = client.get(path, headers=shared_web.headers("admin")).json()
    times = _date_times(body, schema, doc)
    assert times, body
    for text in times:
        assert dt.datetime.fromisoformat(text).tzinfo is not None, (path, text)
    if path == "/api/patients":
        assert all(p["created_at"].endswith("Z") for p in body)  # added: a UTC time in the record


def test_vials_through_the_api(web: Web) -> None:
    client, nurse = web.client(None), web.headers("nurse-north")
    opened = client.post(
        "/api/patients/P-OWN/vials",
        json={
            "product_id": "us-cyanocobalamin-1000mcg-10ml-mdv",
            "opened": "2026-01-19",
            "lot": "MDV9",
            "expiry": "2027-01-31",
        },
        headers=nurse,
    )
    assert opened.status_code == 201, opened.text
    vial = opened.json()
    assert (vial["volume_ml"], vial["volume_left_ml"], vial["discard_on"], vial["lot"]) == (
        10.0,
        10.0,
        "2026-02-16",  # 28 days after the first puncture
        "MDV9",
    )
    assert client.get("/api/patients/P-OWN/vials", headers=nurse).json() == [vial]
    given = client.post(
        "/api/patients/P-OWN/administrations",
        json={"at": "2026-01-20T09:00:00", "site": "thigh-left", "vial_id": vial["id"]},
        headers=nurse,
    )
    assert given.status_code == 201, given.text
    assert given.json()["vial_left_ml"] == 9.0
    drawn = client.get("/api/patients/P-OWN/administrations", headers=nurse).json()[-1]
    assert (drawn["vial_id"], drawn["product_id"], drawn["lot"]) == (vial["id"], vial["product_id"], "MDV9")
    assert (
        client.get("/api/patients/P-OWN/vials", headers=web.headers("ann")).json()[0]["volume_left_ml"] == 9
    )


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({}, "product_id", "is not a multi-dose vial from the catalogue"),  # the plan's product: ampoules
        ({"product_id": "uk-hydroxocobalamin-1mg-1ml-amp"}, "product_id", "is not a multi-dose vial"),
        ({"product_id": "no-such-product"}, "product_id", "no-such-product"),
        (
            {"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "opened": "2026-01-21"},
            "opened",
            "is in the future",
        ),
        (
            {"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "expiry": "2026-01-01"},
            "expiry",
            "is before the vial was opened",
        ),
        ({"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "opened": "soon"}, "opened", ""),
    ],
)
def test_a_refused_vial_names_the_field(shared_web: Web, body: Any, field: str, problem: str) -> None:
    response = shared_web.client(None).post(
        "/api/patients/P-OWN/vials", json=body, headers=shared_web.headers("nurse-north")
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field
    assert problem in error["problem"]


def test_only_a_clinician_opens_a_vial(shared_web: Web) -> None:
    client = shared_web.client(None)
    body = {"product_id": "us-cyanocobalamin-1000mcg-10ml-mdv"}
    for who in ("ann", "nurse-south"):
        response = client.post("/api/patients/P-OWN/vials", json=body, headers=shared_web.headers(who))
        assert response.status_code == 403
        assert error_of(response)["field"] == "patient"
