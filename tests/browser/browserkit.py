"""Helpers for the browser tests (imported as `browserkit`; the fixtures are in conftest.py).

Chromium is Debian's (`apt-get install chromium`), driven by Playwright's Python package; Playwright's own
browser download (`playwright install`) is never used. axe-core is the npm package pinned in
tests/js/package.json. When one of them is missing the tests are skipped loudly on a developer machine and
FAIL when the environment variable CI is set: the checks are never lost quietly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_REPORTS = ARTIFACTS / "axe"

NOW = dt.datetime(2026, 1, 20, 12, 0)  # the app's clock: a Tuesday
PASSWORD = "correct horse battery staple"
BLOCKING_IMPACTS = ("serious", "critical")


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip (warning loudly) when a browser-test tool is missing; fail instead when CI is set."""
    message = f"browser tests NOT RUN: {what} is unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: these checks must run)", pytrace=False)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@dataclass
class Watch:
    """What went wrong in a page while a test used it: script errors, console errors (a script, style or
    image the Content-Security-Policy blocks shows up here), requests that failed, and resources (not the
    page itself) answered with an error status."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url") or ""
            self.problems.append(f"console error: {message.text}" + (f" [{where}]" if where else ""))

    def _failed(self, request: Any) -> None:
        # ERR_ABORTED: cancelled by the browser (a new page load, htmx replacing a preview): not a failure
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.request.method} {response.url}: {response.status}")

    def unexpected(self, *expected_statuses: int) -> list[str]:
        """The problems, less those that are not: the console line Chromium writes for a page sent with an
        error status the test expects (`Failed to load resource: ... status of 403 (Forbidden)`); and the
        wizard's previews that htmx cancels when a newer one starts (`hx-sync="this:replace"`), which it
        logs as `htmx:sendAbort` and `htmx:afterRequest` (a request that fails logs its own error too)."""
        allowed = tuple(f"status of {status} " for status in expected_statuses)

        def expected(problem: str) -> bool:
            if "Failed to load resource" in problem:
                return any(a in problem for a in allowed)
            return problem.startswith(("console error: htmx:sendAbort", "console error: htmx:afterRequest"))

        return [p for p in self.problems if not expected(p)]


class ServerLog(logging.Handler):
    """Errors the server logged while the tests ran (uvicorn's "Exception in ASGI application", b12plan's
    own 500 log line)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        info = record.exc_info
        kind = info[0].__name__ if isinstance(info, tuple) and info[0] else ""
        message = " ".join(record.getMessage().split())
        self.errors.append(f"{record.name}: {message}" + (f" ({kind})" if kind else ""))

    def take(self) -> list[str]:
        taken, self.errors = self.errors, []
        return taken


@dataclass(frozen=True)
class Site:
    """The running app: its base URL, who may sign in to it (all with `PASSWORD`) and its error log."""

    url: str
    users: tuple[str, ...]
    log: ServerLog


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in form, as a person would."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#sign-in")
    assert "/login" not in page.url, f"signing in as {username} failed: {page.url}"


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot in test-artifacts/screenshots/ (kept by CI as an artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_check(page: Any, axe_source: str, name: str, also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Run axe-core in the page; keep its full report in test-artifacts/axe/NAME.json; return the
    violations whose impact is serious or critical, and those of the rules in `also` whatever their impact.

    axe is evaluated through the DevTools protocol, which the page's Content-Security-Policy (no inline
    script) does not govern, so the page is checked under its real policy.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    results: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    AXE_REPORTS.mkdir(parents=True, exist_ok=True)
    (AXE_REPORTS / f"{name}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS or v["id"] in also]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and up to three offending elements, for an assertion message."""
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:3])
        lines.append(f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} elements: {targets})")
    return "\n".join(lines)


@dataclass(frozen=True)
class NextDose:
    """The next injection as the patient page shows it."""

    due: dt.date
    number: int
    text: str


def next_dose(page: Any) -> NextDose:
    """Read `#next-dose`: its due day and the dose's number in the course from the element's `data-due` and
    `data-dose-number` (docs/web.md, "For tests"), and the due line as people read it."""
    section = page.locator("#next-dose")
    due, number = section.get_attribute("data-due"), section.get_attribute("data-dose-number")
    assert due, section.inner_html()
    assert number, section.inner_html()
    text = " ".join(section.locator(".due-line").inner_text().split())
    return NextDose(due=dt.date.fromisoformat(due), number=int(number), text=text)
