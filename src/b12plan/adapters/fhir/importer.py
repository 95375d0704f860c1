"""FHIR R4 resources (a Bundle, or Bulk Data NDJSON) into a case dict shaped like b12plan.case/1.

What is read: Patient (birthDate -> age at `as_of`, gender -> sex); Observation by LOINC (domain
LOINC_ALIASES) with its UCUM unit, reference range and date; Condition and Procedure by the finding table of
data/codes.toml (cause, condition or pregnancy); MedicationStatement and MedicationAdministration by ATC,
SNOMED CT, RxNorm or ingredient name (cause or condition; B12 itself gives `treatment_started`, the
earliest start of one active or completed); AllergyIntolerance by substance (cobalt or B12 -> condition).

Nothing is dropped silently: every resource or code not understood is named in `ImportResult.unknown`
(type/id, the field and why); what was understood but deliberately left out (a refuted diagnosis, a stopped
anticoagulant) or approximated is named in `ImportResult.notes`. In particular:
- a field of the wrong JSON type (`"code": "2132-9"`) leaves the whole resource out (`shapes.py`);
- a censored result (`valueQuantity.comparator`, e.g. `<150 pg/mL`) is never read as if it were exact:
  it is left out of the case and reported in `unknown` with its comparator, for a person to judge;
- a reference range in another unit than the result is left out (the limits would be misread).

The result is a plain dict for `b12plan.domain.case.parse_case`, which does the strict checking; domain
types never see FHIR. Resources of another patient are never merged: `bundle_to_case` reads one patient
(`patient_id`), `bundle_to_cases` reads each patient of a multi-patient export on its own.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from b12plan.adapters.fhir.codes import CodeTables, MedicationClass, load_codes
from b12plan.adapters.fhir.shapes import shape_problem
from b12plan.domain import units
from b12plan.domain.codes import LOINC_ALIASES, LabTest
from b12plan.errors import FieldProblem, UserError

__all__ = ["ImportBatch", "ImportResult", "bundle_to_case", "bundle_to_cases"]

JSON = dict[str, Any]
_OBSERVATION_READ = frozenset({"final", "amended", "corrected", "preliminary"})
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
_INACTIVE = frozenset({"inactive", "resolved"})
_REFUTED = frozenset({"refuted", "entered-in-error"})
_FHIR_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_FHIR_TIME = re.compile(r"T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")


class _NotRead(Exception):
    """A resource understood well enough to say why it cannot be read."""


@dataclass(frozen=True)
class ImportResult:
    """`case`: a dict for `parse_case`; `unknown`: what was not understood (type/id: code and why);
    `notes`: what was understood but left out on purpose, or approximated."""

    case: JSON
    unknown: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportBatch:
    """The resources of a file read patient by patient (FHIR Patient id -> its result), and what belongs
    to no patient of the file (export errors, resources with no or another subject)."""

    patients: dict[str, ImportResult]
    unknown: list[str]


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


def _words(concept: Any) -> str:
    """The text and every display of a CodeableConcept, lower-cased, for ingredient names."""
    parts = [str((concept or {}).get("text") or "")] + [
        str(c.get("display") or "") for c in _codings(concept)
    ]
    return " ".join(p for p in parts if p).lower()


def _date_parts(text: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of a FHIR date or dateTime, month and day None when not given.

    Raises ValueError for anything else (a date that does not exist, another format)."""
    match = _FHIR_DATE.match(text)
    if match is None:
        raise ValueError(text)
    rest = text[match.end() :]
    if rest and not (match[3] and _FHIR_TIME.fullmatch(rest)):
        raise ValueError(text)
    year, month, day = int(match[1]), int(match[2]) if match[2] else None, int(match[3]) if match[3] else None
    dt.date(year, month or 1, day or 1)  # the day exists (year 1 and later)
    return year, month, day


def _full_day(text: str) -> dt.date | None:
    """The day of a FHIR date/dateTime (local to where it was recorded), None when it is partial."""
    year, month, day = _date_parts(text)
    return dt.date(year, month, day) if month and day else None


def _age(birth: str, as_of: dt.date) -> tuple[int, bool]:
    """Whole years at `as_of`, and whether birthDate was partial (then the youngest possible age)."""
    year, month, day = _date_parts(birth)
    month = month or 12
    born = dt.date(year, month, day or calendar.monthrange(year, month)[1])
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    return age, day is None


def _reference(resource: Mapping[str, Any]) -> str:
    """The subject (or patient) reference of a resource, '' when it has none."""
    for key in ("subject", "patient"):
        value = resource.get(key)
        if isinstance(value, dict) and isinstance(value.get("reference"), str) and value["reference"]:
            return str(value["reference"])
    return ""


def _patient_id(reference: str) -> str | None:
    """The patient id a reference points at (`Patient/1`, `.../Patient/1/_history/2`, `urn:uuid:1` -> `1`)."""
    ref = reference.split("/_history/", 1)[0]
    if ref.startswith("urn:uuid:"):
        return ref.removeprefix("urn:uuid:") or None
    if ref.startswith("Patient/") or "/Patient/" in ref:
        return ref.rsplit("/", 1)[-1] or None
    return None


def _subject_id(resource: Mapping[str, Any]) -> str | None:
    return _patient_id(_reference(resource))


def _where(resource: Mapping[str, Any]) -> str:
    kind, rid = resource.get("resourceType"), resource.get("id")
    return f"{kind if isinstance(kind, str) else '?'}/{rid if isinstance(rid, str) else '?'}"


def _num(value: float) -> str:
    return f"{value:g}"


class _Reader:
    def __init__(self, codes: CodeTables, as_of: dt.date, patient_id: str | None) -> None:
        self.codes, self.as_of, self.patient_id = codes, as_of, patient_id
        self.patient: JSON = {}
        self.patient_read = False
        self.labs: list[JSON] = []
        self.causes: list[str] = []
        self.conditions: list[str] = []
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
        ref, pid = _reference(resource), self.patient_id
        if not ref or pid is None:
            return None
        return None if _patient_id(ref) == pid else ref

    def read(self, r: JSON) -> None:
        kind, where = r.get("resourceType"), _where(r)
        problem = shape_problem(r)
        if problem is not None:
            self.unknown.append(f"{where}: {problem} (not FHIR R4 JSON); not read")
            return
        other = self.other_patient(r) if kind != "Patient" else None
        if other:
            self.unknown.append(f"{where}: belongs to {other}, not Patient/{self.patient_id}; not read")
        elif kind == "Patient":
            self.read_patient(r, where)
        elif kind == "Observation":
            self.read_observation(r, where)
        elif kind in ("Condition", "Procedure"):
            self.read_finding(r, where)
        elif kind in ("MedicationStatement", "MedicationAdministration"):
            self.read_medication(r, where, str(kind))
        elif kind == "AllergyIntolerance":
            self.read_allergy(r, where)
        elif kind == "Medication":
            pass  # read through the MedicationStatement that references it
        elif kind == "OperationOutcome":
            issues = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in r.get("issue") or () if i)
            self.unknown.append(f"{where}: export error: {issues}")
        else:
            self.unknown.append(f"{where}: resource type not read")

    def read_patient(self, r: JSON, where: str) -> None:
        mine = self.patient_id is None or r.get("id") == self.patient_id
        if not mine or self.patient_read:
            self.unknown.append(f"{where}: not the patient read (Patient/{self.patient_id}); not read")
            return
        self.patient_read = True
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
            value = self.ifab_value(r) if test is LabTest.IFAB else self.quantity(r, test, extra, where)
            day = self.effective_day(r, where)
        except _NotRead as exc:
            self.unknown.append(f"{where}: {exc}")
            return
        if value is None:
            reason = _describe(r["dataAbsentReason"]) if r.get("dataAbsentReason") else "no value we can read"
            self.unknown.append(f"{where}: {reason}")
            return
        lab: JSON = {"test": test.value, "value": value, **extra}
        if day is not None:
            lab["date"] = day.isoformat()
        self.labs.append(lab)

    def effective_day(self, r: JSON, where: str) -> dt.date | None:
        """The day the sample was taken; a partial date is left out (noted), a malformed one refused."""
        period = r.get("effectivePeriod") or {}
        for name, text in (
            ("effectiveDateTime", r.get("effectiveDateTime")),
            ("effectivePeriod.start", period.get("start")),
            ("effectiveInstant", r.get("effectiveInstant")),
        ):
            if not text:
                continue
            try:
                day = _full_day(text)
            except ValueError:
                raise _NotRead(f"{name} {text!r} is not a FHIR date") from None
            if day is None:
                self.notes.append(f"{where}: {name} {text} is partial; the result's date is left out")
            return day
        return None

    def quantity(self, r: JSON, test: LabTest, lab: JSON, where: str) -> float | None:
        """The value of a valueQuantity, its UCUM unit (code, else unit text) and the reference range.

        A censored value (a `comparator`: `<150 pg/mL`) is refused: read as exact it would be wrong."""
        q = r.get("valueQuantity") or {}
        value = q.get("value")
        if value is None:
            return None
        ucum = q.get("system") == self.codes.uris["ucum"] and q.get("code")
        unit = q.get("code") if ucum else q.get("unit")
        comparator = q.get("comparator")
        if comparator:
            raise _NotRead(
                f"value {comparator}{_num(value)}{f' {unit}' if unit else ''} is censored (comparator "
                f"{comparator!r}), not an exact result; not read: b12plan reads exact values only, "
                "so a person must judge this result"
            )
        if test is not LabTest.INR:
            try:
                units.check_unit(test, unit)
            except units.UnitProblem as exc:
                raise _NotRead(f"unit {unit!r}: {exc}") from None
            lab["unit"] = unit
        ranges = [x for x in r.get("referenceRange") or () if isinstance(x, dict)]
        if ranges:
            self.limits(ranges[0], unit, lab, where)
        return float(value)

    def limits(self, reference: JSON, unit: str | None, lab: JSON, where: str) -> None:
        """upper_limit/lower_limit from a reference range in the result's own unit."""
        for key, name in (("high", "upper_limit"), ("low", "lower_limit")):
            q = reference.get(key) or {}
            if q.get("value") is None:
                continue
            ucum = q.get("system") == self.codes.uris["ucum"] and q.get("code")
            limit_unit = q.get("code") if ucum else q.get("unit")
            if q.get("comparator") or (limit_unit and unit and limit_unit != unit):
                self.notes.append(
                    f"{where}: referenceRange.{key} {q.get('comparator') or ''}{_num(q['value'])} "
                    f"{limit_unit or ''} is not in the result's unit {unit!r}, or not exact; {name} left out"
                )
                continue
            lab[name] = q["value"]

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
        if verification & _REFUTED or r.get("status") in ("entered-in-error", "not-done"):
            self.notes.append(f"{where}: {finding.coding.display} is refuted or in error; not read")
        elif finding.cause is not None:
            self.add(self.causes, finding.cause.value)
        elif clinical & _INACTIVE:
            self.notes.append(f"{where}: {finding.coding.display} is {'/'.join(sorted(clinical))}; not read")
        elif finding.condition is not None:
            self.add(self.conditions, finding.condition.value)
        elif finding.pregnant:
            self.patient["pregnant"] = True

    def read_allergy(self, r: JSON, where: str) -> None:
        concepts = [r.get("code")] + [x.get("substance") for x in r.get("reaction") or () if x]
        found: list[MedicationClass] = []
        for concept in concepts:
            codes = [(c.get("system"), c.get("code")) for c in _codings(concept)]
            found += [
                a for a in self.codes.find_all(self.codes.allergens, codes, _words(concept)) if a not in found
            ]
        if not found:
            self.unknown.append(f"{where}: allergen {_describe(r.get('code'))} is not mapped")
            return
        verification = {str(c.get("code")) for c in _codings(r.get("verificationStatus"))}
        clinical = {str(c.get("code")) for c in _codings(r.get("clinicalStatus"))}
        meaning = ", ".join(a.condition.value for a in found if a.condition)
        if verification & _REFUTED:
            self.notes.append(f"{where}: {meaning} is refuted or in error; not read")
            return
        if clinical & _INACTIVE:
            self.notes.append(f"{where}: {meaning} is {'/'.join(sorted(clinical))}; not read")
            return
        for allergen in found:
            if allergen.condition is not None:
                self.add(self.conditions, allergen.condition.value)
        if "unconfirmed" in verification:
            self.notes.append(f"{where}: {meaning} is unconfirmed; read as present, to be safe")

    def medication_concept(self, r: JSON, where: str) -> Any:
        """The medicine's CodeableConcept, from the resource or the Medication it references."""
        ref = str((r.get("medicationReference") or {}).get("reference") or "")
        if not ref:
            return r.get("medicationCodeableConcept")
        contained = {f"#{c.get('id')}": c for c in r.get("contained") or () if c}
        med = contained.get(ref) or self.medications.get(ref.rsplit("/", 1)[-1])
        self.used_medications.add(ref.rsplit("/", 1)[-1])
        if med is None:
            raise _NotRead(f"medicationReference {ref} is not in the resources")
        return med.get("code")

    def read_medication(self, r: JSON, where: str, kind: str) -> None:
        try:
            concept = self.medication_concept(r, where)
        except _NotRead as exc:
            self.unknown.append(f"{where}: {exc}")
            return
        codes = [(c.get("system"), c.get("code")) for c in _codings(concept)]
        found = self.codes.find_all(self.codes.medications, codes, _words(concept))
        if not found:
            self.unknown.append(f"{where}: medication {_describe(concept)} is not mapped")
            return
        status = r.get("status")
        current, past = _MEDICATION_STATUS[kind]
        for med in found:
            if med.b12_replacement:
                self.read_b12(r, where, kind, concept)
            elif status in past and med.condition is not None:
                self.notes.append(f"{where}: {med.id} is {status}; not read as current")
            elif status in current or status in past:
                if med.cause is not None:
                    self.add(self.causes, med.cause.value)
                if med.condition is not None:
                    self.add(self.conditions, med.condition.value)
            else:
                self.notes.append(f"{where}: {med.id} has status {status!r}; not read")

    def read_b12(self, r: JSON, where: str, kind: str, concept: Any) -> None:
        """B12 already given or being taken: its start is a candidate for the case's `treatment_started`."""
        status = r.get("status")
        what = f"B12 replacement ({(concept or {}).get('text') or _describe(concept)}, {status})"
        if status not in _B12_STARTED[kind]:
            self.notes.append(f"{where}: {what}: treatment_started is not set from this status")
            return
        text = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start")
        if not text:
            self.notes.append(f"{where}: {what} has no start date; treatment_started is not set from it")
            return
        try:
            day = _full_day(str(text))
        except ValueError:
            self.unknown.append(f"{where}: start {text!r} is not a FHIR date; not read")
            return
        if day is None or day > self.as_of:
            why = "is partial" if day is None else f"is after {self.as_of}"
            self.notes.append(f"{where}: {what}: start {text} {why}; treatment_started is not set from it")
            return
        self.b12_starts.append(day)
        self.notes.append(f"{where}: {what} from {day}")

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
    people |= {pid for r in items if r.get("resourceType") != "Patient" and (pid := _subject_id(r))}
    if patient_id is None and len(people) > 1:
        raise UserError(
            [FieldProblem("patient_id", f"the resources hold {len(people)} patients; choose one")]
        )
    chosen = patient_id or next(iter(people), None)
    reader = _Reader(load_codes(), as_of, chosen)
    reader.medications = {
        r["id"]: r
        for r in items
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str) and shape_problem(r) is None
    }
    for resource in sorted(items, key=lambda r: r.get("resourceType") != "Patient"):
        reader.read(resource)
    for mid in sorted(reader.medications.keys() - reader.used_medications):
        reader.unknown.append(f"Medication/{mid}: not referenced by a MedicationStatement; not read")
    if "age" not in reader.patient:
        reader.notes.append("no Patient birthDate: patient.age must be added by hand")
    case = reader.case()
    return ImportResult(case, reader.unknown, reader.notes)


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
    return _subject_id(resource)


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
    reader = _Reader(load_codes(), as_of, None)
    for r in orphans:
        if r.get("resourceType") == "OperationOutcome":
            reader.read(r)
        else:
            whose = f"none of the {len(ids)} patients read" if ids else "no patient (no Patient, no subject)"
            reader.unknown.append(f"{_where(r)}: belongs to {whose}; not read")
    for mid in sorted(medications.keys() - used):
        reader.unknown.append(f"Medication/{mid}: not referenced by a MedicationStatement; not read")
    patients = {pid: bundle_to_case(group, as_of=as_of, patient_id=pid) for pid, group in groups.items()}
    return ImportBatch(patients, reader.unknown)
