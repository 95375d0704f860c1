"""FHIR R4 resources (a Bundle, or Bulk Data NDJSON) into a case dict shaped like b12plan.case/1.

What is read: Patient (birthDate -> age at `as_of`, gender -> sex); Observation by LOINC (domain
LOINC_ALIASES) with its UCUM unit, reference range and date; Condition and Procedure by the finding table of
data/codes.toml (cause, condition or pregnancy); MedicationStatement by ATC, SNOMED CT or ingredient name
(cause or condition). Nothing is dropped silently: every resource or code not understood is named in
`ImportResult.unknown` (type/id and code); what was understood but deliberately left out (a refuted
diagnosis, a stopped anticoagulant) is named in `ImportResult.notes`.

The result is a plain dict for `b12plan.domain.case.parse_case`, which does the strict checking; domain
types never see FHIR. Resources of another patient are never merged: pass `patient_id` to choose one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from b12plan.adapters.fhir.codes import CodeTables, load_codes
from b12plan.domain import units
from b12plan.domain.codes import LOINC_ALIASES, LabTest
from b12plan.errors import FieldProblem, UserError

__all__ = ["ImportResult", "bundle_to_case"]

JSON = dict[str, Any]
_OBSERVATION_READ = frozenset({"final", "amended", "corrected", "preliminary"})
_CURRENT_MEDICATION = frozenset({"active", "intended", "on-hold", "unknown"})
_PAST_MEDICATION = frozenset({"completed", "stopped"})
_INACTIVE_CONDITION = frozenset({"inactive", "resolved"})


class _NotRead(Exception):
    """A resource understood well enough to say why it cannot be read."""


@dataclass(frozen=True)
class ImportResult:
    """`case`: a dict for `parse_case`; `unknown`: what was not understood (type/id: code and why);
    `notes`: what was understood but left out on purpose, or approximated."""

    case: JSON
    unknown: list[str]
    notes: list[str] = field(default_factory=list)


def _codings(concept: Any) -> list[JSON]:
    return [c for c in (concept or {}).get("coding") or () if isinstance(c, dict)]


def _describe(concept: Any) -> str:
    """`system|code (display)` of each coding, for the unknown list."""
    parts = [
        f"{c.get('system', '?')}|{c.get('code', '?')}" + (f" ({c['display']})" if c.get("display") else "")
        for c in _codings(concept)
    ]
    text = (concept or {}).get("text")
    return ", ".join(parts) or (f"text {text!r}" if text else "no code")


def _age(birth: str, as_of: dt.date) -> tuple[int, bool]:
    """Whole years at `as_of`, and whether birthDate was partial (then the youngest possible age)."""
    parts = [int(p) for p in birth[:10].split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else 12
    born = dt.date(year, month, parts[2] if len(parts) > 2 else calendar.monthrange(year, month)[1])
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    return age, len(parts) < 3


class _Reader:
    def __init__(self, codes: CodeTables, as_of: dt.date, patient_id: str | None) -> None:
        self.codes, self.as_of, self.patient_id = codes, as_of, patient_id
        self.patient: JSON = {}
        self.labs: list[JSON] = []
        self.causes: list[str] = []
        self.conditions: list[str] = []
        self.unknown: list[str] = []
        self.notes: list[str] = []
        self.medications: dict[str, JSON] = {}
        self.used_medications: set[str] = set()

    def add(self, target: list[str], code: str) -> None:
        if code not in target:
            target.append(code)

    def other_patient(self, resource: JSON) -> str | None:
        """The reference when `resource` belongs to a patient other than the one read."""
        ref = str((resource.get("subject") or resource.get("patient") or {}).get("reference", ""))
        pid = self.patient_id
        if not ref or pid is None:
            return None
        mine = {f"Patient/{pid}", f"urn:uuid:{pid}"}
        return None if ref in mine or ref.endswith(f"/Patient/{pid}") else ref

    def read(self, r: JSON) -> None:
        kind, where = r.get("resourceType"), f"{r.get('resourceType')}/{r.get('id', '?')}"
        other = self.other_patient(r) if kind != "Patient" else None
        if other:
            self.unknown.append(f"{where}: belongs to {other}, not Patient/{self.patient_id}; not read")
        elif kind == "Patient":
            self.read_patient(r, where)
        elif kind == "Observation":
            self.read_observation(r, where)
        elif kind in ("Condition", "Procedure"):
            self.read_finding(r, where)
        elif kind == "MedicationStatement":
            self.read_medication(r, where)
        elif kind == "Medication":
            pass  # read through the MedicationStatement that references it
        elif kind == "OperationOutcome":
            issues = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in r.get("issue") or ())
            self.unknown.append(f"{where}: export error: {issues}")
        else:
            self.unknown.append(f"{where}: resource type not read")

    def read_patient(self, r: JSON, where: str) -> None:
        if str(r.get("id")) != self.patient_id or self.patient:
            self.unknown.append(f"{where}: not the patient read (Patient/{self.patient_id}); not read")
            return
        birth, gender = r.get("birthDate"), r.get("gender")
        try:
            age, partial = _age(str(birth), self.as_of) if birth else (None, False)
        except ValueError:
            age, partial = None, False
        if birth and (age is None or age < 0):
            self.unknown.append(f"{where}: birthDate {birth!r} is not a date before {self.as_of}")
        elif age is not None:
            self.patient["age"] = age
            if partial:
                self.notes.append(
                    f"{where}: birthDate {birth} is partial; age {age} is the youngest possible"
                )
        if not birth:
            self.unknown.append(f"{where}: no birthDate; patient.age must be given")
        if gender in ("female", "male", "other"):
            self.patient["sex"] = gender
        elif gender:
            self.notes.append(f"{where}: gender {gender!r}; sex left out")

    def read_observation(self, r: JSON, where: str) -> None:
        loinc = self.codes.uris["loinc"]
        tests = [
            LOINC_ALIASES[c["code"]]
            for c in _codings(r.get("code"))
            if c.get("system") == loinc and c.get("code") in LOINC_ALIASES
        ]
        if not tests:
            self.unknown.append(f"{where}: code {_describe(r.get('code'))} is not a test we read")
            return
        test = tests[0]
        where = f"{where} ({test.value})"
        if r.get("status") not in _OBSERVATION_READ:
            self.notes.append(f"{where}: status {r.get('status')!r}; not read")
            return
        extra: JSON = {}
        try:
            value = self.ifab_value(r) if test is LabTest.IFAB else self.quantity(r, test, extra)
        except _NotRead as exc:
            self.unknown.append(f"{where}: {exc}")
            return
        if value is None:
            reason = _describe(r["dataAbsentReason"]) if r.get("dataAbsentReason") else "no value we can read"
            self.unknown.append(f"{where}: {reason}")
            return
        lab: JSON = {"test": test.value, "value": value, **extra}
        period = r.get("effectivePeriod") or {}
        date = r.get("effectiveDateTime") or period.get("start") or r.get("effectiveInstant")
        if date:
            lab["date"] = str(date)[:10]
        self.labs.append(lab)

    def quantity(self, r: JSON, test: LabTest, lab: JSON) -> float | None:
        """The value of a valueQuantity, its UCUM unit (code, else unit text) and the reference range."""
        q = r.get("valueQuantity") or {}
        value = q.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        ucum = q.get("system") == self.codes.uris["ucum"] and q.get("code")
        unit = q.get("code") if ucum else q.get("unit")
        if test is not LabTest.INR:
            try:
                units.check_unit(test, unit)
            except units.UnitProblem as exc:
                raise _NotRead(f"unit {unit!r}: {exc}") from None
            lab["unit"] = unit
        ranges = [x for x in r.get("referenceRange") or () if isinstance(x, dict)]
        if ranges:
            high, low = (ranges[0].get("high") or {}).get("value"), (ranges[0].get("low") or {}).get("value")
            if high is not None:
                lab["upper_limit"] = high
            if low is not None:
                lab["lower_limit"] = low
        return float(value)

    def ifab_value(self, r: JSON) -> str | None:
        """positive/negative from valueCodeableConcept, else valueString, else the interpretation."""
        tables = self.codes.qualitative
        coded = _codings(r.get("valueCodeableConcept"))
        for value, table in tables.items():
            if any(
                self.codes.matches(c, x.get("system"), x.get("code")) for c in table.codings for x in coded
            ):
                return value
        for value, table in tables.items():
            if str(r.get("valueString", "")).strip().lower() in table.words:
                return value
        flags = [
            str(x.get("code"))
            for concept in r.get("interpretation") or ()
            for x in _codings(concept)
            if x.get("system") == self.codes.uris["v3_interpretation"]
        ]
        for value, table in tables.items():
            if any(flag in table.interpretation for flag in flags):
                return value
        return None

    def read_finding(self, r: JSON, where: str) -> None:
        found = [
            f
            for c in _codings(r.get("code"))
            if (f := self.codes.find_finding(c.get("system"), c.get("code")))
        ]
        if not found:
            self.unknown.append(f"{where}: code {_describe(r.get('code'))} is not mapped")
            return
        finding = found[0]
        verification = {str(c.get("code")) for c in _codings(r.get("verificationStatus"))}
        clinical = {str(c.get("code")) for c in _codings(r.get("clinicalStatus"))}
        if verification & {"refuted", "entered-in-error"} or r.get("status") in (
            "entered-in-error",
            "not-done",
        ):
            self.notes.append(f"{where}: {finding.coding.display} is refuted or in error; not read")
        elif finding.cause is not None:
            self.add(self.causes, finding.cause.value)
        elif clinical & _INACTIVE_CONDITION:
            self.notes.append(f"{where}: {finding.coding.display} is {'/'.join(sorted(clinical))}; not read")
        elif finding.condition is not None:
            self.add(self.conditions, finding.condition.value)
        elif finding.pregnant:
            self.patient["pregnant"] = True

    def read_medication(self, r: JSON, where: str) -> None:
        concept = r.get("medicationCodeableConcept")
        ref = str((r.get("medicationReference") or {}).get("reference", ""))
        if ref:
            contained = {f"#{c.get('id')}": c for c in r.get("contained") or ()}
            med = contained.get(ref) or self.medications.get(ref.rsplit("/", 1)[-1])
            self.used_medications.add(ref.rsplit("/", 1)[-1])
            concept = (med or {}).get("code")
            if med is None:
                self.unknown.append(f"{where}: medicationReference {ref} is not in the resources")
                return
        codings = _codings(concept)
        text = " ".join([str((concept or {}).get("text", ""))] + [str(c.get("display", "")) for c in codings])
        found = self.codes.find_medication([(c.get("system"), c.get("code")) for c in codings], text.lower())
        if found is None:
            self.unknown.append(f"{where}: medication {_describe(concept)} is not mapped")
            return
        status = r.get("status")
        if status in _PAST_MEDICATION and found.condition is not None:
            self.notes.append(f"{where}: {found.id} is {status}; not read as current")
        elif status in _CURRENT_MEDICATION or status in _PAST_MEDICATION:
            if found.cause is not None:
                self.add(self.causes, found.cause.value)
            if found.condition is not None:
                self.add(self.conditions, found.condition.value)
        else:
            self.notes.append(f"{where}: {found.id} has status {status!r}; not read")


def _subject_id(resource: Mapping[str, Any]) -> str | None:
    """The patient id a resource points at (`Patient/1`, `.../Patient/1` or `urn:uuid:1` -> `1`)."""
    ref = str((resource.get("subject") or resource.get("patient") or {}).get("reference", ""))
    if not ref.startswith(("Patient/", "urn:uuid:")) and "/Patient/" not in ref:
        return None
    return ref.rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def bundle_to_case(
    resources: Iterable[Mapping[str, Any]],
    *,
    as_of: dt.date,
    patient_id: str | None = None,
) -> ImportResult:
    """Read FHIR R4 resources of one patient into a case dict (`patient`, `labs`, `causes`, `conditions`).

    `as_of` is the date the age is counted at (the caller's today: adapters read no clock). When the
    resources hold more than one patient, `patient_id` chooses whose are read; the others are reported,
    never merged.
    """
    items = [dict(r) for r in resources]
    people = {str(r.get("id")) for r in items if r.get("resourceType") == "Patient"}
    people |= {pid for r in items if r.get("resourceType") != "Patient" and (pid := _subject_id(r))}
    if patient_id is None and len(people) > 1:
        raise UserError(
            [FieldProblem("patient_id", f"the resources hold {len(people)} patients; choose one")]
        )
    chosen = patient_id or next(iter(people), None)
    reader = _Reader(load_codes(), as_of, chosen)
    reader.medications = {str(r.get("id")): r for r in items if r.get("resourceType") == "Medication"}
    for resource in sorted(items, key=lambda r: r.get("resourceType") != "Patient"):
        reader.read(resource)
    for mid in reader.medications.keys() - reader.used_medications:
        reader.unknown.append(f"Medication/{mid}: not referenced by a MedicationStatement; not read")
    if "age" not in reader.patient:
        reader.notes.append("no Patient birthDate: patient.age must be added by hand")
    case = {
        "patient": reader.patient,
        "labs": reader.labs,
        "causes": reader.causes,
        "conditions": reader.conditions,
    }
    return ImportResult(case, reader.unknown, reader.notes)
