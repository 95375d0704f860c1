"""MedicationStatement and MedicationAdministration by ATC, SNOMED CT, RxNorm or ingredient name (the
[[medication]] table of data/codes.toml), and B12 replacement: the one place that decides a record shows B12
given or being taken.

A medicine that means a cause or a condition is read when current or past (a stopped anticoagulant is
noted, not read). B12 itself is kept as a `B12Use` whatever its status; of those, an active or completed
MedicationStatement (an in-progress or completed MedicationAdministration) with a full start date on or
before `as_of` sets the case's `treatment_started` (the earliest), and an active MedicationStatement means
treatment under way (`b12_under_way`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON, NotRead
from b12plan.adapters.fhir.importer.found import Found
from b12plan.adapters.fhir.importer.results import B12Use

# Medicines by status: (read as current, read as past) for each resource type.
_MEDICATION_STATUS = {
    "MedicationStatement": (
        frozenset({"active", "intended", "on-hold", "unknown"}),
        {"completed", "stopped"},
    ),
    "MedicationAdministration": (frozenset({"in-progress"}), {"completed", "stopped"}),
}
# B12 given or being taken: what sets `treatment_started`.
_B12_STARTED = {
    "MedicationStatement": frozenset({"active", "completed"}),
    "MedicationAdministration": frozenset({"in-progress", "completed"}),
}
# B12 being taken now: treatment under way.
_B12_UNDER_WAY = {"MedicationStatement": frozenset({"active"})}


@dataclass(frozen=True)
class B12Treatment:
    """B12 replacement the record shows as under way, with the day it started when the record gives one."""

    references: tuple[str, ...]
    started: dt.date | None


def b12_under_way(uses: Iterable[B12Use]) -> B12Treatment | None:
    """B12 replacement that active MedicationStatements show as under way (`ImportResult.b12`), or None.

    `started` is the earliest start they give, if any (even one after the import's `as_of`).
    """
    active = [u for u in uses if u.status in _B12_UNDER_WAY.get(u.reference.split("/", 1)[0], ())]
    if not active:
        return None
    starts = [u.started for u in active if u.started is not None]
    return B12Treatment(tuple(u.reference for u in active), min(starts) if starts else None)


def _medication_concept(found: Found, r: JSON) -> Any:
    """The medicine's CodeableConcept, from the resource or the Medication it references."""
    ref = str((r.get("medicationReference") or {}).get("reference") or "")
    if not ref:
        return r.get("medicationCodeableConcept")
    contained = {f"#{c.get('id')}": c for c in r.get("contained") or () if c}
    med = contained.get(ref) or found.medications.get(ref.rsplit("/", 1)[-1])
    found.used_medications.add(ref.rsplit("/", 1)[-1])
    if med is None:
        raise NotRead(f"medicationReference {ref} is not in the resources")
    return med.get("code")


def read_medication(found: Found, r: JSON, where: str, kind: str) -> None:
    try:
        concept = _medication_concept(found, r)
    except NotRead as exc:
        found.unknown.append(f"{where}: {exc}")
        return
    codes = found.codes
    meant = codes.find_all(codes.medications, fields.codes_of(concept), fields.words(concept))
    if not meant:
        found.unknown.append(f"{where}: medication {fields.describe(concept)} is not mapped")
        return
    status = r.get("status")
    current, past = _MEDICATION_STATUS[kind]
    for med in meant:
        if med.b12_replacement:
            _read_b12(found, r, where, kind, concept)
        elif status in past and med.condition is not None:
            found.notes.append(f"{where}: {med.id} is {status}; not read as current")
        elif status in current or status in past:
            if med.cause is not None:
                found.add(found.causes, med.cause.value)
            if med.condition is not None:
                found.add(found.conditions, med.condition.value)
        else:
            found.notes.append(f"{where}: {med.id} has status {status!r}; not read")


def _read_b12(found: Found, r: JSON, where: str, kind: str, concept: Any) -> None:
    """B12 already given or being taken: its start is a candidate for the case's `treatment_started`."""
    status = r.get("status")
    text = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start")
    try:
        day = fields.full_day(str(text)) if text else None
    except ValueError:
        day, malformed = None, True
    else:
        malformed = False
    found.b12.append(B12Use(where, str(status) if status is not None else None, day))
    what = f"B12 replacement ({(concept or {}).get('text') or fields.describe(concept)}, {status})"
    if status not in _B12_STARTED[kind]:
        found.notes.append(f"{where}: {what}: treatment_started is not set from this status")
        return
    if not text:
        found.notes.append(f"{where}: {what} has no start date; treatment_started is not set from it")
        return
    if malformed:
        found.unknown.append(f"{where}: start {text!r} is not a FHIR date; not read")
        return
    if day is None or day > found.as_of:
        why = "is partial" if day is None else f"is after {found.as_of}"
        found.notes.append(f"{where}: {what}: start {text} {why}; treatment_started is not set from it")
        return
    found.b12_starts.append(day)
    found.notes.append(f"{where}: {what} from {day}")
