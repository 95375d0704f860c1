"""The JSON API's request and response bodies (the plan and the case are the contract's own schemas:
`b12plan.schemas`, published under components `Case` and `Plan`).

Dates are ISO 8601. Every time carries its UTC offset (RFC 3339 `date-time`): clinical times (a dose's
`at`, a plan version's `created_at`), which the record keeps as local wall-clock times (docs/store.md), with
the server's offset on that day (`2026-07-05T10:00:00+01:00` in London); bookkeeping times (a patient's
`created_at`), which it keeps in UTC, with `Z`. A time sent without an offset is read as the server's local
time. Doses are micrograms, volumes millilitres; lab values carry their unit.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from b12plan.domain.followup import DueDose
from b12plan.services.accounts import Actor
from b12plan.store import (
    PatientInfo,
    StoredAdministration,
    StoredLab,
    StoredPlanVersion,
    StoredSymptom,
    StoredVial,
)

__all__ = [
    "AdministrationIn",
    "AdministrationOut",
    "DueOut",
    "GivenOut",
    "LabIn",
    "LabOut",
    "MeOut",
    "PasswordChangeIn",
    "PasswordIn",
    "PatientDetail",
    "PatientIn",
    "PatientOut",
    "PlanVersionIn",
    "PlanVersionOut",
    "PlanVersionSummary",
    "SymptomIn",
    "SymptomOut",
    "TokenOut",
    "UserIn",
    "UserOut",
    "VialIn",
    "VialOut",
]

Text64 = Annotated[str, Field(max_length=64)]
Text200 = Annotated[str, Field(max_length=200)]


def _with_local_offset(moment: dt.datetime) -> dt.datetime:
    """A local wall-clock time as stored (naive), with the server's UTC offset at that moment."""
    return moment if moment.tzinfo else moment.astimezone()


def _as_utc(moment: dt.datetime) -> dt.datetime:
    """A UTC time as stored (naive), marked as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


LocalTime = Annotated[dt.datetime, AfterValidator(_with_local_offset)]
"""A clinical time (local wall-clock in the record), written with the server's UTC offset."""
UtcTime = Annotated[dt.datetime, AfterValidator(_as_utc)]
"""A bookkeeping time (UTC in the record), written with `Z`."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class MeOut(BaseModel):
    username: str
    role: Literal["admin", "clinician", "patient"]
    clinic: str | None
    patient: str | None = Field(description="A patient account's own record (its id).")


class UserOut(MeOut):
    """An account (never its password)."""

    disabled: bool = Field(description="A disabled account cannot sign in.")

    @classmethod
    def of(cls, actor: Actor) -> UserOut:
        return cls(
            username=actor.username,
            role=actor.role.value,
            clinic=actor.clinic,
            patient=actor.patient_ref,
            disabled=actor.disabled,
        )


class UserIn(_In):
    """A new account, as `b12plan user add`: a clinician needs `clinic`, a patient `patient`."""

    username: Annotated[str, Field(max_length=100)]
    password: str = Field(description="At least 12 characters.")
    role: Annotated[str, Field(max_length=16, description="admin, clinician or patient")]
    clinic: Text200 | None = Field(default=None, description="A clinician's clinic.")
    patient: Text64 | None = Field(default=None, description="A patient account's own record (its id).")


class PasswordIn(_In):
    """A new password set by an admin (at least 12 characters)."""

    password: str


class PasswordChangeIn(_In):
    """Your own new password: the current one is required."""

    current_password: str
    new_password: str = Field(description="At least 12 characters, not the current one.")


class PatientIn(_In):
    id: Text64 | None = Field(default=None, description="Pseudonymous id; generated when left out.")
    name: Text200 | None = None
    clinic: Text200 | None = Field(default=None, description="A clinician's own clinic when left out.")


class PatientOut(BaseModel):
    id: str
    name: str | None
    clinic: str | None
    created_at: UtcTime = Field(description="When the patient was added.")

    @classmethod
    def of(cls, p: PatientInfo) -> PatientOut:
        return cls(id=p.ref, name=p.name, clinic=p.clinic, created_at=p.created_at)


class DueOut(BaseModel):
    """The next planned injection: due day, what to give, and how late it is today."""

    patient: str
    due: dt.date
    status: Literal["upcoming", "due", "overdue"]
    days_late: int
    number: int
    stage: str
    dose_mcg: float
    volume_ml: float | None
    syringe_units: float | None
    route: str
    provisional: bool
    rules: list[str]

    @classmethod
    def of(cls, ref: str, due: DueDose) -> DueOut:
        return cls(
            patient=ref,
            due=due.due,
            status=due.status,
            days_late=due.days_late,
            number=due.number,
            stage=due.stage.value,
            dose_mcg=due.dose_mcg,
            volume_ml=due.volume_ml,
            syringe_units=due.syringe_units,
            route=due.route.value,
            provisional=due.provisional,
            rules=due.rules,
        )


class PlanVersionSummary(BaseModel):
    version: int
    created_at: LocalTime = Field(description="When saved: the plan in force from then.")
    created_by: str
    reason: str | None
    ruleset: str

    @classmethod
    def of(cls, v: StoredPlanVersion) -> PlanVersionSummary:
        return cls.model_validate(v, from_attributes=True)


class PlanVersionOut(PlanVersionSummary):
    case: dict[str, Any] = Field(description="The case (b12plan.case/1) the plan was made from.")
    plan: dict[str, Any] = Field(description="The plan (b12plan.plan/1).")

    @classmethod
    def full(cls, v: StoredPlanVersion) -> PlanVersionOut:
        return cls(**PlanVersionSummary.of(v).model_dump(), case=v.case, plan=v.plan)


class PlanVersionIn(_In):
    case: dict[str, Any] = Field(description="A case (b12plan.case/1), as for POST /api/plan.")
    reason: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="Why the plan changed: needed for every version after the first."
    )


class PatientDetail(BaseModel):
    patient: PatientOut
    plan_versions: list[PlanVersionSummary]
    next_due: DueOut | None


class AdministrationIn(_In):
    at: dt.datetime | None = Field(default=None, description="When given (default now); not in the future.")
    dose: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="e.g. `1000 mcg` or `1 mg` (default: the dose due)."
    )
    route: Annotated[str, Field(max_length=8)] | None = Field(default=None, description="IM, SC or oral.")
    site: Text64 | None = Field(default=None, description="An injection site id, e.g. `deltoid-left`.")
    lot: Text64 | None = None
    expiry: dt.date | None = None
    vial_id: int | None = None
    product_id: Text64 | None = None


class AdministrationOut(BaseModel):
    id: int
    at: LocalTime
    dose_mcg: float
    route: str
    volume_ml: float | None
    product_id: str | None
    lot: str | None
    expiry: dt.date | None
    site: str | None
    given_by: str | None
    vial_id: int | None

    @classmethod
    def of(cls, a: StoredAdministration) -> AdministrationOut:
        return cls.model_validate(a, from_attributes=True)


class GivenOut(BaseModel):
    id: int
    at: LocalTime
    dose_mcg: float
    route: str
    volume_ml: float | None
    site: str | None
    given_by: str | None
    vial_left_ml: float | None
    next_site: str | None = Field(description="The site to use next (rotation).")


class LabIn(_In):
    test: Annotated[str, Field(max_length=32)] = Field(description="A test code or its LOINC code.")
    value: float | Annotated[str, Field(max_length=32)] = Field(description="A number, or positive/negative.")
    unit: Annotated[str, Field(max_length=16)] | None = None
    date: dt.date | None = None
    upper_limit: float | None = None
    lower_limit: float | None = None


class LabOut(BaseModel):
    id: int | None = Field(description="The stored entry's id (in lists; null in the answer to a POST).")
    date: dt.date
    test: str
    value: float | str
    unit: str | None
    upper_limit: float | None
    lower_limit: float | None

    @classmethod
    def of(cls, lab: StoredLab) -> LabOut:
        return cls(
            id=lab.id,
            date=lab.taken_on,
            test=lab.test,
            value=lab.value,
            unit=lab.unit,
            upper_limit=lab.upper_limit,
            lower_limit=lab.lower_limit,
        )


class SymptomIn(_In):
    symptom: Annotated[str, Field(max_length=32)]
    score: int = Field(description="0 (none) to 10 (worst).")
    date: dt.date | None = None


class SymptomOut(BaseModel):
    id: int | None = Field(description="The stored entry's id (in lists; null in the answer to a POST).")
    date: dt.date
    symptom: str
    score: int

    @classmethod
    def of(cls, s: StoredSymptom) -> SymptomOut:
        return cls(id=s.id, date=s.scored_on, symptom=s.symptom, score=s.score)


class VialIn(_In):
    product_id: Text64 | None = Field(
        default=None, description="A multi-dose vial from the catalogue (default: the plan's product)."
    )
    opened: dt.date | None = Field(default=None, description="Day of first puncture (default: today).")
    lot: Text64 | None = None
    expiry: dt.date | None = Field(default=None, description="The expiry date on the label.")


class VialOut(BaseModel):
    """A multi-dose vial opened for one patient: what is left in it and the first day it may not be used."""

    id: int
    product_id: str
    lot: str | None
    expiry: dt.date | None
    opened_on: dt.date
    volume_ml: float
    volume_left_ml: float
    discard_on: dt.date = Field(description="The first day the vial may no longer be used.")

    @classmethod
    def of(cls, v: StoredVial) -> VialOut:
        return cls.model_validate(v, from_attributes=True)
