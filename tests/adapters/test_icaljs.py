"""Our .ics read by ical.js (Mozilla's JavaScript parser, which we did not write), compared with the plan.

Two plans from the planner: one in London whose loading doses cross the spring change to summer time, one
in New York crossing the autumn change. ical.js resolves each TZID from the file's own VTIMEZONE (it has no
zone database), so a wrong VTIMEZONE shows up here as a wrong UTC instant.

ical.js is pinned in tests/js/package.json (lock file committed). When tests/js/node_modules is missing,
this module runs `npm ci --prefix tests/js` once. Without node or the package the tests are skipped loudly
on a developer machine and FAIL when the environment variable CI is set: the check is never lost quietly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from b12plan import services
from b12plan.adapters.icalendar import event_uid, plan_to_ics
from b12plan.domain.codes import EventKind, Stage
from b12plan.domain.plan import Event, Plan

JS = Path(__file__).parents[1] / "js"
STAMP = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
Parse = Callable[[bytes], list[dict[str, Any]]]


def _unavailable(reason: str) -> None:
    message = f"ical.js comparison NOT RUN: {reason}. Install it with `npm ci --prefix tests/js`."
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: this check must run)", pytrace=False)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def _install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not on PATH and tests/js/node_modules is missing")
        return
    command = [npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        _unavailable(f"`{' '.join(command)}` took over 5 minutes")
        return
    if done.returncode != 0:
        _unavailable(f"`{' '.join(command)}` failed: {done.stderr.strip()[-400:]}")


@pytest.fixture(scope="module")
def icaljs(tmp_path_factory: pytest.TempPathFactory) -> Parse:
    """A function: .ics bytes -> the events as ical.js reads them (see tests/js/parse_ics.mjs)."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not on PATH")
    if not (JS / "node_modules" / "ical.js" / "package.json").is_file():
        _install()
    folder = tmp_path_factory.mktemp("ics")

    def parse(data: bytes) -> list[dict[str, Any]]:
        path = folder / "plan.ics"
        path.write_bytes(data)
        done = subprocess.run(
            [str(node), str(JS / "parse_ics.mjs"), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TZ": "UTC"},  # a floating time must not pass for a zoned one
            check=False,
        )
        assert done.returncode == 0, done.stderr
        events: list[dict[str, Any]] = json.loads(done.stdout)["events"]
        return events

    return parse


def make_plan(start: str) -> Plan:
    """The example case (IM hydroxocobalamin, loading then maintenance), starting on `start`."""
    doc = json.loads(services.example_case_text())
    doc["start_date"] = start
    first = dt.date.fromisoformat(start)
    for lab in doc["labs"]:
        lab["date"] = (first - dt.timedelta(days=7)).isoformat()
    return services.plan_document(doc, today=first - dt.timedelta(days=1))


def expected_uids(plan: Plan, calendar_id: str) -> list[str]:
    counts: Counter[tuple[EventKind, Stage | None]] = Counter()
    uids = []
    for event in plan.events:
        counts[event.kind, event.stage] += 1
        uids.append(event_uid(calendar_id, event.kind, event.stage, counts[event.kind, event.stage]))
    return uids


def expected_words(event: Event) -> list[str]:
    if event.kind in (EventKind.INJECTION, EventKind.ORAL):
        words = [f"{event.dose_mcg:g} micrograms"]
        if event.volume_ml is not None:
            words.append(f"{event.volume_ml:g} mL")
        return words
    return ["blood test"] if event.kind is EventKind.TEST else ["review"]


CASES = [
    pytest.param("Europe/London", "2026-03-23", dt.date(2026, 3, 29), id="london-spring-forward"),
    pytest.param("America/New_York", "2026-10-26", dt.date(2026, 11, 1), id="new-york-fall-back"),
]


@pytest.mark.parametrize(("zone", "start", "change"), CASES)
def test_every_event_read_by_icaljs_matches_the_plan(
    icaljs: Parse, zone: str, start: str, change: dt.date
) -> None:
    plan = make_plan(start)
    dates = [e.date for e in plan.events]
    assert min(dates) < change < max(dates), "the plan must cross the clock change it is meant to test"
    data = plan_to_ics(plan, tz=zone, calendar_id="cal-js", stamp=STAMP)
    read = icaljs(data)
    ours = [str(e["UID"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]

    assert len(read) == len(plan.events)
    assert [e["uid"] for e in read] == expected_uids(plan, "cal-js") == ours
    offsets = set()
    for planned, event in zip(plan.events, read, strict=True):
        local = dt.datetime.combine(planned.date, dt.time(9, 0))
        truth = local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
        offsets.add(local.replace(tzinfo=ZoneInfo(zone)).utcoffset())
        assert event["tzid"] == zone, event  # resolved from our VTIMEZONE, not floating
        assert event["start"] == local.isoformat(), event
        assert event["utc"] == truth.strftime("%Y-%m-%dT%H:%M:%S.000Z"), (planned.date, event)
        assert dt.datetime.fromisoformat(event["end_utc"]) > dt.datetime.fromisoformat(event["utc"])
        for words in expected_words(planned):
            assert words in event["summary"] or words in event["summary"].lower(), event
        assert event["status"] == ("TENTATIVE" if planned.provisional else "CONFIRMED")
        assert event["alarms"] == 1
        if planned.kind is EventKind.INJECTION:
            assert event["alarm_triggers"] == ["-P1D"]
        assert event["recurring"] is False  # one VEVENT per dose, never an RRULE
    assert len(offsets) == 2, "summer and winter time both appear"
