"""What the import of one patient has read so far, and what it could not read: filled by the reader of
each resource kind, turned into the case dict at the end."""

from __future__ import annotations

import datetime as dt

from b12plan.adapters.fhir.codes import CodeTables
from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON
from b12plan.adapters.fhir.importer.results import B12Use


class Found:
    def __init__(self, codes: CodeTables, as_of: dt.date, patient_id: str | None) -> None:
        self.codes, self.as_of, self.patient_id = codes, as_of, patient_id
        self.patient: JSON = {}
        self.patient_read = False
        self.labs: list[JSON] = []
        self.causes: list[str] = []
        self.conditions: list[str] = []
        self.b12: list[B12Use] = []
        self.b12_starts: list[dt.date] = []
        self.unknown: list[str] = []
        self.notes: list[str] = []
        self.medications: dict[str, JSON] = {}
        self.used_medications: set[str] = set()

    def add(self, target: list[str], code: str) -> None:
        if code not in target:
            target.append(code)

    def other_patient(self, resource: JSON) -> str | None:
        """The reference when `resource` belongs to a patient other than the one read."""
        ref, pid = fields.reference(resource), self.patient_id
        if not ref or pid is None:
            return None
        return None if fields.patient_id(ref) == pid else ref

    def case(self) -> JSON:
        case: JSON = {
            "patient": self.patient,
            "labs": self.labs,
            "causes": self.causes,
            "conditions": self.conditions,
        }
        if self.b12_starts:
            first = min(self.b12_starts)
            case["treatment_started"] = first.isoformat()
            self.notes.append(
                f"treatment_started {first}: the earliest B12 replacement start read; results taken on or "
                "after it are not used to diagnose"
            )
        return case
