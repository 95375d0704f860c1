"""Patient records in and out of the store: export (JSON, CSV or FHIR), import (the JSON export), and backup.

Export JSON (`b12plan.record/1`) is the whole clinical record of one patient; the audit log stays with the
database it belongs to. Import reads that format (one record, or a list of them) in one transaction and is
idempotent: an entry already stored word for word is skipped, so importing a file twice changes nothing.
An entry that contradicts the stored one (another score for the same symptom and day, another dose at the
same minute, another plan under the same version number) refuses the whole file with the entry named, and
nothing is written. Imported entries are checked like typed ones (codes, units, plausibility, no future
dates); doses are history, so they are not re-judged against the plan.

Backup copies a SQLite database while it is in use (sqlite3's online backup API) to a new file and checks
the copy. Restore: stop every b12plan process, then either point b12plan at the copy (`--db FILE`) or copy
it over the database file (`b12plan db where` prints its path), and run `b12plan db upgrade`. PostgreSQL is
backed up with `pg_dump` and restored with `pg_restore` (docs/store.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from b12plan.domain.case import parse_case
from b12plan.domain.codes import Route
from b12plan.domain.plan import Plan
from b12plan.errors import CaseError, FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET, load_ruleset
from b12plan.services.records import check_lab, check_patient_id, check_symptom
from b12plan.store import PatientFile, Records, Store

__all__ = [
    "RECORD_SCHEMA_ID",
    "BackupResult",
    "ImportResult",
    "backup",
    "export_fhir",
    "export_record",
    "import_records",
    "record_document",
]

RECORD_SCHEMA_ID = "b12plan.record/1"
Progress = Callable[[int, int], None]


# -- export ------------------------------------------------------------------------------------------------


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_document(file: PatientFile, *, exported_at: dt.datetime) -> dict[str, Any]:
    """One patient's record as `b12plan.record/1` JSON (dates ISO 8601; times local, `created_at` UTC)."""
    return {
        "schema": RECORD_SCHEMA_ID,
        "exported_at": exported_at.isoformat(),
        "patient": {"id": file.patient.ref, "name": file.patient.name, "clinic": file.patient.clinic},
        "plan_versions": [
            {
                "version": v.version,
                "created_at": v.created_at.isoformat(),
                "created_by": v.created_by,
                "reason": v.reason,
                "ruleset": v.ruleset,
                "case": v.case,
                "plan": v.plan,
            }
            for v in file.plan_versions
        ],
        "vials": [
            {
                "id": v.id,
                "product_id": v.product_id,
                "lot": v.lot,
                "expiry": _iso(v.expiry),
                "opened_on": v.opened_on.isoformat(),
                "volume_ml": v.volume_ml,
                "volume_left_ml": v.volume_left_ml,
                "discard_on": v.discard_on.isoformat(),
            }
            for v in file.vials
        ],
        "administrations": [
            {
                "at": a.at.isoformat(),
                "dose_mcg": a.dose_mcg,
                "route": a.route,
                "volume_ml": a.volume_ml,
                "product_id": a.product_id,
                "lot": a.lot,
                "expiry": _iso(a.expiry),
                "site": a.site,
                "given_by": a.given_by,
                "vial": a.vial_id,
            }
            for a in file.administrations
        ],
        "labs": [
            {
                "date": lab.taken_on.isoformat(),
                "test": lab.test,
                "value": lab.value,
                "unit": lab.unit,
                "upper_limit": lab.upper_limit,
                "lower_limit": lab.lower_limit,
            }
            for lab in file.labs
        ],
        "symptoms": [
            {"date": s.scored_on.isoformat(), "symptom": s.symptom, "score": s.score} for s in file.symptoms
        ],
    }


CSV_COLUMNS = (
    "patient", "kind", "date", "time", "item", "value", "unit", "route", "volume_ml", "site", "product",
    "lot", "expiry", "given_by", "vial", "version", "reason",
)  # fmt: skip


def _csv_rows(file: PatientFile) -> list[dict[str, Any]]:
    rows: list[tuple[str, int, dict[str, Any]]] = []
    ref = file.patient.ref
    for v in file.plan_versions:
        when = v.created_at
        row = {"kind": "plan", "item": v.ruleset, "version": v.version, "reason": v.reason}
        rows.append((when.isoformat(), 0, {**row, "date": when.date(), "time": when.strftime("%H:%M")}))
    for vial in file.vials:
        row = {"kind": "vial", "date": vial.opened_on, "item": "opened", "value": vial.volume_left_ml}
        row |= {
            "unit": "mL",
            "product": vial.product_id,
            "lot": vial.lot,
            "expiry": vial.expiry,
            "vial": vial.id,
        }
        rows.append((vial.opened_on.isoformat(), 1, row))
    for a in file.administrations:
        row = {"kind": "dose", "date": a.at.date(), "time": a.at.strftime("%H:%M"), "item": "dose"}
        row |= {
            "value": a.dose_mcg,
            "unit": "mcg",
            "route": a.route,
            "volume_ml": a.volume_ml,
            "site": a.site,
        }
        row |= {"product": a.product_id, "lot": a.lot, "expiry": a.expiry, "given_by": a.given_by}
        rows.append((a.at.isoformat(), 2, {**row, "vial": a.vial_id}))
    for lab in file.labs:
        row = {"kind": "lab", "date": lab.taken_on, "item": lab.test, "value": lab.value, "unit": lab.unit}
        rows.append((lab.taken_on.isoformat(), 3, row))
    for s in file.symptoms:
        row = {"kind": "symptom", "date": s.scored_on, "item": s.symptom, "value": s.score, "unit": "/10"}
        rows.append((s.scored_on.isoformat(), 4, row))
    return [{"patient": ref, **row} for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def export_fhir(store: Store, ref: str, *, tz: str | None = None) -> dict[str, Any]:
    """One patient's current plan and recorded doses as a FHIR R4 Bundle (a JSON-ready dict).

    The latest plan version gives the MedicationRequest (draft proposal) and the CarePlan of its tests and
    reviews; each stored dose gives a MedicationAdministration, its `request` that MedicationRequest when
    given under this version (none for a dose given under an earlier one). The subject is
    `Patient/<ref>`, the pseudonymous id: no name leaves the record. Stored times are local wall-clock
    times, read in `tz` (an IANA zone; default the machine's). Validated with the R4B models and our own
    binding checks (`adapters.fhir.plan_to_fhir_bundle`).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from b12plan.adapters.fhir import AdministrationRecord, plan_to_fhir_bundle
    from b12plan.rulebook import load_catalogue

    try:
        zone = ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError([FieldProblem("tz", f"{tz!r} is not a known IANA time zone")]) from None
    with store.transaction(write=False) as records:
        file = records.patient_file(records.patient(ref))
    latest = file.latest_plan
    if latest is None:
        raise UserError(
            [FieldProblem("patient", f"{ref!r} has no saved plan, so there is no plan to export as FHIR")]
        )
    plan = Plan.model_validate_json(latest.plan_json)
    catalogue = load_catalogue()
    known = set(catalogue.ids())
    given = [
        AdministrationRecord(
            at=a.at.replace(tzinfo=zone) if zone else a.at.astimezone(),
            dose_mcg=a.dose_mcg,
            route=Route(a.route),
            site=a.site,
            lot=a.lot,
            volume_ml=a.volume_ml,
            formulation=catalogue.get(a.product_id).formulation if a.product_id in known else None,
            under_plan=a.at >= latest.created_at,
        )
        for a in file.administrations
    ]
    return plan_to_fhir_bundle(plan, patient_ref=f"Patient/{file.patient.ref}", administrations=given)


def export_record(store: Store, ref: str, fmt: str, *, now: dt.datetime | None = None) -> str:
    """One patient's record as `json` (b12plan.record/1, importable), `csv` (one row per entry, in time
    order: plan, vial, dose, lab, symptom) or `fhir` (`export_fhir`: the current plan and the doses given)."""
    if fmt not in ("json", "csv", "fhir"):
        problem = f"{fmt!r} is not an export format; use json or csv (the record), or fhir"
        raise UserError([FieldProblem("--format", problem)])
    if fmt == "fhir":
        return json.dumps(export_fhir(store, ref), indent=2, ensure_ascii=False) + "\n"
    with store.transaction(write=False) as records:
        file = records.patient_file(records.patient(ref))
    if fmt == "json":
        stamp = (now or dt.datetime.now()).replace(microsecond=0)
        return json.dumps(record_document(file, exported_at=stamp), indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _csv_rows(file):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


# -- import ------------------------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _Patient(_In):
    id: str
    name: str | None = None
    clinic: str | None = None


class _PlanVersion(_In):
    version: Annotated[int, Field(ge=1)]
    created_at: dt.datetime
    created_by: Annotated[str, Field(min_length=1, max_length=100)]
    reason: str | None = None
    ruleset: str
    case: dict[str, Any]
    plan: dict[str, Any]


class _Vial(_In):
    id: int
    product_id: str
    lot: str | None = None
    expiry: dt.date | None = None
    opened_on: dt.date
    volume_ml: Annotated[float, Field(gt=0)]
    volume_left_ml: Annotated[float, Field(ge=0)]
    discard_on: dt.date


class _Administration(_In):
    at: dt.datetime
    dose_mcg: Annotated[float, Field(gt=0)]
    route: Route
    volume_ml: Annotated[float, Field(gt=0)] | None = None
    product_id: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    site: str | None = None
    given_by: str | None = None
    vial: int | None = None


class _Lab(_In):
    date: dt.date
    test: str
    value: float | str
    unit: str | None = None
    upper_limit: Annotated[float, Field(gt=0)] | None = None
    lower_limit: Annotated[float, Field(gt=0)] | None = None


class _Symptom(_In):
    date: dt.date
    symptom: str
    score: int


class _Record(_In):
    schema_: Literal["b12plan.record/1"] = Field(alias="schema")
    exported_at: dt.datetime | None = None
    patient: _Patient
    plan_versions: list[_PlanVersion] = Field(default_factory=list)
    vials: list[_Vial] = Field(default_factory=list)
    administrations: list[_Administration] = Field(default_factory=list)
    labs: list[_Lab] = Field(default_factory=list)
    symptoms: list[_Symptom] = Field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: patients added, entries added, entries already stored (skipped)."""

    patients_added: tuple[str, ...]
    entries_added: int
    entries_skipped: int


def _path(prefix: str, loc: Sequence[int | str]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse(doc: Any, prefix: str) -> _Record:
    if not isinstance(doc, dict):
        raise UserError([FieldProblem(prefix or "FILE", "is not a b12plan.record/1 object")])
    try:
        return _Record.model_validate(doc)
    except ValidationError as exc:
        problems = [
            FieldProblem(_path(prefix, e["loc"]), str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise UserError(problems) from None


def _check(record: _Record, prefix: str, now: dt.datetime) -> None:
    """Every check a typed entry gets, naming the entry (`labs[2].unit`); refuses on the first problem."""
    check_patient_id(record.patient.id, _path(prefix, ["patient", "id"]))
    rules = load_ruleset(record.plan_versions[-1].ruleset if record.plan_versions else DEFAULT_RULESET)
    for i, v in enumerate(record.plan_versions):
        where = _path(prefix, ["plan_versions", i])
        try:
            parse_case(v.case)
            Plan.model_validate(v.plan)
        except CaseError as exc:
            raise UserError(
                [FieldProblem(f"{where}.case.{p.field}", p.problem) for p in exc.problems]
            ) from None
        except ValidationError as exc:
            raise UserError(
                [FieldProblem(f"{where}.plan", f"is not a b12plan.plan/1 plan ({exc.errors()[0]['msg']})")]
            ) from None
    vial_ids = {v.id for v in record.vials}
    for i, a in enumerate(record.administrations):
        where = _path(prefix, ["administrations", i])
        if a.at > now:
            raise UserError([FieldProblem(f"{where}.at", f"{a.at.isoformat()} is in the future")])
        if a.vial is not None and a.vial not in vial_ids:
            raise UserError([FieldProblem(f"{where}.vial", f"there is no vial {a.vial} in this file")])
    for i, lab in enumerate(record.labs):
        where = _path(prefix, ["labs", i])
        if lab.date > now.date():
            raise UserError([FieldProblem(f"{where}.date", f"{lab.date.isoformat()} is in the future")])
        check_lab(lab.test, lab.value, lab.unit, rules, where=where)
    for i, s in enumerate(record.symptoms):
        where = _path(prefix, ["symptoms", i])
        if s.date > now.date():
            raise UserError([FieldProblem(f"{where}.date", f"{s.date.isoformat()} is in the future")])
        check_symptom(s.symptom, s.score, where=where)


class _Merge:
    """Adds one parsed record to the store, skipping what is already there and refusing contradictions."""

    def __init__(self, records: Records, record: _Record, prefix: str, rules_now: dt.datetime) -> None:
        self.records, self.record, self.prefix = records, record, prefix
        self.added = self.skipped = 0
        self.now = rules_now

    def _conflict(self, where: Sequence[int | str], what: str) -> UserError:
        return UserError([FieldProblem(_path(self.prefix, where), f"{what}; nothing was imported")])

    def run(self) -> bool:
        """Merge the record; True when the patient was new."""
        r, doc = self.records, self.record
        existing = r.find_patient(doc.patient.id)
        if existing is None:
            patient = r.add_patient(
                doc.patient.id, name=doc.patient.name, clinic=doc.patient.clinic, action="import"
            )
        else:
            for name in ("name", "clinic"):
                if getattr(doc.patient, name) != getattr(existing, name):
                    raise self._conflict(
                        ["patient", name], f"differs from the stored patient {existing.ref!r}"
                    )
            patient = r.patient(existing.ref, lock=True)
        stored = r.patient_file(patient)
        self._plans(patient.id, stored)
        vial_map = self._vials(patient.id, stored)
        self._doses(patient.id, stored, vial_map)
        self._labs(patient.id, stored)
        self._symptoms(patient.id, stored)
        return existing is None

    def _plans(self, patient_id: int, stored: PatientFile) -> None:
        have = {v.version: v for v in stored.plan_versions}
        for i, v in enumerate(self.record.plan_versions):
            old = have.get(v.version)
            if old is not None:
                if (old.plan, old.case, old.reason, old.ruleset) != (v.plan, v.case, v.reason, v.ruleset):
                    raise self._conflict(
                        ["plan_versions", i], f"plan version {v.version} is stored with other content"
                    )
                self.skipped += 1
                continue
            self.records.add_plan_version(
                patient_id, case=v.case, plan=v.plan, ruleset=v.ruleset, reason=v.reason,
                created_at=v.created_at, created_by=v.created_by, version=v.version, action="import",
            )  # fmt: skip
            self.added += 1

    def _vials(self, patient_id: int, stored: PatientFile) -> dict[int, int]:
        mapping: dict[int, int] = {}
        have = {(v.product_id, v.opened_on, v.lot): v for v in stored.vials}
        for i, v in enumerate(self.record.vials):
            old = have.get((v.product_id, v.opened_on, v.lot))
            if old is not None:
                if (old.volume_ml, old.volume_left_ml, old.discard_on, old.expiry) != (
                    v.volume_ml, v.volume_left_ml, v.discard_on, v.expiry,
                ):  # fmt: skip
                    raise self._conflict(["vials", i], "this vial is stored with other volumes or dates")
                mapping[v.id] = old.id
                self.skipped += 1
                continue
            if v.volume_left_ml > v.volume_ml or v.discard_on < v.opened_on:
                raise self._conflict(
                    ["vials", i], "has more left than it holds, or a discard date before opening"
                )
            new = self.records.open_vial(
                patient_id, product_id=v.product_id, opened_on=v.opened_on, volume_ml=v.volume_ml,
                discard_on=v.discard_on, lot=v.lot, expiry=v.expiry, volume_left_ml=v.volume_left_ml,
                action="import",
            )  # fmt: skip
            mapping[v.id] = new.id
            self.added += 1
        return mapping

    def _doses(self, patient_id: int, stored: PatientFile, vial_map: dict[int, int]) -> None:
        have = {(a.at, a.site): a for a in stored.administrations}
        for i, a in enumerate(self.record.administrations):
            vial_id = vial_map[a.vial] if a.vial is not None else None
            fields: dict[str, Any] = {
                "at": a.at, "dose_mcg": a.dose_mcg, "route": a.route.value, "volume_ml": a.volume_ml,
                "product_id": a.product_id, "lot": a.lot, "expiry": a.expiry, "site": a.site,
                "given_by": a.given_by, "vial_id": vial_id,
            }  # fmt: skip
            old = have.get((a.at, a.site))
            if old is not None:
                if any(getattr(old, k) != v for k, v in fields.items()):
                    raise self._conflict(
                        ["administrations", i], "another dose is stored at this time and site"
                    )
                self.skipped += 1
                continue
            self.records.add_administration(patient_id, action="import", **fields)
            self.added += 1

    def _labs(self, patient_id: int, stored: PatientFile) -> None:
        rules = load_ruleset(stored.latest_plan.ruleset if stored.latest_plan else DEFAULT_RULESET)
        have = {(x.taken_on, x.test, x.value, x.unit) for x in stored.labs}
        for i, lab in enumerate(self.record.labs):
            where = _path(self.prefix, ["labs", i])
            test, value, unit = check_lab(lab.test, lab.value, lab.unit, rules, where=where)
            if (lab.date, test.value, value, unit) in have:
                self.skipped += 1
                continue
            self.records.add_lab(
                patient_id, taken_on=lab.date, test=test.value, value=value, unit=unit,
                upper_limit=lab.upper_limit, lower_limit=lab.lower_limit, action="import",
            )  # fmt: skip
            have.add((lab.date, test.value, value, unit))
            self.added += 1

    def _symptoms(self, patient_id: int, stored: PatientFile) -> None:
        have = {(s.scored_on, s.symptom): s.score for s in stored.symptoms}
        for i, s in enumerate(self.record.symptoms):
            code, score = check_symptom(s.symptom, s.score, where=_path(self.prefix, ["symptoms", i]))
            old = have.get((s.date, code.value))
            if old is not None:
                if old != score:
                    raise self._conflict(
                        ["symptoms", i], f"{code.value} is stored with another score that day"
                    )
                self.skipped += 1
                continue
            self.records.add_symptom(
                patient_id, scored_on=s.date, symptom=code.value, score=score, action="import"
            )
            have[(s.date, code.value)] = score
            self.added += 1


def import_records(
    store: Store, text: str, *, now: dt.datetime | None = None, progress: Progress | None = None
) -> ImportResult:
    """Import `b12plan.record/1` JSON (one record or a list) in one transaction; see the module docstring."""
    clock = (now or dt.datetime.now()).replace(microsecond=0)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError([FieldProblem("FILE", f"not valid JSON at line {exc.lineno}: {exc.msg}")]) from None
    docs, prefixes = (
        (data, [f"[{i}]" for i in range(len(data))]) if isinstance(data, list) else ([data], [""])
    )
    parsed = [_parse(doc, prefix) for doc, prefix in zip(docs, prefixes, strict=True)]
    refs = [p.patient.id for p in parsed]
    if len(set(refs)) != len(refs):
        raise UserError([FieldProblem("FILE", "holds the same patient twice; merge them first")])
    for record, prefix in zip(parsed, prefixes, strict=True):
        _check(record, prefix, clock)
    added: list[str] = []
    entries = skipped = 0
    with store.transaction() as records:
        for done, (record, prefix) in enumerate(zip(parsed, prefixes, strict=True), start=1):
            merge = _Merge(records, record, prefix, clock)
            if merge.run():
                added.append(record.patient.id)
            entries += merge.added
            skipped += merge.skipped
            if progress:
                progress(done, len(parsed))
    return ImportResult(tuple(added), entries, skipped)


# -- backup ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int


def backup(store: Store, path: Path, *, progress: Progress | None = None) -> BackupResult:
    """Copy the SQLite database, while in use, to the new file `path`, and check the copy's integrity.

    The copy is written beside `path` and renamed into place only when complete and checked, so a failed
    or interrupted backup never leaves a file that looks like a backup.
    """
    if not store.is_sqlite:
        raise UserError(
            [
                FieldProblem(
                    "backup",
                    "this is a PostgreSQL database: back it up on the server with "
                    "`pg_dump --format=custom DBNAME > FILE` and restore with `pg_restore` (docs/store.md)",
                )
            ]
        )
    if path.exists():
        raise UserError([FieldProblem("FILE", f"{path} already exists; back up to a new file")])
    if not path.parent.is_dir():
        raise UserError([FieldProblem("FILE", f"{path.parent} is not a folder")])
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    total_pages = 0

    def step(_status: int, remaining: int, total: int) -> None:
        nonlocal total_pages
        total_pages = total
        if progress:
            progress(total - remaining, total)

    source = store.engine.raw_connection()
    try:
        target = sqlite3.connect(partial)
        try:
            source.driver_connection.backup(target, pages=256, progress=step)  # type: ignore[union-attr]
            target.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
            verdict = target.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            target.close()
        if verdict != "ok":
            raise UserError([FieldProblem("FILE", f"the copy failed its integrity check ({verdict})")])
        partial.replace(path)
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return BackupResult(path, total_pages)
