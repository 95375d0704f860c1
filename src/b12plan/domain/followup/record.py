"""The treatment record: what was planned (plan versions) and what happened (doses, labs, symptoms, vials).

Plain frozen values that check themselves (a dose is positive, a symptom score is 0-10) and know nothing of
where they are stored. The record is read "as of" a day: entries after that day are not yet known, and the
plan in force is the latest version made by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from b12plan.domain.codes import LabTest, Route, Symptom
from b12plan.domain.plan import Plan

__all__ = [
    "Administration",
    "LabEntry",
    "PlanVersion",
    "SymptomEntry",
    "TreatmentRecord",
    "VialInUse",
    "current_version",
    "injections",
    "later_than",
    "version_at",
]

Positive = Annotated[float, Field(gt=0)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Administration(_Value):
    """One dose given: when, how much (micrograms), how, and from what. `volume_ml` is the volume drawn."""

    at: dt.datetime
    dose_mcg: Positive
    route: Route
    volume_ml: Positive | None = None
    site: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    product_id: str | None = None
    given_by: str | None = None
    vial_id: int | None = None

    @property
    def day(self) -> dt.date:
        return self.at.date()

    @property
    def injected(self) -> bool:
        return self.route is not Route.ORAL


class LabEntry(_Value):
    """A lab result taken during treatment; `value` is `positive`/`negative` for IFAB, else a number."""

    date: dt.date
    test: LabTest
    value: float | str
    unit: str | None = None


class SymptomEntry(_Value):
    """A diary score for one symptom: 0 (none) to 10 (worst)."""

    date: dt.date
    symptom: Symptom
    score: Annotated[int, Field(ge=0, le=10)]


class PlanVersion(_Value):
    """One version of the plan; a new version (new dose, interval or course) says why in `reason`."""

    version: Annotated[int, Field(ge=1)]
    created_at: dt.datetime
    plan: Plan
    reason: str | None = None


class VialInUse(_Value):
    """An opened multi-dose vial: first puncture on `opened`, discarded `discard_after_days` later."""

    id: int
    product_id: str | None = None
    opened: dt.date
    volume_ml: Positive
    volume_left_ml: Annotated[float, Field(ge=0)]
    discard_after_days: Annotated[int, Field(gt=0)] | None = None


class TreatmentRecord(_Value):
    """Everything known about one person's treatment, in any order."""

    plan_versions: Sequence[PlanVersion]
    administrations: Sequence[Administration] = ()
    labs: Sequence[LabEntry] = ()
    symptoms: Sequence[SymptomEntry] = ()
    vials: Sequence[VialInUse] = ()

    @model_validator(mode="after")
    def _versions_unique(self) -> TreatmentRecord:
        numbers = [v.version for v in self.plan_versions]
        if len(numbers) != len(set(numbers)):
            raise ValueError("plan_versions: a version number appears twice")
        return self


def version_at(record: TreatmentRecord, day: dt.date) -> PlanVersion | None:
    """The plan version in force on `day`: the highest version made by then, else the first one made."""
    made = [v for v in record.plan_versions if v.created_at.date() <= day]
    if made:
        return max(made, key=lambda v: v.version)
    return min(record.plan_versions, key=lambda v: v.version, default=None)


def current_version(record: TreatmentRecord, on: dt.date | None = None) -> PlanVersion | None:
    """The current plan: the latest version (made by `on`, when given)."""
    if on is not None:
        return version_at(record, on)
    return max(record.plan_versions, key=lambda v: v.version, default=None)


def injections(record: TreatmentRecord, on: dt.date | None = None) -> list[Administration]:
    """Injected doses (not oral) given by `on`, in time order."""
    given = [a for a in record.administrations if a.injected and (on is None or a.day <= on)]
    return sorted(given, key=lambda a: _naive(a.at))


def later_than(a: dt.datetime, b: dt.datetime) -> bool:
    """Whether `a` is later than `b`. Two aware times compare as instants; a naive one is read as wall-clock
    time (the record may mix aware and naive times, which Python refuses to compare)."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        return _naive(a) > _naive(b)
    return a > b


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=None)
