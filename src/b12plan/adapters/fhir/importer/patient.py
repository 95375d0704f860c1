"""The Patient resource: birthDate -> age at `as_of` (the youngest possible when partial), gender -> sex."""

from __future__ import annotations

from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON
from b12plan.adapters.fhir.importer.found import Found


def read_patient(found: Found, r: JSON, where: str) -> None:
    mine = found.patient_id is None or r.get("id") == found.patient_id
    if not mine or found.patient_read:
        found.unknown.append(f"{where}: not the patient read (Patient/{found.patient_id}); not read")
        return
    found.patient_read = True
    birth, gender = r.get("birthDate"), r.get("gender")
    try:
        age, partial = fields.age(str(birth), found.as_of) if birth else (None, False)
    except ValueError:
        age, partial = None, False
    if birth and (age is None or age < 0):
        found.unknown.append(f"{where}: birthDate {birth!r} is not a date before {found.as_of}")
    elif age is not None:
        found.patient["age"] = age
        if partial:
            found.notes.append(f"{where}: birthDate {birth} is partial; age {age} is the youngest possible")
    if not birth:
        found.unknown.append(f"{where}: no birthDate; patient.age must be given")
    if gender in ("female", "male", "other"):
        found.patient["sex"] = gender
    elif gender:
        found.notes.append(f"{where}: gender {gender!r}; sex left out")
