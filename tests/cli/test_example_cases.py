"""The example cases (tests/cases, copied from the shared examples plus our own built from the reference) run
through `b12plan plan CASE --format json`, in-process, and once through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casekit import case_files, check, read_case_file, resolve

CASES = case_files()


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


SHARED = [
    "v01-ag-no-neuro",
    "v02-neuro",
    "v03-unit-pmol",
    "v04-us-label",
    "v05-nitrous-oxide",
    "v06-vegan-diet",
    "v07-leber-cyano",
    "v08-folate",
    "v09-severe-anaemia",
    "v10-unlikely",
    "v11-bad-unit",
    "v12-missing-unit",
    "v13-negative",
    "v14-pregnant-total",
    "v15-anticoagulant",
]


def test_the_shared_examples_and_our_own_are_all_here() -> None:
    ids = {p.stem for p in CASES}
    assert set(SHARED) <= ids
    assert len(ids - set(SHARED)) >= 10


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_example_case(path: Path, tmp_path: Path, cli: Callable[..., Any]) -> None:
    doc = read_case_file(path)
    assert doc["id"] == path.stem
    run = cli("plan", _write(tmp_path, doc["input"]), "--format", "json")
    assert "Traceback" not in run.all_output
    if "expect_error" in doc:
        assert run.exit_code == 2, run.all_output
        assert run.stdout == ""
        said = run.stderr.lower()
        for word in doc["expect_error"]["mentions"]:
            assert word.lower() in said, f"{word!r} not in {run.stderr!r}"
        return
    assert run.exit_code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert check(plan, doc["expect"]) == []


# -- the matcher itself: a matcher that cannot fail would pass every case -----------------------------------

PLAN = {
    "assessment": {"status": "deficient", "causes": ["autoimmune_gastritis"]},
    "regimen": {
        "phases": [
            {"stage": "repletion", "dose_mcg": 1000, "doses": 6, "route": "IM"},
            {"stage": "maintenance", "dose_mcg": 1000, "interval_days": 84.0, "lifelong": True},
        ]
    },
    "events": [
        {"date": "2026-12-07", "kind": "injection"},
        {"date": "2026-12-14", "kind": "test", "tests": ["reticulocytes", "hb"]},
        {"date": "2027-03-08", "kind": "review"},
    ],
    "alerts": [{"code": "NO_RETEST_B12"}],
}


@pytest.mark.parametrize(
    ("path", "matcher"),
    [
        ("assessment.status", "DEFICIENT"),
        ("regimen.phases[stage=repletion][0].dose_mcg", 1000),
        ("regimen.phases[stage=maintenance][0].interval_days", {"between": [56, 92]}),
        ("regimen.phases[stage=maintenance][0].lifelong", True),
        ("regimen.phases[stage=repletion][*].doses", {"includes": [6]}),
        ("regimen.phases[-1].stage", {"in": ["maintenance"]}),
        ("regimen.phases[0].dose_mcg", {"approx": 999.9995, "tol": 0.001}),
        ("events[kind=injection]", {"count": 1}),
        ("events[kind=test][*].tests", {"includes": ["hb"], "excludes": ["potassium"]}),
        ("events[kind=review][*].date", {"date_between": ["2027-03-01", "2027-03-31"]}),
        ("alerts[*].code", {"overlaps": ["PREGNANCY", "NO_RETEST_B12"]}),
        ("regimen.phases[stage=repletion][0].until", {"present": False}),
        ("regimen.phases", {"min_count": 2}),
    ],
)
def test_matcher_accepts(path: str, matcher: Any) -> None:
    assert check(PLAN, {path: matcher}) == []


@pytest.mark.parametrize(
    ("path", "matcher"),
    [
        ("assessment.status", "indeterminate"),
        ("assessment.state", "deficient"),  # a misspelt path fails, never passes silently
        ("regimen.phases[stage=maintenance][0].interval_days", {"between": [56, 62]}),
        ("regimen.phases[stage=maintenance][0].lifelong", 1),  # true is not 1
        ("regimen.phases[stage=repletion][1].dose_mcg", 1000),
        ("regimen.phases[0].dose_mcg", {"approx": 990, "tol": 1}),
        ("events[kind=injection]", {"count": 2}),
        ("events[kind=test][*].tests", {"includes": ["potassium"]}),
        ("alerts[*].code", {"excludes": ["NO_RETEST_B12"]}),
        ("alerts[*].code", {"overlaps": ["PREGNANCY"]}),
        ("events[kind=review][*].date", {"date_between": ["2027-04-01", "2027-04-30"]}),
        ("regimen.phases[stage=repletion][0].route", {"present": False}),
        ("regimen.phases", {"min_count": 3}),
    ],
)
def test_matcher_refuses(path: str, matcher: Any) -> None:
    assert check(PLAN, {path: matcher}) != []


def test_matcher_rejects_unknown_checks_and_paths() -> None:
    with pytest.raises(ValueError, match="unknown matcher"):
        check(PLAN, {"assessment.status": {"in": ["deficient"], "bewteen": [1, 2]}})
    with pytest.raises(ValueError, match="selector"):
        resolve(PLAN, "regimen.phases[stage]")


# -- one smoke test through the installed console script ---------------------------------------------------


def test_console_script_plans_a_case_file(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("b12plan")
    exe = str(script) if script.exists() else shutil.which("b12plan")
    if exe is None:
        pytest.skip("the b12plan console script is not installed beside this Python")
    doc = read_case_file(Path(__file__).parents[1] / "cases" / "v01-ag-no-neuro.json")
    proc = subprocess.run(
        [exe, "plan", str(_write(tmp_path, doc["input"])), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert check(json.loads(proc.stdout), doc["expect"]) == []
    refused = subprocess.run(
        [exe, "plan", str(tmp_path / "missing.json")], capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2
    assert "CASE: " in refused.stderr
    assert "Traceback" not in refused.stderr
