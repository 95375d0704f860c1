"""The case (b12plan.case/1): one person's clinical picture, as the user gives it.

Parsing is strict: an unknown code, a missing unit or an impossible value is refused with the field that
holds it (`labs[0].unit: ...`). A refused case never reaches the planner. Units are checked in `labs.py`,
which needs the unit registry; this module checks shape and vocabulary only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from b12plan.domain.codes import (
    LOINC_ALIASES,
    Cause,
    Condition,
    Formulation,
    LabTest,
    Route,
    Sex,
    Symptom,
    SymptomCourse,
)
from b12plan.errors import CaseError, FieldProblem

__all__ = [
    "CASE_SCHEMA_ID",
    "Case",
    "CustomProduct",
    "LabInput",
    "Patient",
    "Preferences",
    "parse_case",
]

CASE_SCHEMA_ID = "b12plan.case/1"

Qualitative = Literal["positive", "negative"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Patient(_Strict):
    age: Annotated[int, Field(ge=0, le=130, description="Age in whole years.")]
    sex: Sex | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    ethnicity: str | None = Field(default=None, description="Free text; `black` matters for NG239 1.3.13.")


class LabInput(_Strict):
    """One lab result as reported. `unit` is required for numbers except `inr`."""

    test: LabTest = Field(description="Our test code or its LOINC code.")
    value: float | Qualitative
    unit: str | None = None
    date: dt.date | None = None
    upper_limit: float | None = Field(default=None, description="The reporting lab's upper reference limit.")
    lower_limit: float | None = Field(default=None, description="The reporting lab's lower reference limit.")

    @field_validator("test", mode="before")
    @classmethod
    def _loinc_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            code = value.strip()
            if code in LOINC_ALIASES:
                return LOINC_ALIASES[code]
            if code.lower() in {t.value for t in LabTest}:
                return code.lower()
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, or positive/negative for ifab")
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("positive", "negative"):
                return text
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a number (or positive/negative for ifab)") from None
        return value


class CustomProduct(_Strict):
    """A product described by formulation and strength instead of a catalogue id."""

    formulation: Formulation
    strength_mcg_per_ml: Annotated[
        float | None, Field(ge=1, le=100000, description="Injection strength (1 to 100000 mcg/mL).")
    ] = None
    container_ml: Annotated[float | None, Field(ge=0.1, le=100, description="0.1 to 100 mL.")] = None
    multi_dose: bool = False
    form: Literal["injection", "tablet"] = "injection"
    strength_mcg: Annotated[float | None, Field(gt=0, description="Tablet strength (form tablet).")] = None
    routes: list[Route] | None = Field(default=None, description="Licensed routes; default by formulation.")
    dead_space_ml: Annotated[float | None, Field(ge=0, le=0.5)] = None
    name: str | None = None


class Preferences(_Strict):
    route: Route | None = None
    maintenance_interval_days: Annotated[int | None, Field(gt=0, le=366)] = None


class Case(_Strict):
    """b12plan.case/1."""

    ruleset: str = "nice-ng239"
    start_date: dt.date | None = Field(default=None, description="First treatment day; default today.")
    patient: Patient
    labs: list[LabInput] = Field(default_factory=list)
    symptoms: list[Symptom] = Field(default_factory=list)
    symptom_course: SymptomCourse | None = None
    causes: list[Cause] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    treatment_started: dt.date | None = None
    product: str | CustomProduct | None = None
    preferences: Preferences = Field(default_factory=Preferences)

    @property
    def neurological_symptoms(self) -> list[Symptom]:
        from b12plan.domain.codes import NEUROLOGICAL_SYMPTOMS

        return [s for s in self.symptoms if s in NEUROLOGICAL_SYMPTOMS]


def _field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """`('labs', 0, 'unit')` -> `labs[0] (b12_total).unit`: a lab's test code is named with its index."""
    out = ""
    node: Any = data
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
            if (
                i >= 1
                and loc[i - 1] == "labs"
                and isinstance(node, dict)
                and isinstance(node.get("test"), str)
            ):
                out += f" ({node['test']})"
        else:
            if _is_branch_marker(part):
                continue  # pydantic's union-branch markers are not fields
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


_BRANCH_MARKERS = ("str", "float", "int", "bool", "CustomProduct", "constrained-str", "function-after")


def _is_branch_marker(part: str) -> bool:
    return part in _BRANCH_MARKERS or part.startswith(("literal[", "function-", "constrained-"))


def _problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of the case (check the spelling)"
    if kind == "enum":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{err.get('input')!r} is not a known code; use one of {expected}"
    msg = str(err.get("msg", "is invalid"))
    return msg.removeprefix("Value error, ")


def parse_case(data: Any) -> Case:
    """Parse a decoded JSON/TOML document into a Case, or raise CaseError naming every bad field."""
    if not isinstance(data, dict):
        raise CaseError([FieldProblem("case", "must be an object with at least `patient`")])
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems: list[FieldProblem] = []
        seen: set[str] = set()
        for err in errors:
            loc = tuple(err["loc"])
            path = _field_path(loc, data)
            # A union (number | positive/negative, id | object) reports one error per branch. When a deeper
            # error explains the same field (product.formulation), the shallow branch error says nothing.
            if (
                isinstance(loc[-1], str)
                and _is_branch_marker(loc[-1])
                and any(_field_path(tuple(o["loc"]), data).startswith(path + ".") for o in errors)
            ):
                continue
            if path in seen:
                continue
            seen.add(path)
            problems.append(FieldProblem(path, _problem(dict(err))))
        raise CaseError(problems) from None
