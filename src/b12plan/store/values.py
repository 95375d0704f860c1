"""What the store hands out: frozen values, one per stored row, with the row's id and bookkeeping.

Field names are the column names (JSON columns come as text: `plan_json`), so a row converts with
`Value(**row._mapping)`. The clinical meaning of
each field is on the tables in `tables.py`. `PatientFile` is everything stored about one patient.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AuditEntry",
    "PatientFile",
    "PatientInfo",
    "StoredAdministration",
    "StoredLab",
    "StoredPlanVersion",
    "StoredSymptom",
    "StoredUser",
    "StoredVial",
]


@dataclass(frozen=True)
class PatientInfo:
    id: int
    ref: str
    name: str | None
    clinic: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredPlanVersion:
    """A saved plan version. The case and the plan come as JSON text: a caller that needs the plan as a
    value parses it once, straight from text (`Plan.model_validate_json`), with no dict in between."""

    id: int
    patient_id: int
    version: int
    created_at: dt.datetime
    created_by: str
    reason: str | None
    ruleset: str
    case_json: str
    plan_json: str

    @property
    def case(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.case_json)
        return value

    @property
    def plan(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.plan_json)
        return value


@dataclass(frozen=True)
class StoredVial:
    id: int
    patient_id: int
    product_id: str
    lot: str | None
    expiry: dt.date | None
    opened_on: dt.date
    volume_ml: float
    volume_left_ml: float
    discard_on: dt.date
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredAdministration:
    id: int
    patient_id: int
    at: dt.datetime
    dose_mcg: float
    route: str
    volume_ml: float | None
    product_id: str | None
    lot: str | None
    expiry: dt.date | None
    site: str | None
    given_by: str | None
    vial_id: int | None
    recorded_at: dt.datetime


@dataclass(frozen=True)
class StoredLab:
    id: int
    patient_id: int
    taken_on: dt.date
    test: str
    value_num: float | None
    value_text: str | None
    unit: str | None
    upper_limit: float | None
    lower_limit: float | None
    recorded_at: dt.datetime

    @property
    def value(self) -> float | str:
        if self.value_num is not None:
            return self.value_num
        return self.value_text or ""  # the schema holds exactly one of the two


@dataclass(frozen=True)
class StoredSymptom:
    id: int
    patient_id: int
    scored_on: dt.date
    symptom: str
    score: int
    recorded_at: dt.datetime


@dataclass(frozen=True)
class StoredUser:
    """A web and API account. `patient_ref` is the pseudonymous id of a patient's own record; `disabled_at`
    (UTC) is set on an account that may no longer sign in; `sessions_from` (UTC) voids the sessions and
    tokens made before it (set on disabling)."""

    id: int
    username: str
    password_hash: str
    role: str
    clinic: str | None
    patient_id: int | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    sessions_from: dt.datetime | None = None
    patient_ref: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    patient_id: int | None
    entity: str
    entity_id: int | None
    fields: str


@dataclass(frozen=True)
class PatientFile:
    """Everything stored about one patient, each list in time order (plan versions by number)."""

    patient: PatientInfo
    plan_versions: tuple[StoredPlanVersion, ...] = ()
    administrations: tuple[StoredAdministration, ...] = ()
    vials: tuple[StoredVial, ...] = ()
    labs: tuple[StoredLab, ...] = ()
    symptoms: tuple[StoredSymptom, ...] = ()
    audit: tuple[AuditEntry, ...] = field(default=())

    @property
    def latest_plan(self) -> StoredPlanVersion | None:
        return self.plan_versions[-1] if self.plan_versions else None
