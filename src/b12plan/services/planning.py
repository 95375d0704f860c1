"""Use cases that join the pure core with data files and output formats. The CLI, web app and API call these.

Reading a file is split from parsing its text (`read_case_file` -> `parse_case_text`), so every surface can
hand over text or a decoded document.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from b12plan.domain.case import Case, parse_case
from b12plan.domain.plan import Plan
from b12plan.domain.planner import make_plan
from b12plan.errors import CaseError, FieldProblem
from b12plan.rulebook import load_catalogue, load_ruleset

__all__ = [
    "FORMATS",
    "example_case_text",
    "parse_case_text",
    "plan_document",
    "read_case_file",
    "render_plan",
    "validate_document",
]

Format = Literal["json", "text", "markdown", "html", "pdf", "ics", "fhir"]
FORMATS: tuple[str, ...] = ("text", "json", "markdown", "html", "pdf", "ics", "fhir")


def parse_case_text(text: str, *, kind: Literal["json", "toml"] = "json") -> dict[str, Any]:
    """Decode a case document; a syntax error is a CaseError naming the line."""
    try:
        data = json.loads(text) if kind == "json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(
            [FieldProblem("case", f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError([FieldProblem("case", f"not valid TOML: {exc}")]) from None
    if not isinstance(data, dict):
        raise CaseError([FieldProblem("case", "must be a JSON object with at least `patient`")])
    return data


def read_case_file(path: str, stdin_text: str | None = None) -> dict[str, Any]:
    """Read a case from a `.json` or `.toml` file, or JSON from stdin when `path` is `-`."""
    if path == "-":
        return parse_case_text(stdin_text or "")
    file = Path(path)
    if not file.is_file():
        raise CaseError([FieldProblem("CASE", f"{path}: no such file")])
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError([FieldProblem("CASE", f"{path}: cannot be read ({exc})")]) from None
    return parse_case_text(text, kind="toml" if file.suffix.lower() == ".toml" else "json")


def validate_document(data: dict[str, Any], *, ruleset: str | None = None) -> Case:
    """Parse and check a case fully (vocabulary, units, plausibility) without planning it."""
    case = parse_case(data)
    rules = load_ruleset(ruleset or case.ruleset)
    from b12plan.domain.labs import read_labs

    read_labs(case, rules)
    return case


def plan_document(
    data: dict[str, Any],
    *,
    today: dt.date,
    ruleset: str | None = None,
    horizon_months: int = 12,
) -> Plan:
    """Plan a decoded case document. `ruleset` overrides the case's own choice."""
    case = parse_case(data)
    if ruleset:
        case = case.model_copy(update={"ruleset": ruleset})
    rules = load_ruleset(case.ruleset)
    return make_plan(case, rules, load_catalogue(), today=today, horizon_months=horizon_months)


def render_plan(
    plan: Plan,
    fmt: str,
    *,
    tz: str = "Europe/London",
    calendar_id: str = "b12plan",
    now: dt.datetime | None = None,
) -> str | bytes:
    """One plan in one output format: str for text formats, bytes for pdf and ics.

    `calendar_id` must be stable per person (the patient id) so that an updated plan's calendar replaces
    the old events instead of duplicating them; `now` stamps the calendar so the later export wins.
    """
    if fmt == "json":
        import orjson  # the text of json.dumps(indent=2, ensure_ascii=False), ~7x faster

        return orjson.dumps(plan.to_json_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt in ("text", "markdown", "html", "pdf"):
        from b12plan.adapters import render

        renderer: dict[str, Callable[[Plan], str | bytes]] = {
            "text": render.render_text,
            "markdown": render.render_markdown,
            "html": render.render_html,
            "pdf": render.render_pdf,
        }
        return renderer[fmt](plan)
    if fmt == "ics":
        from b12plan.adapters.icalendar import plan_to_ics

        return plan_to_ics(plan, tz=tz, calendar_id=calendar_id, stamp=now)
    if fmt == "fhir":
        from b12plan.adapters.fhir import plan_to_fhir_bundle

        return json.dumps(plan_to_fhir_bundle(plan), indent=2, ensure_ascii=False) + "\n"
    raise CaseError([FieldProblem("--format", f"{fmt!r} is not a format; use one of {', '.join(FORMATS)}")])


def example_case_text() -> str:
    """A complete example case to start from."""
    return (resources.files("b12plan") / "data" / "example-case.json").read_text(encoding="utf-8")
