"""The plan wizard's form: form fields to a case document (b12plan.case/1) and back, and each refusal of
the planner placed beside the field it names.

Field names are stable (browser tests and assistive technology rely on them): `age`, `sex`, `pregnant`,
`lab-<test>-value`, `lab-<test>-unit`, `lab-<test>-date`, `lab-<test>-upper_limit`, `symptoms`, `causes`,
`conditions`, `product`, `route`, `maintenance_interval_days`, `reason`, ... Every input's id is its name.
The form only gathers: the case is checked by the planner itself, as on the command line and the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from b12plan.domain import units
from b12plan.domain.codes import Cause, Condition, LabTest, Sex, Symptom, SymptomCourse
from b12plan.errors import FieldProblem
from b12plan.rulebook import load_catalogue, load_ruleset, ruleset_ids

__all__ = [
    "Choice",
    "LabRow",
    "Values",
    "case_from_form",
    "choices",
    "field_id",
    "form_from_case",
    "lab_rows",
]

Values = dict[str, Any]  # field name -> text, or a list of texts for checkbox groups
_MULTI = ("symptoms", "causes", "conditions")
_PATIENT = ("age", "sex", "ethnicity")
_FLAGS = ("pregnant", "breastfeeding")
_LAB_PARTS = ("value", "unit", "date", "upper_limit")
_LAB_FIELD = re.compile(r"^labs\[(\d+)\](?: \([^)]*\))?(?:\.(\w+))?")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class LabRow:
    """One test's row in the wizard: its code, its name and the units accepted for it (preferred first)."""

    test: str
    units: tuple[Choice, ...]
    qualitative: bool


def _unit_label(unit: str) -> str:
    return {"10*9/L": "×10⁹/L", "1": "(ratio, no unit)", "%": "%"}.get(unit, unit)


@cache
def lab_rows() -> tuple[LabRow, ...]:
    return tuple(
        LabRow(
            test=test.value,
            units=tuple(Choice(u, _unit_label(u)) for u in units.accepted_units(test) if u != "1"),
            qualitative=test is LabTest.IFAB,
        )
        for test in LabTest
    )


@cache
def choices() -> dict[str, tuple[Choice, ...]]:
    """The options of every select and checkbox group."""
    catalogue = load_catalogue()
    return {
        "ruleset": tuple(Choice(r, f"{load_ruleset(r).ruleset.title} ({r})") for r in ruleset_ids()),
        "sex": tuple(Choice(s.value, s.value) for s in Sex),
        "symptoms": tuple(Choice(s.value, s.value.replace("_", " ")) for s in Symptom),
        "symptom_course": tuple(Choice(c.value, c.value) for c in SymptomCourse),
        "causes": tuple(Choice(c.value, c.value.replace("_", " ")) for c in Cause),
        "conditions": tuple(Choice(c.value, c.value.replace("_", " ")) for c in Condition),
        "product": tuple(Choice(p.id or "", p.name) for p in catalogue.products if p.id),
        "route": (
            Choice("IM", "IM (intramuscular)"),
            Choice("SC", "SC (subcutaneous)"),
            Choice("oral", "oral"),
        ),
    }


def _number(text: str) -> Any:
    """A number typed in a form as a number; anything else as typed, for the planner to refuse by name."""
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "," not in text else value


def case_from_form(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The case the form describes, and the test code of each `labs[]` entry in order (to place errors).

    Empty fields are left out, so the case's own defaults apply (start today, the default rule set).
    """

    def text(name: str) -> str:
        value = values.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    case: dict[str, Any] = {}
    for name in ("ruleset", "start_date", "treatment_started", "symptom_course", "product"):
        if text(name):
            case[name] = text(name)
    patient: dict[str, Any] = {}
    if text("age"):
        patient["age"] = _number(text("age"))
    for name in ("sex", "ethnicity"):
        if text(name):
            patient[name] = text(name)
    for flag in _FLAGS:
        if text(flag):
            patient[flag] = True
    case["patient"] = patient
    labs: list[dict[str, Any]] = []
    order: list[str] = []
    for row in lab_rows():
        value = text(f"lab-{row.test}-value")
        if not value:
            continue
        lab: dict[str, Any] = {"test": row.test, "value": value if row.qualitative else _number(value)}
        for part in ("unit", "date"):
            if text(f"lab-{row.test}-{part}"):
                lab[part] = text(f"lab-{row.test}-{part}")
        if text(f"lab-{row.test}-upper_limit"):
            lab["upper_limit"] = _number(text(f"lab-{row.test}-upper_limit"))
        labs.append(lab)
        order.append(row.test)
    if labs:
        case["labs"] = labs
    for name in _MULTI:
        picked = values.get(name, [])
        picked = [picked] if isinstance(picked, str) else list(picked)
        if picked:
            case[name] = [p for p in picked if p]
    preferences: dict[str, Any] = {}
    if text("route"):
        preferences["route"] = text("route")
    if text("maintenance_interval_days"):
        preferences["maintenance_interval_days"] = _number(text("maintenance_interval_days"))
    if preferences:
        case["preferences"] = preferences
    return case, order


def form_from_case(case: Mapping[str, Any]) -> Values:
    """The form's values for a stored case (to start a new plan version from the current one)."""
    values: Values = {}
    for name in ("ruleset", "start_date", "treatment_started", "symptom_course"):
        if case.get(name) is not None:
            values[name] = str(case[name])
    if isinstance(case.get("product"), str):
        values["product"] = case["product"]
    patient = case.get("patient") or {}
    for name in _PATIENT:
        if patient.get(name) is not None:
            values[name] = str(patient[name])
    for flag in _FLAGS:
        if patient.get(flag):
            values[flag] = "yes"
    for lab in case.get("labs") or []:
        test = LabTest(lab["test"]).value if lab.get("test") in {t.value for t in LabTest} else None
        if test is None:
            continue
        for part in _LAB_PARTS:
            if lab.get(part) is not None:
                values[f"lab-{test}-{part}"] = (
                    f"{lab[part]:g}" if isinstance(lab[part], float) else str(lab[part])
                )
    for name in _MULTI:
        values[name] = [str(v) for v in case.get(name) or []]
    preferences = case.get("preferences") or {}
    for name in ("route", "maintenance_interval_days"):
        if preferences.get(name) is not None:
            values[name] = str(preferences[name])
    return values


def field_id(field: str, lab_order: Sequence[str]) -> str | None:
    """The form field a refusal names: `labs[0] (b12_total).unit` -> `lab-b12_total-unit`,
    `patient.age` -> `age`, `preferences.route` -> `route`; None when no field of the form holds it."""
    match = _LAB_FIELD.match(field)
    if match:
        index, part = int(match[1]), match[2] or "value"
        if index < len(lab_order):
            return f"lab-{lab_order[index]}-{part if part in _LAB_PARTS else 'value'}"
        return None
    head = re.split(r"[.\[]", field.removeprefix("patient.").removeprefix("preferences."), maxsplit=1)[0]
    known = {
        *_PATIENT,
        *_FLAGS,
        *_MULTI,
        "ruleset",
        "start_date",
        "treatment_started",
        "symptom_course",
        "product",
        "route",
        "maintenance_interval_days",
        "reason",
    }
    return head if head in known else None


def place_errors(problems: Sequence[FieldProblem], lab_order: Sequence[str]) -> dict[str, str]:
    """Field id -> the first problem about it."""
    placed: dict[str, str] = {}
    for problem in problems:
        target = field_id(problem.field, lab_order)
        if target is not None:
            placed.setdefault(target, problem.problem)
    return placed
