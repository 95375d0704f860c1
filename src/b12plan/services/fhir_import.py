"""FHIR files into cases and patient records: what `b12plan import FILE` and `b12plan fhir case FILE` do.

A file is one of: a `b12plan.record/1` export (JSON, read by `record_files.import_records`), a FHIR R4
Bundle or single resource (JSON), FHIR NDJSON (one resource a line), either of those gzipped, or a Bulk
Data manifest whose NDJSON files (`.ndjson` or `.ndjson.gz`) lie beside it. `detect_kind` tells them apart
by content, never by name; `read_fhir` reads the FHIR kinds into resources (the manifest's files by the last
segment of their URL, only from the manifest's own folder: nothing is fetched).

`import_fhir` reads every patient of the file on their own (`adapters.fhir.bundle_to_cases`) and, in one
transaction, stores each under a pseudonymous id made from the FHIR Patient id (`fhir_patient_ref`): the
patient when new, each lab result (unit, date, reference limits) not already stored, and, when asked, a plan
version made from the imported case. Names and other identifiers are not imported.

Never silent: what the importer did not understand (unknown codes, censored or malformed values) and what
it could read but not store (a result with no date, one refused by the same checks as `b12plan lab add`) is
returned per patient, for the caller to count and list. Importing the same file twice adds nothing: labs
already stored are skipped, and a plan whose case equals the latest version's is not saved again. A plan
that cannot be made for any patient refuses the whole import with the patient and field named, before
anything is written; `strict=True` refuses it for anything not imported at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from b12plan import services
from b12plan.adapters.fhir import ImportBatch, ImportResult, bundle_to_case, bundle_to_cases
from b12plan.adapters.fhir.bundles import read_manifest, read_resources, resources_from_ndjson
from b12plan.errors import FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET, load_ruleset
from b12plan.services.records import check_lab, check_patient_id
from b12plan.store import PatientFile, Records, Store

__all__ = [
    "FhirFile",
    "FhirImport",
    "FileKind",
    "PatientImport",
    "decode",
    "detect_kind",
    "fhir_case",
    "fhir_patient_ref",
    "import_fhir",
    "read_fhir",
    "read_fhir_file",
]

JSON = dict[str, Any]
FileKind = Literal["record", "bundle", "ndjson", "manifest"]
MAX_BYTES = 2 * 1024**3  # a gzipped file is never unpacked past this (a "zip bomb" stops here)
_GZIP_MAGIC = b"\x1f\x8b"
_NOT_REF = re.compile(r"[^A-Za-z0-9._-]+")


# -- reading files -------------------------------------------------------------------------------------------


def _gunzip(data: bytes, name: str) -> bytes:
    """Every gzip member of `data` (an export may concatenate several), to at most MAX_BYTES."""
    out = bytearray()
    rest = data
    try:
        while rest[:2] == _GZIP_MAGIC:
            inflater = zlib.decompressobj(wbits=31)  # gzip framing
            out += inflater.decompress(rest, MAX_BYTES + 1 - len(out))
            if len(out) > MAX_BYTES or inflater.unconsumed_tail:
                raise UserError([FieldProblem(name, f"unpacks to more than {MAX_BYTES} bytes")])
            if not inflater.eof:
                raise UserError([FieldProblem(name, "is a gzip file cut short")])
            rest = inflater.unused_data
    except zlib.error as exc:
        raise UserError([FieldProblem(name, f"is not a readable gzip file ({exc})")]) from None
    if rest.strip(b"\0"):
        raise UserError([FieldProblem(name, "has data after its gzip content")])
    return bytes(out)


def decode(data: bytes, *, name: str = "FILE") -> str:
    """The text of a file's bytes: gunzipped when gzip, UTF-8 (a byte-order mark is dropped)."""
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(data, name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError([FieldProblem(name, f"is not UTF-8 text (byte {exc.start})")]) from None


def detect_kind(text: str, *, name: str = "FILE") -> FileKind:
    """What a file holds, by content: a b12plan record export, a FHIR Bundle or resource, FHIR NDJSON,
    or a Bulk Data manifest; anything else is refused."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        first = next((line for line in text.splitlines() if line.strip()), "")
        try:
            head = json.loads(first)
        except json.JSONDecodeError:
            raise UserError([FieldProblem(name, f"not valid JSON at line {exc.lineno}: {exc.msg}")]) from None
        if isinstance(head, dict) and "resourceType" in head:
            return "ndjson"
        raise UserError(
            [FieldProblem(name, "is JSON lines, but not FHIR NDJSON (no resourceType)")]
        ) from None
    except RecursionError:
        raise UserError([FieldProblem(name, "is nested too deeply to read")]) from None
    if isinstance(data, list) or (isinstance(data, dict) and "schema" in data and "resourceType" not in data):
        return "record"
    if isinstance(data, dict) and "resourceType" in data:
        return "bundle"
    if isinstance(data, dict) and "output" in data and ("transactionTime" in data or "request" in data):
        return "manifest"
    raise UserError(
        [
            FieldProblem(
                name,
                "is neither a b12plan record export, a FHIR Bundle or resource, FHIR NDJSON (optionally "
                "gzipped) nor a Bulk Data manifest",
            )
        ]
    )


@dataclass(frozen=True)
class FhirFile:
    """The resources of a FHIR file, its kind, and the files read (the manifest's NDJSON files)."""

    kind: FileKind
    resources: list[JSON]
    files: tuple[str, ...]


def _read_bytes(path: Path, field: str) -> bytes:
    if not path.is_file():
        raise UserError([FieldProblem(field, f"{path}: no such file")])
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError([FieldProblem(field, f"{path}: cannot be read ({exc.strerror})")]) from None


def _resources(text: str, kind: FileKind, name: str) -> list[JSON]:
    try:
        if kind == "ndjson":
            return resources_from_ndjson(text.splitlines())
        return read_resources(text)
    except UserError as exc:
        raise UserError([FieldProblem(f"{name} {p.field}", p.problem) for p in exc.problems]) from None
    except RecursionError:
        raise UserError([FieldProblem(name, "is nested too deeply to read")]) from None


def read_fhir(text: str, kind: FileKind, *, folder: Path | None, name: str = "FILE") -> FhirFile:
    """The resources of a FHIR file's text (`kind` from `detect_kind`). A manifest's files are read from
    `folder` (the manifest's own; None for stdin, where a manifest is refused)."""
    if kind == "record":
        raise UserError([FieldProblem(name, "is a b12plan record export, not FHIR")])
    if kind != "manifest":
        return FhirFile(kind, _resources(text, kind, name), (name,))
    if folder is None:
        raise UserError([FieldProblem(name, "a Bulk Data manifest is read from a file, beside its NDJSON")])
    manifest = read_manifest(json.loads(text))
    resources: list[JSON] = []
    names: list[str] = []
    for listed in (*manifest.output, *manifest.errors):
        # Only the last segment of the URL, only in the manifest's folder: never a path elsewhere, never
        # the network.
        file_name = listed.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        path = folder / file_name
        if not file_name or file_name in (".", "..") or not path.is_file():
            raise UserError(
                [FieldProblem(name, f"lists {listed.url}, but {file_name or '?'} is not beside it")]
            )
        file_text = decode(_read_bytes(path, name), name=file_name)
        resources += _resources(file_text, "ndjson", file_name)
        names.append(file_name)
    return FhirFile("manifest", resources, tuple(names))


def read_fhir_file(path: str, *, stdin: bytes | None = None) -> tuple[FileKind, str, FhirFile | None]:
    """Read a file (or stdin when `path` is `-`): its kind, its text, and its resources unless it is a
    b12plan record export (then None: `record_files.import_records` reads the text)."""
    if path == "-":
        data, folder, name = stdin or b"", None, "stdin"
    else:
        file = Path(path)
        data, folder, name = _read_bytes(file, "FILE"), file.parent, "FILE"
    text = decode(data, name=name)
    kind = detect_kind(text, name=name)
    if kind == "record":
        return kind, text, None
    return kind, text, read_fhir(text, kind, folder=folder, name=name)


# -- a case from a file ------------------------------------------------------------------------------------


def fhir_case(fhir: FhirFile, *, as_of: dt.date, patient: str | None = None) -> ImportResult:
    """The case of one patient of a FHIR file, to check before planning it (`b12plan plan`).

    `patient` (a FHIR Patient id) chooses one when the file holds several. What belongs to no patient of
    the file (export errors) is added to the result's `unknown`."""
    batch = bundle_to_cases(fhir.resources, as_of=as_of)
    if not batch.patients:
        found = bundle_to_case(fhir.resources, as_of=as_of)
        return ImportResult(found.case, found.unknown, found.notes)
    if patient is None:
        if len(batch.patients) > 1:
            ids = ", ".join(sorted(batch.patients))
            raise UserError(
                [
                    FieldProblem(
                        "--patient", f"the file holds {len(batch.patients)} patients ({ids}); choose one"
                    )
                ]
            )
        patient = next(iter(batch.patients))
    if patient not in batch.patients:
        ids = ", ".join(sorted(batch.patients))
        raise UserError([FieldProblem("--patient", f"no Patient {patient!r} in the file; it holds {ids}")])
    chosen = batch.patients[patient]
    return ImportResult(chosen.case, [*chosen.unknown, *batch.unknown], chosen.notes)


# -- into the record store --------------------------------------------------------------------------------


def fhir_patient_ref(fhir_id: str) -> str:
    """The b12plan patient id for a FHIR Patient id: characters other than letters, digits, `.`, `_`, `-`
    become `-`, cut to 64; refused when nothing is left."""
    ref = _NOT_REF.sub("-", fhir_id).strip("._-")[:64].rstrip("._-")
    return check_patient_id(ref or "-", f"Patient/{fhir_id}")


@dataclass(frozen=True)
class PatientImport:
    """What the import did for one patient of the file."""

    ref: str  # the b12plan patient id
    fhir_id: str
    new: bool
    labs_added: int
    labs_skipped: int  # already stored
    plan_version: int | None  # saved now; None when not asked for or already saved
    unknown: tuple[str, ...]  # not understood by the importer
    not_stored: tuple[str, ...]  # understood, but refused by the record's checks
    notes: tuple[str, ...]


@dataclass(frozen=True)
class FhirImport:
    """The whole import: one entry per patient, and what belongs to no patient of the file."""

    patients: tuple[PatientImport, ...]
    unknown: tuple[str, ...]

    def not_imported(self) -> list[str]:
        """Everything not imported, each line naming the patient: unknown, then refused by checks."""
        lines = [f"{p.ref}: {line}" for p in self.patients for line in (*p.unknown, *p.not_stored)]
        return lines + list(self.unknown)

    def notes(self) -> list[str]:
        return [f"{p.ref}: {line}" for p in self.patients for line in p.notes]


@dataclass(frozen=True)
class _Prepared:
    ref: str
    fhir_id: str
    result: ImportResult
    labs: list[tuple[str, JSON]]  # (where, checked lab fields for Records.add_lab)
    not_stored: list[str]
    notes: list[str]
    plan_case: JSON | None
    plan: JSON | None
    ruleset: str | None


def _stored_rules(stored: PatientFile | None) -> str:
    latest = stored.latest_plan if stored else None
    return latest.ruleset if latest else DEFAULT_RULESET


def _prepare_labs(
    result: ImportResult, ruleset: str, now: dt.datetime
) -> tuple[list[tuple[str, JSON]], list[str], list[str]]:
    """Each lab of the case checked as `b12plan lab add` checks it; refusals are listed, not raised."""
    rules = load_ruleset(ruleset)
    labs: list[tuple[str, JSON]] = []
    refused: list[str] = []
    notes: list[str] = []
    for i, lab in enumerate(result.case.get("labs") or ()):
        where = f"labs[{i}] ({lab.get('test')})"
        if not lab.get("date"):
            refused.append(f"{where}: no date; not stored (the record needs the day the sample was taken)")
            continue
        day = dt.date.fromisoformat(str(lab["date"]))
        if day > now.date():
            refused.append(f"{where}: date {day} is in the future; not stored")
            continue
        try:
            test, value, unit = check_lab(str(lab["test"]), lab["value"], lab.get("unit"), rules, where=where)
        except UserError as exc:
            refused.extend(f"{p}; not stored" for p in exc.problems)
            continue
        fields: JSON = {"taken_on": day, "test": test.value, "value": value, "unit": unit}
        for name in ("upper_limit", "lower_limit"):
            limit = lab.get(name)
            if limit is None:
                continue
            if isinstance(limit, int | float) and limit > 0:
                fields[name] = float(limit)
            else:
                notes.append(f"{where}: {name} {limit!r} is not above zero; stored without it")
        labs.append((where, fields))
    return labs, refused, notes


def _prepare_plan(
    ref: str,
    result: ImportResult,
    *,
    ruleset: str | None,
    start: dt.date | None,
    today: dt.date,
) -> tuple[JSON, JSON, str]:
    case: JSON = {**result.case}
    if ruleset:
        case["ruleset"] = ruleset
    if start:
        case["start_date"] = start.isoformat()
    try:
        plan = services.plan_document(case, today=today, ruleset=ruleset)
    except UserError as exc:
        raise UserError(
            [
                FieldProblem(
                    f"{p.field} (patient {ref})",
                    f"{p.problem} (no plan can be made; `b12plan fhir case FILE` shows the case read)",
                )
                for p in exc.problems
            ]
        ) from None
    return case, plan.to_json_dict(), plan.ruleset.id


def import_fhir(
    store: Store,
    fhir: FhirFile,
    *,
    now: dt.datetime | None = None,
    as_of: dt.date | None = None,
    plan: bool = False,
    ruleset: str | None = None,
    start: dt.date | None = None,
    reason: str | None = None,
    strict: bool = False,
) -> FhirImport:
    """Import a FHIR file into patient records (module docstring): one transaction, idempotent.

    `now` is the local wall-clock time (tests inject it); ages are counted at `as_of` (default today).
    With `plan`, each patient also gets a plan version made from their imported case (`ruleset`, `start`:
    first treatment day), with `reason` (default "imported from a FHIR file" when a version exists)."""
    clock = (now or dt.datetime.now()).replace(microsecond=0)
    if (ruleset or start or reason) and not plan:
        option = "--ruleset" if ruleset else "--start" if start else "--reason"
        raise UserError([FieldProblem(option, "only with --plan")])
    batch: ImportBatch = bundle_to_cases(fhir.resources, as_of=as_of or clock.date())
    if not batch.patients:
        raise UserError(
            [
                FieldProblem(
                    "FILE", "holds no Patient (nor a subject reference to one): nothing to import into"
                )
            ]
        )
    refs: dict[str, str] = {}
    for fhir_id in batch.patients:
        ref = fhir_patient_ref(fhir_id)
        if ref in refs:
            raise UserError(
                [
                    FieldProblem(
                        f"Patient/{fhir_id}", f"and Patient/{refs[ref]} would both be stored as {ref!r}"
                    )
                ]
            )
        refs[ref] = fhir_id
    with store.transaction() as records:
        stored = {ref: _stored_file(records, ref) for ref in refs}
    prepared: list[_Prepared] = []
    for ref, fhir_id in refs.items():
        result = batch.patients[fhir_id]
        labs, refused, notes = _prepare_labs(result, ruleset or _stored_rules(stored[ref]), clock)
        case = plan_json = plan_ruleset = None
        if plan:
            case, plan_json, plan_ruleset = _prepare_plan(
                ref, result, ruleset=ruleset, start=start, today=clock.date()
            )
        prepared.append(_Prepared(ref, fhir_id, result, labs, refused, notes, case, plan_json, plan_ruleset))
    if strict:
        missing = [line for p in prepared for line in (*p.result.unknown, *p.not_stored)] + batch.unknown
        if missing:
            raise UserError(
                [
                    FieldProblem(
                        "--strict", f"{len(missing)} items of the file would not be imported; nothing was"
                    )
                ]
            )
    with store.transaction() as records:
        done = [_store_one(records, p, reason=reason, now=clock) for p in prepared]
    return FhirImport(tuple(done), tuple(batch.unknown))


def _stored_file(records: Records, ref: str) -> PatientFile | None:
    patient = records.find_patient(ref)
    return None if patient is None else records.patient_file(patient)


def _store_one(records: Records, p: _Prepared, *, reason: str | None, now: dt.datetime) -> PatientImport:
    existing = records.find_patient(p.ref)
    patient = (
        records.add_patient(p.ref, action="import") if existing is None else records.patient(p.ref, lock=True)
    )
    stored = records.patient_file(patient)
    have = {(lab.taken_on, lab.test, lab.value, lab.unit) for lab in stored.labs}
    added = skipped = 0
    for _where, lab in p.labs:
        key = (lab["taken_on"], lab["test"], lab["value"], lab["unit"])
        if key in have:
            skipped += 1
            continue
        records.add_lab(patient.id, action="import", **lab)
        have.add(key)
        added += 1
    version: int | None = None
    latest = stored.latest_plan
    new_case = latest is None or latest.case != p.plan_case  # the same case again: already saved
    if p.plan is not None and p.plan_case is not None and p.ruleset is not None and new_case:
        why = reason or (None if latest is None else "imported from a FHIR file")
        saved = records.add_plan_version(
                patient.id, case=p.plan_case, plan=p.plan, ruleset=p.ruleset, reason=why, created_at=now,
                action="import",
            )  # fmt: skip
        version = saved.version
    return PatientImport(
        ref=p.ref,
        fhir_id=p.fhir_id,
        new=existing is None,
        labs_added=added,
        labs_skipped=skipped,
        plan_version=version,
        unknown=tuple(p.result.unknown),
        not_stored=tuple(p.not_stored),
        notes=(*p.result.notes, *p.notes),
    )
