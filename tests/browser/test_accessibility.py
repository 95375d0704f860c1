"""axe-core (Deque's accessibility engine, pinned in tests/js/package.json) run inside each main page in
Chromium: no violation of serious or critical impact is allowed, nor one of the rules in `ALWAYS` (fixed once,
kept fixed) whatever its impact. Other minor and moderate ones are in the full report that each page leaves
in test-artifacts/axe/NAME.json, beside its screenshot in test-artifacts/screenshots/page-NAME.png.

Pages are checked as their users see them, including the states that are easiest to get wrong: a form
refused with its problems beside the fields, an error page.

`KNOWN` lists violations found and reported but not fixed yet, each with what is wrong. A known violation
must still be there (the test says when it is fixed, so that its entry goes), and nothing else may be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from browserkit import Watch, axe_check, describe, screenshot

Browse = Callable[[str | None], tuple[Any, Watch]]


def _preview_nothing(page: Any) -> None:
    """Press Preview on an empty wizard: the whole page comes back (422) with the planner's problems."""
    with page.expect_navigation():
        page.click("#preview-button")
    page.wait_for_selector("#error-summary")


def _refuse_a_dose(page: Any) -> None:
    page.fill("#dose", "2 mL")
    with page.expect_navigation():
        page.click("#save-dose")
    page.wait_for_selector("#error-summary")


def _live_preview(page: Any) -> None:
    """Change a field so the htmx preview swaps in a fresh plan."""
    page.fill("#age", "63")
    page.wait_for_function("() => document.querySelector('#preview-decision') !== null")
    page.wait_for_load_state("networkidle")


def _refuse_a_vial(page: Any) -> None:
    """Open a vial with no product: the plan's is an ampoule, so the page comes back with the problem."""
    page.fill("#vial-expiry", "2027-01-31")
    with page.expect_navigation():
        page.click("#save-vial")
    page.wait_for_selector("#product_id-error")


def _refuse_a_password(page: Any) -> None:
    """Change the password with a wrong current one: the page comes back with the problem beside it."""
    page.fill("#current_password", "not the password at all")
    page.fill("#new_password", "a brand new long password")
    page.fill("#repeat_password", "a brand new long password")
    with page.expect_navigation():
        page.click("#change-password")
    page.wait_for_selector("#current_password-error")


def _refuse_a_reset(page: Any) -> None:
    """Open a reset form on the accounts page and set a password that differs from its repeat."""
    page.click("#reset-ann summary")
    page.fill("#password-ann", "a brand new long password")
    page.fill("#repeat_password-ann", "another long password")
    with page.expect_navigation():
        page.click("#reset-password-ann")
    page.wait_for_selector("#repeat_password-ann-error")


ALWAYS = (
    "region",
)  # all content in landmarks (moderate in axe): the disclaimer, the printed plan's record line

KNOWN: dict[str, dict[str, str]] = {}
"""page -> {axe rule id: what is wrong}. Empty: the wizard's preview panel that could not be scrolled from
the keyboard (`scrollable-region-focusable`) was fixed."""


@dataclass(frozen=True)
class Screen:
    name: str
    user: str | None
    path: str
    status: int = 200
    then: Callable[[Any], None] | None = None


SCREENS = [
    Screen("login", None, "/login"),
    Screen("dashboard", "nurse-a", "/dashboard"),
    Screen("patients", "nurse-a", "/patients"),
    Screen("patient", "nurse-a", "/patients/P-ANN"),
    Screen("vial-refused", "nurse-a", "/patients/P-ANN", then=_refuse_a_vial),
    Screen("wizard", "nurse-a", "/patients/P-ANN/plan/new", then=_live_preview),
    Screen("wizard-refused", "admin", "/patients/P-CAROL/plan/new", then=_preview_nothing),
    Screen("record-injection", "nurse-a", "/patients/P-ANN/doses/new"),
    Screen("record-injection-refused", "nurse-a", "/patients/P-BOB/doses/new", then=_refuse_a_dose),
    Screen("me", "ann", "/me"),
    Screen("interval-report", "nurse-a", "/patients/P-ANN/interval-report"),
    Screen("print", "nurse-a", "/patients/P-ANN/plan/print"),
    Screen("calendar", "ann", "/patients/P-ANN/calendar"),
    Screen("forbidden", "ann", "/patients/P-BOB", status=403),
    Screen("account", "ann", "/account"),
    Screen("account-refused", "nurse-a", "/account", then=_refuse_a_password),
    Screen("accounts", "admin", "/accounts"),
    Screen("accounts-refused", "admin", "/accounts", then=_refuse_a_reset),
]


@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_no_serious_accessibility_violations(browse: Browse, axe_source: str, screen: Screen) -> None:
    page, watch = browse(screen.user)
    response = page.goto(screen.path)
    assert response is not None
    assert response.status == screen.status, screen
    if screen.then:
        screen.then(page)
    screenshot(page, f"page-{screen.name}")
    violations = axe_check(page, axe_source, screen.name, also=ALWAYS)
    known = KNOWN.get(screen.name, {})
    new = [v for v in violations if v["id"] not in known]
    assert new == [], f"{screen.name} ({screen.path}):\n{describe(new)}"
    fixed = set(known) - {v["id"] for v in violations}
    assert not fixed, f"fixed on {screen.name}: remove {sorted(fixed)} from KNOWN"
    assert watch.unexpected(screen.status, 422) == [], "\n".join(watch.problems)
