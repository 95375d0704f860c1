"""What people do with the app, in a real browser (Chromium) against the real server: sign in and out; a
clinician adds a patient, builds a plan in the wizard (its preview live through htmx), records an injection
and sees the next due date move; a patient sees their own treatment and cannot open anyone else's.

Every step also checks that the page ran under its Content-Security-Policy with no script or console error
(a blocked script, style or image shows up there). Screenshots of the steps go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from browserkit import NOW, PASSWORD, Site, Watch, next_dose, screenshot, sign_in

Browse = Callable[[str | None], tuple[Any, Watch]]


def test_chromium_runs_the_pages_scripts_under_their_policy(browse: Browse) -> None:
    """A smoke test of Debian's Chromium under Playwright (which expects a newer build of its own): the
    sign-in page loads its stylesheet and htmx from /static with no console error."""
    page, watch = browse(None)
    response = page.goto("/login")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("() => typeof window.htmx") == "object"
    assert page.evaluate("() => [...document.styleSheets].some(s => s.href.endsWith('/static/app.css'))")
    assert page.locator("#username").evaluate("el => el === document.activeElement")  # autofocus
    screenshot(page, "journey-login")
    assert watch.unexpected() == [], "\n".join(watch.problems)


def test_signing_in_and_out(browse: Browse) -> None:
    page, watch = browse(None)
    page.goto("/dashboard")
    assert page.url.endswith("/login?next=/dashboard")
    page.fill("#username", "nurse-a")
    page.fill("#password", "not the password")
    with page.expect_navigation():
        page.click("#sign-in")
    assert page.locator("#error-summary").inner_text() == "The username or password is wrong."
    assert page.input_value("#username") in ("", "nurse-a")
    screenshot(page, "journey-login-refused")
    page.fill("#username", "nurse-a")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#sign-in")
    assert page.url.endswith("/dashboard")  # back where the browser was going
    who = page.locator("#user-meta")
    assert (who.get_attribute("data-username"), who.get_attribute("data-role")) == ("nurse-a", "clinician")
    assert "nurse-a · clinician · Clinic A" in who.inner_text()
    with page.expect_navigation():
        page.click("#sign-out")
    assert page.url.endswith("/login")
    page.goto("/patients/P-ANN")
    assert "/login?next=" in page.url
    assert watch.unexpected(401) == []


def test_a_patient_lands_on_their_own_treatment(browse: Browse) -> None:
    page, watch = browse(None)
    sign_in(page, "ann")
    assert page.url.endswith("/me")
    assert page.locator("h1").inner_text() == "My B12 treatment"
    due = next_dose(page)
    assert due.due > NOW.date()
    assert "1 mL" in page.locator("#next-dose-volume").inner_text()  # how much to draw up
    assert page.locator("#nav-patients").count() == 0
    screenshot(page, "journey-me")
    assert watch.unexpected() == [], "\n".join(watch.problems)


def _fill_wizard(page: Any) -> None:
    """The case a clinician types: the example case's patient, labs with units, symptoms, cause, product."""
    page.fill("#age", "62")
    page.select_option("#sex", "female")
    for test, value, unit in (("b12_total", "120", "ng/L"), ("hb", "98", "g/L"), ("mcv", "112", "fL")):
        page.fill(f"#lab-{test}-value", value)
        page.select_option(f"#lab-{test}-unit", unit)
        page.fill(f"#lab-{test}-date", "2026-01-13")
    page.check("#symptoms-fatigue")
    page.check("#symptoms-glossitis")
    page.check("#causes-autoimmune_gastritis")
    page.select_option("#product", "uk-hydroxocobalamin-1mg-1ml-amp")


def test_a_clinician_adds_a_patient_plans_and_records_an_injection(browse: Browse) -> None:
    page, watch = browse("nurse-a")

    # add a patient (the id is made up by the app)
    page.goto("/patients")
    page.fill("#name", "Dana Journey")
    with page.expect_navigation():
        page.click("#add-patient")
    found = re.search(r"/patients/([A-Za-z0-9._-]+)\?saved=patient$", page.url)
    assert found, page.url
    ref = found.group(1)
    assert "The patient was added." in page.locator("#saved-notice").inner_text()
    meta = page.locator("#patient-meta")
    assert meta.get_attribute("data-patient") == ref
    assert "Clinic A" in meta.inner_text()  # a clinician's patients join their clinic
    assert page.locator("#no-plan").is_visible()

    # the wizard: the preview fills in as the clinician types (htmx), then the plan is saved
    with page.expect_navigation():
        page.click("#new-plan-link")
    assert page.url.endswith(f"/patients/{ref}/plan/new")
    assert page.input_value("#start_date") == NOW.date().isoformat()
    assert page.locator("#preview-empty").is_visible()
    screenshot(page, "journey-wizard-empty")
    _fill_wizard(page)
    page.wait_for_selector("#preview-decision", timeout=15_000)
    assert page.url.endswith(f"/patients/{ref}/plan/new")  # previewed in place, not a page load
    assert "1000 micrograms" in page.locator("#preview-phases").inner_text()
    screenshot(page, "journey-wizard-preview")
    _scroll_the_preview_from_the_keyboard(page)
    with page.expect_navigation():
        page.click("#save-plan")
    assert page.url.endswith(f"/patients/{ref}?saved=plan-1")
    assert "Plan version 1 was saved" in page.locator("#saved-notice").inner_text()
    before = next_dose(page)
    assert (before.due, before.number) == (NOW.date(), 1)  # the plan starts today
    screenshot(page, "journey-patient-planned")

    page.goto("/dashboard")
    assert page.locator(f'#due-today tr[data-patient="{ref}"]').count() == 1
    screenshot(page, "journey-dashboard")

    # record the injection on the body diagram's list, then the next one is due later
    page.goto(f"/patients/{ref}")
    with page.expect_navigation():
        page.click("#record-dose-link")
    assert page.url.endswith(f"/patients/{ref}/doses/new")
    assert page.input_value("#dose") == "1000 mcg"
    assert page.input_value("#at") == NOW.strftime("%Y-%m-%dT%H:%M")
    page.check("#site-deltoid-right")
    page.fill("#lot", "LOT42")
    page.fill("#expiry", "2027-06-30")
    screenshot(page, "journey-record-injection")
    with page.expect_navigation():
        page.click("#save-dose")
    assert page.url.endswith(f"/patients/{ref}?saved=dose")
    assert "The dose was recorded." in page.locator("#saved-notice").inner_text()
    after = next_dose(page)
    assert after.number == before.number + 1
    assert after.due > before.due, (before, after)
    assert "LOT42" in page.locator("#timeline").inner_text()
    screenshot(page, "journey-patient-after-injection")

    page.goto("/dashboard")
    assert page.locator(f'#due-today tr[data-patient="{ref}"]').count() == 0
    assert ref not in page.locator("#due-today").inner_text()
    assert watch.unexpected() == [], "\n".join(watch.problems)


def _scroll_the_preview_from_the_keyboard(page: Any) -> None:
    """The preview panel scrolls on its own: Tab reaches it (after the form's last control) and the arrow
    keys scroll it."""
    panel = page.locator("#preview-panel")
    assert panel.get_attribute("aria-labelledby") == "preview-title"
    page.focus("#save-plan")
    page.keyboard.press("Tab")
    assert panel.evaluate("el => el === document.activeElement")
    if panel.evaluate("el => el.scrollHeight > el.clientHeight"):
        page.keyboard.press("PageDown")
        page.wait_for_function("() => document.querySelector('#preview-panel').scrollTop > 0")


def _plan_a_new_patient(page: Any, name: str) -> str:
    """Add a patient and save the wizard's plan for them (no waiting for the live preview); their id."""
    page.goto("/patients")
    page.fill("#name", name)
    with page.expect_navigation():
        page.click("#add-patient")
    ref = str(page.locator("#patient-meta").get_attribute("data-patient"))
    page.goto(f"/patients/{ref}/plan/new")
    _fill_wizard(page)
    with page.expect_navigation():
        page.click("#save-plan")
    assert page.url.endswith(f"/patients/{ref}?saved=plan-1"), page.url
    return ref


def test_a_clinician_opens_a_vial_and_draws_the_injection_from_it(browse: Browse) -> None:
    page, watch = browse("nurse-a")
    ref = _plan_a_new_patient(page, "Vera Vial")
    assert page.locator("#no-open-vials").is_visible()
    page.select_option("#vial-product", "us-cyanocobalamin-1000mcg-10ml-mdv")
    page.fill("#vial-lot", "MDV7")
    page.fill("#vial-expiry", "2027-06-30")
    assert page.input_value("#vial-opened") == NOW.date().isoformat()
    with page.expect_navigation():
        page.click("#save-vial")
    assert page.url.endswith(f"/patients/{ref}?saved=vial")
    assert "The vial was recorded as opened" in page.locator("#saved-notice").inner_text()
    vial = page.locator("#open-vials li").first
    vial_id = str(vial.get_attribute("data-vial"))
    assert "10 of 10 mL left" in vial.inner_text()
    screenshot(page, "journey-vial-opened")

    with page.expect_navigation():
        page.click("#record-dose-link")
    page.select_option("#vial_id", vial_id)
    page.check("#site-deltoid-left")
    with page.expect_navigation():
        page.click("#save-dose")
    assert page.url.endswith(f"/patients/{ref}?saved=dose")
    assert "9 of 10 mL left" in page.locator(f'#open-vials li[data-vial="{vial_id}"]').inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert f"vial {vial_id}" in timeline
    assert "MDV7" in timeline  # the lot comes from the vial
    assert watch.unexpected() == [], "\n".join(watch.problems)


def test_a_refused_injection_comes_back_with_the_problem_beside_its_field(browse: Browse) -> None:
    page, watch = browse("nurse-a")
    page.goto("/patients/P-BOB/doses/new")
    page.fill("#dose", "2 mL")
    with page.expect_navigation():
        page.click("#save-dose")
    assert page.url.endswith("/patients/P-BOB/doses")
    assert page.locator("#error-summary").is_visible()
    assert page.locator("#dose-error").is_visible()
    assert page.input_value("#dose") == "2 mL"  # as typed
    screenshot(page, "journey-record-injection-refused")
    assert watch.unexpected(422) == []


@pytest.mark.parametrize(
    "path",
    [
        "/patients/P-BOB",
        "/patients/P-BOB/doses/new",
        "/patients/P-BOB/plan/print",
        "/patients/P-BOB/interval-report",
        "/patients/P-BOB/calendar",
        "/patients",
        "/dashboard",
    ],
)
def test_a_patient_cannot_open_another_patients_pages(browse: Browse, path: str) -> None:
    page, watch = browse("ann")
    response = page.goto(path)
    assert response is not None
    assert response.status == 403, (path, response.status)
    assert "Bob Example" not in page.content()
    assert page.locator("h1").is_visible()  # an error page, not a blank one
    if path == "/patients/P-BOB":
        screenshot(page, "journey-forbidden")
    assert watch.unexpected(403) == []


def test_a_clinician_cannot_open_another_clinics_patient(browse: Browse, site: Site) -> None:
    page, _watch = browse("nurse-a")
    response = page.goto("/patients/P-CAROL")
    assert response is not None
    assert response.status == 403
    assert "Carol Example" not in page.content()
    page.goto("/patients")
    rows = page.locator("#patient-list tbody tr")
    listed = {rows.nth(i).get_attribute("data-patient") for i in range(rows.count())}
    assert {"P-ANN", "P-BOB"} <= listed
    assert "P-CAROL" not in listed
