"""Resources into cases: each resource to the reader of its kind, one patient's resources into one case
(`bundle_to_case`), and a file of several patients into a case each (`bundle_to_cases`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from b12plan.adapters.fhir.codes import load_codes
from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON
from b12plan.adapters.fhir.importer.findings import read_allergy, read_finding
from b12plan.adapters.fhir.importer.found import Found
from b12plan.adapters.fhir.importer.medicines import read_medication
from b12plan.adapters.fhir.importer.observations import read_observation
from b12plan.adapters.fhir.importer.patient import read_patient
from b12plan.adapters.fhir.importer.results import ImportBatch, ImportResult
from b12plan.adapters.fhir.shapes import shape_problem
from b12plan.errors import FieldProblem, UserError


def _read(found: Found, r: JSON) -> None:
    kind, where = r.get("resourceType"), fields.where(r)
    problem = shape_problem(r)
    if problem is not None:
        found.unknown.append(f"{where}: {problem} (not FHIR R4 JSON); not read")
        return
    other = found.other_patient(r) if kind != "Patient" else None
    if other:
        found.unknown.append(f"{where}: belongs to {other}, not Patient/{found.patient_id}; not read")
    elif kind == "Patient":
        read_patient(found, r, where)
    elif kind == "Observation":
        read_observation(found, r, where)
    elif kind in ("Condition", "Procedure"):
        read_finding(found, r, where)
    elif kind in ("MedicationStatement", "MedicationAdministration"):
        read_medication(found, r, where, str(kind))
    elif kind == "AllergyIntolerance":
        read_allergy(found, r, where)
    elif kind == "Medication":
        pass  # read through the MedicationStatement that references it
    elif kind == "OperationOutcome":
        issues = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in r.get("issue") or () if i)
        found.unknown.append(f"{where}: export error: {issues}")
    else:
        found.unknown.append(f"{where}: resource type not read")


def bundle_to_case(
    resources: Iterable[Mapping[str, Any]],
    *,
    as_of: dt.date,
    patient_id: str | None = None,
) -> ImportResult:
    """Read FHIR R4 resources of one patient into a case dict (`patient`, `labs`, `causes`, `conditions`,
    and `treatment_started` when B12 replacement has begun).

    `as_of` is the date the age is counted at (the caller's today: adapters read no clock). When the
    resources hold more than one patient, `patient_id` chooses whose are read; the others are reported,
    never merged. Malformed resources are reported, never raised: only a choice of patient is a UserError.
    """
    items = [dict(r) for r in resources]
    people = {r["id"] for r in items if r.get("resourceType") == "Patient" and isinstance(r.get("id"), str)}
    people |= {pid for r in items if r.get("resourceType") != "Patient" and (pid := fields.subject_id(r))}
    if patient_id is None and len(people) > 1:
        raise UserError(
            [FieldProblem("patient_id", f"the resources hold {len(people)} patients; choose one")]
        )
    chosen = patient_id or next(iter(people), None)
    found = Found(load_codes(), as_of, chosen)
    found.medications = {
        r["id"]: r
        for r in items
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str) and shape_problem(r) is None
    }
    for resource in sorted(items, key=lambda r: r.get("resourceType") != "Patient"):
        _read(found, resource)
    for mid in sorted(found.medications.keys() - found.used_medications):
        found.unknown.append(f"Medication/{mid}: not referenced by a MedicationStatement; not read")
    if "age" not in found.patient:
        found.notes.append("no Patient birthDate: patient.age must be added by hand")
    case = found.case()
    return ImportResult(case, found.unknown, found.notes, tuple(found.b12))


def _medication_ids(resource: Mapping[str, Any]) -> set[str]:
    ref = resource.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        return {ref["reference"].rsplit("/", 1)[-1]}
    return set()


def _owner(resource: Mapping[str, Any]) -> str | None:
    """The id of the patient a resource is about: a Patient's own id, else its subject's."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    return fields.subject_id(resource)


def bundle_to_cases(resources: Iterable[Mapping[str, Any]], *, as_of: dt.date) -> ImportBatch:
    """Read every patient of a file (a Bulk Data export, a Bundle of several people) on their own.

    Each patient gets their Patient resource, the resources whose subject (or patient) is them, and the
    Medications those reference; `bundle_to_case` reads each group. With one patient, resources with no
    subject are theirs (as in `bundle_to_case`); with several, they belong to no one and are reported in
    `ImportBatch.unknown` with the export's errors (OperationOutcome).
    """
    items = [dict(r) for r in resources]
    ids = list(dict.fromkeys(pid for r in items if (pid := _owner(r)) is not None))
    if len(ids) == 1:
        return ImportBatch({ids[0]: bundle_to_case(items, as_of=as_of, patient_id=ids[0])}, [])
    groups: dict[str, list[JSON]] = {pid: [] for pid in ids}
    medications = {
        r["id"]: r for r in items if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }
    orphans: list[JSON] = []
    for r in items:
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str) and r["id"] in medications:
            continue
        pid = _owner(r)
        (groups[pid] if pid is not None else orphans).append(r)
    used: set[str] = set()
    for group in groups.values():
        wanted = set().union(*(_medication_ids(r) for r in group)) & medications.keys()
        used |= wanted
        group.extend(medications[m] for m in sorted(wanted))
    found = Found(load_codes(), as_of, None)
    for r in orphans:
        if r.get("resourceType") == "OperationOutcome":
            _read(found, r)
        else:
            whose = f"none of the {len(ids)} patients read" if ids else "no patient (no Patient, no subject)"
            found.unknown.append(f"{fields.where(r)}: belongs to {whose}; not read")
    for mid in sorted(medications.keys() - used):
        found.unknown.append(f"Medication/{mid}: not referenced by a MedicationStatement; not read")
    patients = {pid: bundle_to_case(group, as_of=as_of, patient_id=pid) for pid, group in groups.items()}
    return ImportBatch(patients, found.unknown)
