"""Golden files for the outputs people read: the written plan (text, markdown), ICS and FHIR.

A change to one of these files is a change to what a patient takes home or a clinic imports: review the diff
like code. Regenerate after an intended change with `B12PLAN_UPDATE_GOLDEN=1 pytest tests/golden`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from b12plan import services

HERE = Path(__file__).parent
CASES = Path(__file__).parents[1] / "cases"
TODAY = dt.date(2026, 11, 25)
STAMP = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
GOLDEN = ["v01-ag-no-neuro", "v02-neuro", "v04-us-label", "v10-unlikely"]
FORMATS = {"text": "txt", "markdown": "md", "ics": "ics", "fhir": "fhir.json"}


def _render(case_id: str, fmt: str) -> str:
    case = json.loads((CASES / f"{case_id}.json").read_text(encoding="utf-8"))["input"]
    plan = services.plan_document(case, today=TODAY, horizon_months=6)
    out = services.render_plan(plan, fmt, calendar_id=f"golden-{case_id}", now=STAMP)
    return out.decode("utf-8") if isinstance(out, bytes) else out


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case_id", GOLDEN)
def test_output_matches_golden_file(case_id: str, fmt: str) -> None:
    got = _render(case_id, fmt)
    path = HERE / "files" / f"{case_id}.{FORMATS[fmt]}"
    if os.environ.get("B12PLAN_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8", newline="")
    assert path.exists(), f"no golden file {path.name}: run with B12PLAN_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_bytes().decode("utf-8"), f"{path.name} changed: review the diff, then regenerate"


def test_rendering_is_deterministic() -> None:
    assert _render("v01-ag-no-neuro", "fhir") == _render("v01-ag-no-neuro", "fhir")
    assert _render("v02-neuro", "ics") == _render("v02-neuro", "ics")
