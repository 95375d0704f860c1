"""Helpers for the planning-core tests: build a case, plan it in-process, and match a plan against the
decisions a case file expects.

Case files (`tests/cases/*.json`) have the shape of the shared example cases:
`{"id", "title", "source", "input": {case}, "expect": {PATH: MATCHER}}`, or `"expect_error": {"mentions":
[words]}` for input that must be refused.

PATH walks the plan's JSON: dotted keys, `[n]` an index, `[*]` every element (the result is then a list of
values), `[key=value]` the elements of a list whose `key` equals `value` (case-insensitive).
MATCHER is a literal (strings compare case-insensitively) or an object whose keys are all checks:
`in`, `between`, `approx` (with `tol`), `includes`, `excludes`, `overlaps` (looking through nested lists),
`count`, `min_count`, `present`, `date_between` (any of a list of dates). Every check given must hold.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from b12plan import services

CASES_DIR = Path(__file__).parent / "cases"
START = dt.date(2026, 12, 7)  # a Monday, the start date of every example case
TODAY = dt.date(2026, 11, 30)  # the clock the tests plan with when a case gives no start date

_NOTHING = object()  # a path that leads nowhere
_STEPS = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_CHECKS = frozenset(
    {
        "in",
        "between",
        "approx",
        "tol",
        "includes",
        "excludes",
        "overlaps",
        "count",
        "min_count",
        "present",
        "date_between",
    }
)

# -- building and planning cases ---------------------------------------------------------------------------


def case(**fields: Any) -> dict[str, Any]:
    """A case document: a 50-year-old woman starting on START unless `fields` say otherwise."""
    doc: dict[str, Any] = {"start_date": START.isoformat(), "patient": {"age": 50, "sex": "female"}}
    doc.update(fields)
    return doc


def lab(test: str, value: Any, unit: str | None = None, **extra: Any) -> dict[str, Any]:
    """One `labs[]` entry; `unit` left out when None."""
    entry: dict[str, Any] = {"test": test, "value": value, "date": "2026-12-01"}
    if unit is not None:
        entry["unit"] = unit
    entry.update(extra)
    return entry


def b12(value: float, unit: str = "ng/L", **extra: Any) -> dict[str, Any]:
    return lab("b12_total", value, unit, **extra)


def plan(doc: dict[str, Any], *, ruleset: str | None = None, horizon: int = 12) -> dict[str, Any]:
    """The plan's contract JSON for a case document, planned in-process (UserError propagates)."""
    result = services.plan_document(doc, today=TODAY, ruleset=ruleset, horizon_months=horizon)
    return result.to_json_dict()


def alert_codes(p: dict[str, Any]) -> list[str]:
    return [a["code"] for a in p["alerts"]]


def alert(p: dict[str, Any], code: str) -> dict[str, Any]:
    found = [a for a in p["alerts"] if a["code"] == code]
    assert len(found) == 1, f"{code} appears {len(found)} times in {alert_codes(p)}"
    return found[0]


def phases(p: dict[str, Any], stage: str | None = None) -> list[dict[str, Any]]:
    regimen = p["regimen"]
    assert regimen is not None, f"no regimen: {p['decision']}"
    return [ph for ph in regimen["phases"] if stage is None or ph["stage"] == stage]


def days(p: dict[str, Any], kind: str = "injection", stage: str | None = None) -> list[int]:
    """Days after the plan's start of the events of one kind (and stage)."""
    start = dt.date.fromisoformat(p["generated_for"])
    return [
        (dt.date.fromisoformat(e["date"]) - start).days
        for e in p["events"]
        if e["kind"] == kind and (stage is None or e.get("stage") == stage)
    ]


def reason_ids(p: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in p["reasons"]]


# -- case files --------------------------------------------------------------------------------------------


def case_files(folder: Path = CASES_DIR) -> list[Path]:
    return sorted(folder.glob("*.json"))


def read_case_file(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name}: not a case file"
    assert "input" in doc, f"{path.name}: no input"
    assert ("expect" in doc) != ("expect_error" in doc), f"{path.name}: give expect or expect_error"
    return doc


# -- the matcher -------------------------------------------------------------------------------------------


def _steps(path: str) -> Iterator[tuple[str | None, str | None]]:
    pos = 0
    for m in _STEPS.finditer(path):
        between = path[pos : m.start()]
        if between not in ("", "."):
            raise ValueError(f"cannot read path {path!r} at {between!r}")
        pos = m.end()
        yield m.group(1), m.group(2)
    if path[pos:]:
        raise ValueError(f"cannot read path {path!r} at {path[pos:]!r}")


def _step(node: Any, key: str | None, selector: str | None) -> tuple[list[Any], bool]:
    """The values one step leads to from `node`, and whether the step spreads a list."""
    if key is not None:
        return [node.get(key, _NOTHING) if isinstance(node, dict) else _NOTHING], False
    assert selector is not None
    items = node if isinstance(node, list) else None
    if selector == "*":
        return (list(items) if items is not None else []), True
    if re.fullmatch(r"-?\d+", selector):
        i = int(selector)
        return [items[i] if items is not None and -len(items) <= i < len(items) else _NOTHING], False
    if "=" in selector:
        field, want = selector.split("=", 1)
        if items is None:
            return [_NOTHING], False
        chosen = [x for x in items if isinstance(x, dict) and str(x.get(field)).lower() == want.lower()]
        return [chosen], False
    raise ValueError(f"unknown selector [{selector}]")


def resolve(doc: Any, path: str) -> Any:
    """The value at `path` in `doc`: a list when the path holds `[*]`, else one value (or _NOTHING)."""
    values, spread = [doc], False
    for key, selector in _steps(path):
        following: list[Any] = []
        for value in values:
            if value is _NOTHING:
                following.append(_NOTHING)
                continue
            found, spreads = _step(value, key, selector)
            following.extend(found)
            spread = spread or spreads
        values = following
    if spread:
        return [v for v in values if v is not _NOTHING]
    return values[0] if values else _NOTHING


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _failures(value: Any, matcher: dict[str, Any]) -> Iterator[str]:
    """Each check of `matcher` that `value` fails, in words."""
    if "present" in matcher and (value is not _NOTHING and value is not None) != matcher["present"]:
        yield f"present should be {matcher['present']}"
    if value is _NOTHING:
        if set(matcher) - {"present"}:
            yield "the path leads nowhere"
        return
    words = {str(x).lower() for x in _leaves(value)} if isinstance(value, list) else set()
    if "in" in matcher and not any(_same(value, x) for x in matcher["in"]):
        yield f"not one of {matcher['in']}"
    if "between" in matcher:
        lo, hi = matcher["between"]
        if not (_number(value) and lo <= value <= hi):
            yield f"not between {lo} and {hi}"
    if "approx" in matcher and not (
        _number(value) and abs(value - matcher["approx"]) <= matcher.get("tol", 1e-6)
    ):
        yield f"not within {matcher.get('tol', 1e-6)} of {matcher['approx']}"
    if "includes" in matcher:
        missing = [x for x in matcher["includes"] if str(x).lower() not in words]
        if missing:
            yield f"does not include {missing}"
    if "excludes" in matcher:
        present = [x for x in matcher["excludes"] if str(x).lower() in words]
        if present:
            yield f"includes {present}"
    if "overlaps" in matcher and not any(str(x).lower() in words for x in matcher["overlaps"]):
        yield f"has none of {matcher['overlaps']}"
    if "count" in matcher and not (isinstance(value, list) and len(value) == matcher["count"]):
        yield f"count is not {matcher['count']}"
    if "min_count" in matcher and not (isinstance(value, list) and len(value) >= matcher["min_count"]):
        yield f"count is below {matcher['min_count']}"
    if "date_between" in matcher:
        lo, hi = matcher["date_between"]
        dates = [d for d in _leaves(value) if isinstance(d, str)]
        if not any(lo <= d[:10] <= hi for d in dates):
            yield f"no date between {lo} and {hi}"


def match(value: Any, matcher: Any) -> list[str]:
    """Why `value` fails `matcher`; empty when it matches."""
    if isinstance(matcher, dict) and set(matcher) & _CHECKS:
        unknown = set(matcher) - _CHECKS
        if unknown:
            raise ValueError(f"unknown matcher keys {sorted(unknown)}")
        return list(_failures(value, matcher))
    if value is _NOTHING:
        return ["the path leads nowhere"]
    return [] if _same(value, matcher) else [f"is not {json.dumps(matcher)}"]


def check(doc: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Every expectation `doc` fails, as `path: why (got ...)`."""
    problems = []
    for path, matcher in expect.items():
        value = resolve(doc, path)
        for why in match(value, matcher):
            got = "<nothing>" if value is _NOTHING else json.dumps(value)[:200]
            problems.append(f"{path}: {why} (got {got})")
    return problems
