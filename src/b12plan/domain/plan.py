"""The plan (b12plan.plan/1): what b12plan answers for one case.

Plain frozen values. Every assessment value, phase, event and alert names the rule ids that produced it
(`rules`); `Plan.reasons` holds one entry per rule id used, with its source and evidence tag, so any surface
can show footnotes.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from b12plan.domain.codes import (
    AlertLevel,
    Cause,
    EventKind,
    Formulation,
    LabTest,
    Route,
    Stage,
    Status,
)

__all__ = [
    "PLAN_SCHEMA_ID",
    "Alert",
    "Assessment",
    "Event",
    "Expectation",
    "LabReading",
    "Phase",
    "Plan",
    "ProductUse",
    "Reason",
    "Regimen",
    "RulesetRef",
    "Supply",
]

PLAN_SCHEMA_ID = "b12plan.plan/1"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RulesetRef(_Value):
    id: str
    version: str
    title: str


class Reason(_Value):
    """Why: one rule, where it comes from, and how sure we are of the source."""

    rule: str
    source: str = Field(description="URL of the source, or `b12plan design rule`.")
    text: str
    evidence: str = Field(description="P primary, Q quoted by others, D our own design rule.")


class LabReading(_Value):
    """A lab result converted to the unit the rule set reads it in."""

    test: LabTest
    value: float | str
    unit: str | None
    reported: str = Field(description="As the lab reported it, e.g. `150 pmol/L`.")
    date: dt.date | None = None
    interpretation: str | None = None
    rules: list[str] = Field(default_factory=list)


class Assessment(_Value):
    status: Status
    neurological: bool
    anaemia: bool | None
    severe_anaemia: bool
    urgent: bool
    causes: list[Cause]
    lifelong: bool | None
    next_tests: list[LabTest]
    summary: str = ""
    labs: list[LabReading] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="What is missing to decide, in words.")
    rules: dict[str, list[str]] = Field(default_factory=dict, description="Rule ids per assessment field.")


class ProductUse(_Value):
    """The product in hand and how each dose is drawn from it."""

    id: str | None
    name: str
    formulation: Formulation
    form: str
    strength_mcg_per_ml: float | None = None
    strength_mcg: float | None = None
    container_ml: float | None = None
    multi_dose: bool = False
    routes: list[Route] = Field(default_factory=list)
    discard_after_days: int | None = None
    notes: list[str] = Field(default_factory=list)


class Supply(_Value):
    """How many containers the planned doses use over the horizon, and the waste."""

    containers: int
    doses: int
    total_mcg: float
    drawn_ml: float | None = None
    wasted_ml: float | None = None
    notes: list[str] = Field(default_factory=list)


class Phase(_Value):
    stage: Stage
    route: Route
    dose_mcg: float
    volume_ml: float | None
    syringe_units: float | None
    containers_per_dose: int | None = None
    interval_days: float
    times_per_week: int | None = None
    doses: int | None
    until: str | None
    lifelong: bool
    interval_range_days: tuple[int, int] | None = None
    review_after_days: int | None = Field(default=None, description="Open-ended phase: review after days.")
    tablets_per_dose: int | None = None
    description: str = ""
    rules: list[str] = Field(default_factory=list)


class Regimen(_Value):
    formulation: Formulation
    product: ProductUse
    oral_product: ProductUse | None = None
    phases: list[Phase]
    supply: Supply | None = None
    rules: list[str] = Field(default_factory=list)


class Event(_Value):
    date: dt.date
    kind: EventKind
    stage: Stage | None = None
    dose_mcg: float | None = None
    volume_ml: float | None = None
    syringe_units: float | None = None
    route: Route | None = None
    tests: list[LabTest] | None = None
    phase: int | None = Field(default=None, description="Index of the regimen phase of a dose.")
    note: str | None = None
    provisional: bool = False
    rules: list[str] = Field(default_factory=list)


class Alert(_Value):
    code: str
    level: AlertLevel
    message: str
    source: str
    rules: list[str] = Field(default_factory=list)


class Expectation(_Value):
    """What to expect when: a response milestone after the start."""

    after: str
    what: str
    rules: list[str] = Field(default_factory=list)


class Plan(_Value):
    schema_: str = Field(default=PLAN_SCHEMA_ID, alias="schema")
    ruleset: RulesetRef
    generated_for: dt.date = Field(description="The start date the calendar is anchored to.")
    horizon_months: int
    assessment: Assessment
    decision: str = Field(default="", description="The treatment decision in one sentence.")
    regimen: Regimen | None
    events: list[Event]
    alerts: list[Alert]
    expectations: list[Expectation] = Field(default_factory=list)
    red_flags: list[Alert] = Field(default_factory=list, description="Get help the same day if...")
    mistakes: list[Alert] = Field(default_factory=list, description="Common mistakes to avoid.")
    reasons: list[Reason]
    disclaimer: str

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json_dict(self) -> dict[str, object]:
        """The contract's JSON shape (`schema` key, ISO dates)."""
        return self.model_dump(mode="json", by_alias=True)
