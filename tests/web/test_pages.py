"""The pages: signing in and out, forms that work without JavaScript (plain POST, then a 303 redirect), the
wizard and its live preview fragment, the printable plan and its PDF, charts, the calendar feed, a client
that hangs up."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from webkit import CSRF, PASSWORD, Web, csrf_of, error_of, example_case, unlabelled_controls

from b12plan.services import accounts, as_user
from b12plan.store import Store
from b12plan.web import wizard


def _store(web: Web) -> Store:
    return web.app.state.b12plan.store("test")


# -- signing in and out -------------------------------------------------------------------------------------


def test_sign_in_and_out(web: Web) -> None:
    client = web.client(None)
    client.cookies.clear()
    page = client.get("/login")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-b12plan=")
    assert all(flag in cookie for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"))
    token = csrf_of(page.text)
    wrong = client.post(
        "/login", data={"username": "nurse-north", "password": "not it at all", "csrf_token": token}
    )
    assert wrong.status_code == 401
    assert "The username or password is wrong." in wrong.text
    right = client.post("/login", data={"username": "nurse-north", "password": PASSWORD, "csrf_token": token})
    assert (right.status_code, right.headers["location"]) == (303, "/dashboard")
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    new_token = csrf_of(dashboard.text)
    assert new_token != token  # signing in makes a new CSRF token: no session fixation
    out = client.post("/logout", data={"csrf_token": new_token})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert client.get("/dashboard").headers["location"] == "/login?next=/dashboard"


def test_patients_go_to_their_own_view_and_next_is_local_only(web: Web) -> None:
    client = web.client(None)
    token = csrf_of(client.get("/login").text)
    form = {"username": "ann", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/steal"}
    response = client.post("/login", data=form)
    assert response.headers["location"] == "/me"


def test_the_first_run_says_how_to_make_an_account(tmp_path: pytest.TempPathFactory) -> None:
    from fastapi.testclient import TestClient

    from b12plan.web import Settings, create_app

    app = create_app(Settings(secret_key="s" * 40, database_url=str(tmp_path / "empty.sqlite3")))  # type: ignore[operator]
    page = TestClient(app, base_url="https://testserver").get("/login")
    assert "b12plan user add NAME --role admin" in page.text


def test_csrf_token_is_required_on_every_form(web: Web) -> None:
    client = web.client("nurse-north")
    before = len(as_user.patient_file(_store(web), web.actor("admin"), "P-OWN").symptoms)
    for data in ({"score-fatigue": "5"}, {"score-fatigue": "5", "csrf_token": "guessed"}):
        response = client.post("/patients/P-OWN/diary", data=data)
        assert response.status_code == 403
        assert "the form has expired" in response.text
    assert len(as_user.patient_file(_store(web), web.actor("admin"), "P-OWN").symptoms) == before
    stranger = web.client(None)
    stranger.cookies.clear()  # no session at all: a cross-site form post
    assert stranger.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 403


def test_sign_in_is_rate_limited(web: Web) -> None:
    client = web.client(None)
    for _ in range(web.settings.login_attempts):
        response = client.post(
            "/login", data={"username": "admin", "password": "bad guess 123", "csrf_token": CSRF}
        )
        assert response.status_code == 401
    blocked = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": CSRF})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    api = client.post("/api/token", data={"username": "admin", "password": PASSWORD})
    assert api.status_code == 429
    assert error_of(api)["field"] == "username"
    other = client.post("/api/token", data={"username": "nurse-north", "password": PASSWORD})
    assert other.status_code == 200  # one username's failures do not lock out the others


def test_rate_limit_window_and_per_address_limit() -> None:
    from b12plan.web.security import LoginLimiter

    now = [1000.0]
    limiter = LoginLimiter(attempts=2, window_s=60, clock=lambda: now[0])
    limiter.failed("10.0.0.1", "Ann")
    assert limiter.retry_after("10.0.0.1", "ann") is None
    limiter.failed("10.0.0.1", "ann")
    assert limiter.retry_after("10.0.0.1", "ann") == 61
    assert limiter.retry_after("10.0.0.2", "ann") is None  # per address
    now[0] += 61
    assert limiter.retry_after("10.0.0.1", "ann") is None  # the window has passed
    for i in range(20):
        limiter.failed("10.0.0.3", f"user{i}")
    assert limiter.retry_after("10.0.0.3", "someone-new") is not None  # ten times the limit per address
    limiter.succeeded("10.0.0.1", "ann")


# -- security headers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/patients/P-OWN", "/api/me", "/static/app.css", "/nowhere"])
def test_security_headers(shared_web: Web, path: str) -> None:
    response = shared_web.client("admin").get(path, headers=shared_web.headers("admin"))
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert (headers.get("cache-control") == "no-store") is (not path.startswith("/static/"))


PAGES = [
    "/login",
    "/dashboard",
    "/patients",
    "/patients/P-OWN",
    "/patients/P-OWN/plan/new",
    "/patients/P-OWN/doses/new",
    "/patients/P-OWN/interval-report",
    "/patients/P-OWN/calendar",
    "/account",
    "/accounts",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_accessible_and_have_no_inline_script_or_style(shared_web: Web, path: str) -> None:
    html = shared_web.client(None if path == "/login" else "admin").get(path).text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert " style=" not in html, "an inline style attribute"
    assert "<style" not in html, "an inline style element"
    assert 'src="/static/htmx.min.js"' in html
    assert "b12plan supports a prescriber" in html  # the disclaimer on every page
    assert '<html lang="en-GB">' in html
    assert 'href="#main"' in html
    assert unlabelled_controls(html) == []


def test_the_hooks_tests_rely_on(shared_web: Web) -> None:
    """Stable ids and data attributes (docs/web.md, "For tests") for the browser tests."""
    page = shared_web.client("nurse-north").get("/patients/P-OWN").text
    assert re.search(r'id="next-dose"[^>]* data-due="2026-01-09" data-dose-number="3"', page)
    assert re.search(r'id="user-meta" data-username="nurse-north" data-role="clinician"', page)
    assert re.search(r'id="patient-meta" data-patient="P-OWN"', page)
    listed = shared_web.client("admin").get("/patients").text
    assert re.findall(r'<tr data-patient="([^"]+)">', listed) == ["P-OTHER", "P-OWN", "P-SPARE"]
    no_plan = shared_web.client("admin").get("/patients/P-SPARE").text
    assert re.search(r'id="next-dose" class="card">', no_plan)  # nothing due: no data-due


def test_the_disclaimer_is_a_landmark_of_its_own(shared_web: Web) -> None:
    page = shared_web.client("ann").get("/me").text
    assert re.search(
        r'<section class="disclaimer" id="disclaimer" aria-label="[^"]+">\s*<p role="note">', page
    )


def test_favicon_ico_is_the_svg_icon(shared_web: Web) -> None:
    client = shared_web.client(None)
    response = client.get("/favicon.ico")
    assert (response.status_code, response.headers["location"]) == (301, "/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")


# -- a client that hangs up ----------------------------------------------------------------------------------


def _hang_up(web: Web, path: str, content_type: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """POST to `path` in-process, the client gone before its body is read (ASGI `http.disconnect`)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(b"content-type", content_type.encode()), (b"content-length", b"100")]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this thread (Playwright)
        thread.submit(anyio.run, web.app, scope, receive, send).result()
    return sent


@pytest.mark.parametrize(
    ("path", "content_type", "api"),
    [
        ("/login", "application/x-www-form-urlencoded", False),  # a page's form (CsrfForm)
        ("/patients/P-OWN/plan/preview", "application/x-www-form-urlencoded", False),  # htmx cancelled it
        ("/api/patients/P-OWN/labs", "application/json", True),  # a JSON body FastAPI reads
        ("/api/token", "application/x-www-form-urlencoded", False),  # a form FastAPI reads
    ],
)
def test_a_client_that_hangs_up_is_not_an_internal_error(
    shared_web: Web, caplog: pytest.LogCaptureFixture, path: str, content_type: str, api: bool
) -> None:
    cookie = shared_web.client("nurse-north").cookies
    headers = {"cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
    if api:
        headers.update(shared_web.headers("nurse-north"))
    with caplog.at_level(logging.DEBUG):
        sent = _hang_up(shared_web, path, content_type, headers)  # raises if the app lets it through
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "client disconnected during POST" in caplog.text


# -- forms without JavaScript -------------------------------------------------------------------------------


def test_diary_form_posts_and_redirects(web: Web) -> None:
    client = web.client("ann")
    response = client.post(
        "/patients/P-OWN/diary", data={"csrf_token": CSRF, "date": "2026-01-19", "score-fatigue": "3"}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/me?saved=diary")
    page = client.get("/me?saved=diary")
    assert "Your diary scores were saved." in page.text
    assert "fatigue 3/10" in page.text


def test_dose_form_records_a_dose_with_its_site(web: Web) -> None:
    client = web.client("nurse-north")
    form = client.get("/patients/P-OWN/doses/new")
    assert form.status_code == 200
    assert 'id="site-thigh-left"' in form.text
    assert 'class="pin pin-thigh-left"' in form.text
    assert re.search(r'id="site-thigh-left"[^>]*checked', form.text)  # least recently used: suggested
    data = {
        "csrf_token": CSRF,
        "at": "2026-01-20T11:00",
        "dose": "1 mg",
        "route": "IM",
        "site": "thigh-left",
        "lot": "Z9",
    }
    response = client.post("/patients/P-OWN/doses", data=data)
    assert (response.status_code, response.headers["location"]) == (303, "/patients/P-OWN?saved=dose")
    given = as_user.patient_file(_store(web), web.actor("admin"), "P-OWN").administrations[-1]
    assert (given.dose_mcg, given.volume_ml, given.site, given.lot, given.given_by) == (
        1000.0,
        1.0,
        "thigh-left",
        "Z9",
        "nurse-north",
    )


def test_a_refused_entry_comes_back_with_the_problem_beside_the_field(web: Web) -> None:
    client = web.client("nurse-north")
    lab = client.post(
        "/patients/P-OWN/labs", data={"csrf_token": CSRF, "test": "hb", "value": "120", "unit": "mg"}
    )
    assert lab.status_code == 422
    assert re.search(r'<p class="field-error" id="unit-error">.*is not a unit for hb', lab.text)
    assert 'value="mg"' in lab.text  # the value as typed
    dose = client.post(
        "/patients/P-OWN/doses",
        data={"csrf_token": CSRF, "at": "2026-01-20T11:00", "dose": "1 mL", "site": "elbow"},
    )
    assert dose.status_code == 422
    assert "is a volume, not a dose" in dose.text
    assert 'id="dose-error"' in dose.text


def test_open_a_vial_then_draw_a_dose_from_it(web: Web) -> None:
    client = web.client("nurse-north")
    page = client.get("/patients/P-OWN").text
    assert 'id="vial-form"' in page
    assert 'id="no-open-vials"' in page
    assert '<option value="us-cyanocobalamin-1000mcg-10ml-mdv">' in page
    assert 'value="uk-hydroxocobalamin-1mg-1ml-amp"' not in page  # an ampoule: not a vial to keep open
    data = {
        "csrf_token": CSRF,
        "product_id": "us-cyanocobalamin-1000mcg-10ml-mdv",
        "lot": "MDV1",
        "expiry": "2026-02-01",
        "opened": "2026-01-19",
    }
    opened = client.post("/patients/P-OWN/vials", data=data)
    assert (opened.status_code, opened.headers["location"]) == (303, "/patients/P-OWN?saved=vial")
    page = client.get("/patients/P-OWN?saved=vial").text
    assert "The vial was recorded as opened" in page
    vial = as_user.patient_file(_store(web), web.actor("admin"), "P-OWN").vials[-1]
    assert (vial.lot, vial.volume_left_ml, vial.discard_on.isoformat()) == ("MDV1", 10.0, "2026-02-02")
    assert re.search(rf'<li data-vial="{vial.id}">Vial {vial.id}: us-cyanocobalamin-1000mcg-10ml-mdv', page)
    form = client.get("/patients/P-OWN/doses/new").text
    assert re.search(rf'<option value="{vial.id}">vial {vial.id}: [^<]*10 mL left', form)
    given = client.post(
        "/patients/P-OWN/doses",
        data={"csrf_token": CSRF, "at": "2026-01-20T11:00", "site": "thigh-left", "vial_id": str(vial.id)},
    )
    assert given.status_code == 303, given.text
    after = as_user.patient_file(_store(web), web.actor("admin"), "P-OWN")
    assert after.vials[-1].volume_left_ml == 9.0
    assert (after.administrations[-1].vial_id, after.administrations[-1].lot) == (vial.id, "MDV1")


def test_a_refused_vial_comes_back_with_the_problem_beside_its_field(web: Web) -> None:
    client = web.client("nurse-north")
    data = {"csrf_token": CSRF, "product_id": "us-cyanocobalamin-1000mcg-10ml-mdv", "expiry": "2026-01-01"}
    refused = client.post("/patients/P-OWN/vials", data={**data, "opened": "2026-01-19", "lot": "L2"})
    assert refused.status_code == 422
    assert re.search(
        r'<p class="field-error" id="expiry-error">.*is before the vial was opened', refused.text
    )
    assert re.search(
        r'id="vial-expiry" name="expiry" value="2026-01-01"[^>]*aria-invalid="true"', refused.text
    )
    assert 'id="vial-lot" name="lot" maxlength="64" value="L2"' in refused.text  # as typed
    assert unlabelled_controls(refused.text) == []
    wrong_day = client.post("/patients/P-OWN/vials", data={**data, "expiry": "", "opened": "19/01/2026"})
    assert wrong_day.status_code == 422
    assert 'id="opened-error"' in wrong_day.text
    no_vial = client.post("/patients/P-OWN/vials", data={"csrf_token": CSRF, "opened": "2026-01-19"})
    assert no_vial.status_code == 422
    assert re.search(r'id="product_id-error">.*is not a multi-dose vial', no_vial.text)
    assert as_user.patient_file(_store(web), web.actor("admin"), "P-OWN").vials == ()


def test_a_patient_sees_no_vial_form_and_may_not_post_one(shared_web: Web) -> None:
    client = shared_web.client("ann")
    assert 'id="vial-form"' not in client.get("/me").text
    data = {"csrf_token": CSRF, "product_id": "us-cyanocobalamin-1000mcg-10ml-mdv"}
    assert client.post("/patients/P-OWN/vials", data=data).status_code == 403


def test_add_a_patient_then_plan_them(web: Web) -> None:
    client = web.client("nurse-north")
    added = client.post("/patients", data={"csrf_token": CSRF, "id": "P-FORM", "name": "Dee"})
    assert (added.status_code, added.headers["location"]) == (303, "/patients/P-FORM?saved=patient")
    again = client.post("/patients", data={"csrf_token": CSRF, "id": "P-FORM"})
    assert again.status_code == 422
    assert "already exists" in again.text
    page = client.get("/patients/P-FORM")
    assert "No plan saved yet." in page.text
    assert 'id="new-plan-link"' in page.text
    assert 'id="vial-form"' not in page.text  # a vial is checked against the plan's product: none yet


# -- the plan wizard ---------------------------------------------------------------------------------------


def _wizard_form(**changes: str) -> dict[str, object]:

    values: dict[str, object] = {**wizard.form_from_case(example_case("2026-01-21")), "csrf_token": CSRF}
    values.update(changes)
    return values


def test_wizard_preview_fragment_for_htmx_and_full_page_without(shared_web: Web) -> None:
    client = shared_web.client("nurse-north")
    page = client.get("/patients/P-OWN/plan/new")
    assert 'hx-post="/patients/P-OWN/plan/preview"' in page.text
    assert 'id="lab-b12_total-unit"' in page.text
    fragment = client.post(
        "/patients/P-OWN/plan/preview", data=_wizard_form(), headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="preview-plan"' in fragment.text
    assert "1000 micrograms" in fragment.text
    assert "1 mL" in fragment.text
    full = client.post("/patients/P-OWN/plan/preview", data=_wizard_form())
    assert "<html" in full.text
    assert 'id="preview-plan"' in full.text


def test_wizard_places_each_problem_beside_its_field(shared_web: Web) -> None:
    client = shared_web.client("nurse-north")
    bad_age = _wizard_form(age="-3")
    fragment = client.post("/patients/P-OWN/plan/preview", data=bad_age, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "The case cannot be planned yet" in fragment.text
    full = client.post("/patients/P-OWN/plan/preview", data=bad_age)
    assert full.status_code == 422
    assert re.search(r'id="age-error">.*greater than or equal to 0', full.text)
    assert re.search(r'id="age"[^>]*aria-invalid="true"', full.text)
    no_unit = client.post("/patients/P-OWN/plan/preview", data=_wizard_form(**{"lab-b12_total-unit": ""}))
    assert no_unit.status_code == 422
    assert re.search(r'id="lab-b12_total-unit-error">.*is required for b12_total', no_unit.text)


def test_wizard_saves_a_new_version_only_with_a_reason(web: Web) -> None:
    client = web.client("nurse-north")
    refused = client.post("/patients/P-OWN/plan", data=_wizard_form())
    assert refused.status_code == 422
    assert 'id="reason-error"' in refused.text
    saved = client.post("/patients/P-OWN/plan", data=_wizard_form(reason="symptoms return before 12 weeks"))
    assert (saved.status_code, saved.headers["location"]) == (303, "/patients/P-OWN?saved=plan-2")
    versions = as_user.plan_versions(_store(web), web.actor("admin"), "P-OWN")
    assert [(v.version, v.reason, v.created_by) for v in versions][-1] == (
        2,
        "symptoms return before 12 weeks",
        "nurse-north",
    )


# -- printing, PDF, charts, calendar ------------------------------------------------------------------------


def test_print_view_and_pdf_of_the_written_plan(shared_web: Web) -> None:
    client = shared_web.client("ann")
    printed = client.get("/patients/P-OWN/plan/print")
    assert printed.status_code == 200
    assert '<header>\n<p class="record-line">Patient <strong>P-OWN</strong> · plan version 1' in printed.text
    assert "Signature" in printed.text
    policy = printed.headers["content-security-policy"]
    assert "style-src 'sha256-" in policy
    assert "script" not in policy.replace("default-src 'none'", "")
    pdf = client.get("/patients/P-OWN/plan.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_interval_report_and_its_pdf(shared_web: Web) -> None:
    client = shared_web.client("ann")
    page = client.get("/patients/P-OWN/interval-report")
    assert page.status_code == 200
    assert "every 12 weeks (84 days)" in page.text
    assert "every 8 to 13 weeks (56 to 91 days)" in page.text
    pdf = client.get("/patients/P-OWN/interval-report.pdf")
    assert pdf.content.startswith(b"%PDF")


def test_charts_are_svg_from_the_server_with_their_values_in_words(shared_web: Web) -> None:
    client = shared_web.client("nurse-north")
    page = client.get("/patients/P-OWN").text
    assert 'src="/patients/P-OWN/charts/hb.svg"' in page
    assert 'src="/patients/P-OWN/charts/symptoms.svg"' in page
    assert "106 g/L" in page  # 10.6 g/dL shown in the chart's unit
    svg = client.get("/patients/P-OWN/charts/hb.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "<svg" in svg.text
    assert "<script" not in svg.text
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    assert client.get("/patients/P-SPARE/charts/hb.svg").status_code == 404  # no data: no chart
    assert client.get("/patients/P-OWN/charts/nope.svg").status_code == 422


def test_calendar_feed_needs_its_signature(shared_web: Web) -> None:
    page = shared_web.client("ann").get("/patients/P-OWN/calendar")
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', page.text)
    assert url
    assert url.group(1).startswith("https://testserver/feeds/P-OWN.ics?sig=")
    anyone = shared_web.client(None)
    feed = anyone.get(url.group(1).removeprefix("https://testserver"))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert feed.text.startswith("BEGIN:VCALENDAR")
    assert "UID:" in feed.text
    for query in ("", "?sig=", "?sig=AAAA", f"?{url.group(1).split('?')[1][:-2]}xx"):
        refused = anyone.get(f"/feeds/P-OWN.ics{query}")
        assert refused.status_code == 403
        assert error_of(refused)["field"] == "sig"
    other = anyone.get("/feeds/P-OTHER.ics?" + url.group(1).split("?")[1])
    assert other.status_code == 403  # one patient's signature opens no other feed
    no_plan = anyone.get(
        f"/feeds/P-SPARE.ics?sig={accounts.feed_signature(shared_web.settings.secret_key, 'P-SPARE')}"
    )
    assert no_plan.status_code == 422
    assert error_of(no_plan)["problem"] == "P-SPARE has no saved plan yet"


def test_dashboard_shows_the_clinics_day(shared_web: Web) -> None:
    north = shared_web.client("nurse-north").get("/dashboard").text
    assert re.search(r'id="overdue".*P-OWN.*11 days', north, re.DOTALL)
    assert "P-OTHER" not in north
    assert 'id="results-awaited"' in north
    assert "P-SPARE: make a plan" in north
    everyone = shared_web.client("admin").get("/dashboard").text
    assert "P-OTHER" in everyone


def test_own_view_shows_what_to_draw_up(shared_web: Web) -> None:
    page = shared_web.client("ann").get("/me")
    assert page.status_code == 200
    assert re.search(r'id="next-dose-volume">1 mL', page.text)
    assert "Overdue by 11 days" in page.text
    assert 'id="diary-form"' in page.text
    assert shared_web.client("nurse-north").get("/me").status_code == 403
