"""Inputs of a screening run, brought to the canonical layout (`layout.py`) as Parquet files, by DuckDB.

Accepted inputs (files or folders, mixed freely):

- FHIR R4 Bulk Data NDJSON, plain or gzipped (`*.ndjson`, `*.ndjson.gz`; also `.jsonl`), one resource type
  per file, of Patient, Observation, MedicationRequest, MedicationStatement, MedicationAdministration and
  Condition (other types are listed as skipped). The type is read from the first line, not the file name.
  A Bulk Data manifest (`*.json` with `output`) lists local files.
- CSV or Parquet files already in the layout, named after their table (`observations.csv`,
  `observations-2024.parquet`, ...).

What is read from FHIR, and what is left out, mirrors the single-case FHIR import
(`adapters/fhir/importer.py`): Observations with status final, amended, corrected or preliminary, coded
by LOINC (domain LOINC_ALIASES), the UCUM `code` of the quantity when its system is UCUM, else its `unit`
text; medicines by the ATC/SNOMED codings and ingredient names of `data/codes.toml`; Conditions by its
finding table, refuted or entered-in-error ones left out. Medicines given by `medicationReference` are not
read (they are counted in `IngestReport.unread`).

Reading is streaming (DuckDB's NDJSON reader, under the connection's memory limit); each layout table is
written once to Parquet, so the screening query never parses JSON.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from b12plan.adapters.fhir.bundles import read_manifest
from b12plan.adapters.fhir.codes import CodeTables, Coding
from b12plan.domain.codes import LOINC_ALIASES, Formulation, LabTest, Route
from b12plan.errors import FieldProblem, UserError
from b12plan.screening.layout import B12_CLASS, INPUT_TABLES, MEDICATIONS, Table, input_table

if TYPE_CHECKING:
    import duckdb

__all__ = ["FHIR_TYPES", "IngestReport", "Inputs", "find_inputs", "stage"]

FHIR_TYPES: tuple[str, ...] = (
    "Patient",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Condition",
)
_TABLE_OF = {
    "Patient": "patients",
    "Observation": "observations",
    "MedicationRequest": "medications",
    "MedicationStatement": "medications",
    "MedicationAdministration": "medications",
    "Condition": "conditions",
}
_NDJSON = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_LAYOUT = (".csv", ".csv.gz", ".parquet")

# Statuses read, as in the single-case FHIR import.
_OBSERVATION_READ = ("final", "amended", "corrected", "preliminary")
_REQUEST_NOT_READ = ("cancelled", "entered-in-error", "draft")
_STATEMENT_READ = ("active", "intended", "on-hold", "unknown", "completed", "stopped")
_ADMINISTRATION_NOT_READ = ("not-done", "entered-in-error")
_ONGOING = ("active", "on-hold", "unknown", "intended")

# FHIR Timing.repeat.periodUnit (UCUM time units) in days. Months and years are average calendar lengths;
# the screening query rounds an interval up to whole days.
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1, "wk": 7, "mo": 30.4375, "a": 365.25}


@dataclass(frozen=True)
class Inputs:
    """The input files of a run: FHIR NDJSON by resource type, layout files by table."""

    fhir: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    layout: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.fhir and not self.layout

    @property
    def fhir_tables(self) -> frozenset[str]:
        """The layout tables some FHIR input feeds."""
        tables = {_TABLE_OF[kind] for kind in self.fhir}
        if "MedicationRequest" in self.fhir:
            tables.add("dosages")
        return frozenset(tables)


@dataclass(frozen=True)
class IngestReport:
    """Rows written per layout table, and what was not read (no patient data)."""

    rows: Mapping[str, int]
    skipped: tuple[str, ...]
    unread: Mapping[str, int]


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    items = list(values)
    return "(" + ", ".join(_q(v) for v in items) + ")" if items else "(NULL)"


# ---------------------------------------------------------------- finding the files ---------------------


def _first_type(path: Path) -> str | None:
    """The resourceType of the first resource in an NDJSON file (None for an empty file)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    kind = json.loads(line).get("resourceType")
                    return str(kind) if kind else None
    except (OSError, ValueError, AttributeError) as exc:
        raise UserError([FieldProblem(str(path), f"is not FHIR NDJSON ({exc})")]) from None
    return None


def _layout_table(path: Path) -> Table:
    stem = path.name.split(".")[0].lower()
    for table in INPUT_TABLES:
        if stem == table.name or stem.startswith(table.name + "-") or stem.startswith(table.name + "_"):
            return table
    names = ", ".join(t.name for t in INPUT_TABLES)
    raise UserError([FieldProblem(str(path), f"is not named after a layout table ({names})")])


def _manifest_files(path: Path) -> list[Path] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "output" not in data:
        return None
    files: list[Path] = []
    for item in read_manifest(data).output:
        url = item.url.removeprefix("file://")
        if "://" in url:
            raise UserError([FieldProblem(str(path), f"lists {item.url}: download the files first")])
        target = Path(url)
        files.append(target if target.is_absolute() else path.parent / target)
    return files


def find_inputs(paths: Sequence[Path]) -> Inputs:
    """Sort the given files and folders into FHIR NDJSON by type and layout files by table."""
    fhir: dict[str, list[Path]] = {}
    layout: dict[str, list[Path]] = {}
    skipped: list[str] = []
    queue = list(paths)
    seen: set[Path] = set()
    while queue:
        path = queue.pop(0)
        if path.resolve() in seen:  # a folder and the manifest in it list the same files
            continue
        seen.add(path.resolve())
        if path.is_dir():
            queue.extend(sorted(p for p in path.iterdir() if p.is_file() or p.is_dir()))
            continue
        if not path.is_file():
            raise UserError([FieldProblem(str(path), "no such file or folder")])
        name = path.name.lower()
        if name.endswith(_NDJSON):
            kind = _first_type(path)
            if kind in FHIR_TYPES:
                fhir.setdefault(kind, []).append(path)
            elif kind is not None:
                skipped.append(f"{path.name}: {kind} is not read by the screen")
        elif name.endswith(_LAYOUT):
            layout.setdefault(_layout_table(path).name, []).append(path)
        elif name.endswith(".json") and (listed := _manifest_files(path)) is not None:
            queue.extend(listed)
        elif path.parent in paths or path in paths:
            skipped.append(f"{path.name}: not NDJSON, CSV or Parquet")
    return Inputs(
        {k: tuple(v) for k, v in fhir.items()},
        {k: tuple(v) for k, v in layout.items()},
        tuple(skipped),
    )


# ---------------------------------------------------------------- code matching, generated --------------


def _uris(codes: CodeTables, system: str) -> list[str]:
    return sorted(uri for uri, name in codes.aliases.items() if name == system)


def _coding_condition(codes: CodeTables, codings: Iterable[Coding]) -> str:
    """A lambda body over one coding `c` that holds when `c` means any of `codings`."""
    exact: dict[str, list[str]] = {}
    parts: list[str] = []
    for coding in codings:
        if coding.system in codes.hierarchical:
            prefix = coding.code.replace(".", "").upper()
            parts.append(
                f"(c.system IN {_in(_uris(codes, coding.system))} "
                f"AND starts_with(upper(replace(c.code, '.', '')), {_q(prefix)}))"
            )
        else:
            exact.setdefault(coding.system, []).append(coding.code)
    for system, values in sorted(exact.items()):
        parts.append(f"(c.system IN {_in(_uris(codes, system))} AND c.code IN {_in(values)})")
    return " OR ".join(parts) if parts else "FALSE"


def _has(codings_expr: str, condition: str) -> str:
    return f"len(list_filter({codings_expr}, lambda c: {condition})) > 0"


def _names(text_expr: str, names: Iterable[str]) -> str:
    words = sorted({n.lower() for n in names if n.strip()})
    if not words:
        return "FALSE"
    pattern = r"\b(?:" + "|".join(w.replace(" ", r"\s+") for w in words) + r")\b"
    return f"regexp_matches({text_expr}, {_q(pattern)})"


def _b12_names(codes: CodeTables) -> list[str]:
    names = [f.value for f in Formulation] + ["mecobalamin", "vitamin b12"]
    for codings in codes.formulations.values():
        names.extend(c.display.split()[0].lower() for c in codings if c.display)
    return names


def _med_class(codes: CodeTables, concept: str) -> str:
    """CASE naming the medicine class of a CodeableConcept: codes first (B12, then codes.toml order), then
    ingredient words in its text and displays, as `CodeTables.find_medication` does."""
    codings = f"{concept}.coding"
    text = (
        f"lower(concat_ws(' ', {concept}.text, "
        f"array_to_string(list_transform({codings}, lambda c: c.display), ' ')))"
    )
    b12 = [c for group in codes.formulations.values() for c in group]
    whens = [f"WHEN {_has(codings, _coding_condition(codes, b12))} THEN {_q(B12_CLASS)}"]
    whens += [
        f"WHEN {_has(codings, _coding_condition(codes, m.codings))} THEN {_q(m.id)}"
        for m in codes.medications
        if m.codings
    ]
    whens.append(f"WHEN {_names(text, _b12_names(codes))} THEN {_q(B12_CLASS)}")
    whens += [f"WHEN {_names(text, m.names)} THEN {_q(m.id)}" for m in codes.medications if m.names]
    return "CASE " + " ".join(whens) + " END"


def _route(codes: CodeTables, route_concept: str) -> str:
    injection = [codes.routes[r] for r in (Route.IM, Route.SC, Route.IV) if r in codes.routes]
    oral = [codes.routes[r] for r in (Route.ORAL,) if r in codes.routes]
    codings = f"{route_concept}.coding"
    return (
        f"CASE WHEN {_has(codings, _coding_condition(codes, injection))} THEN 'injection' "
        f"WHEN {_has(codings, _coding_condition(codes, oral))} THEN 'oral' END"
    )


def _loinc_test(code_expr: str) -> str:
    whens = " ".join(f"WHEN {_q(loinc)} THEN {_q(test.value)}" for loinc, test in LOINC_ALIASES.items())
    return f"CASE {code_expr} {whens} END"


def _test_code(column: str) -> str:
    """A test column of layout input: our code as it is, a LOINC code translated."""
    ours = _in(t.value for t in LabTest)
    return f"CASE WHEN lower({column}) IN {ours} THEN lower({column}) ELSE {_loinc_test(column)} END"


def _patient_ref(ref: str) -> str:
    return (
        f"CASE WHEN starts_with({ref}, 'Patient/') THEN substr({ref}, 9) "
        f"ELSE regexp_extract({ref}, '([^/:]+)$', 1) END"
    )


def _date(expr: str) -> str:
    return f"TRY_CAST(left({expr}, 10) AS DATE)"


# ---------------------------------------------------------------- FHIR to layout, per resource type -----

_CODING = "STRUCT(system VARCHAR, code VARCHAR, display VARCHAR)[]"
_CONCEPT = f"STRUCT(coding {_CODING}, text VARCHAR)"
_PERIOD = 'STRUCT("start" VARCHAR, "end" VARCHAR)'
_REF = "STRUCT(reference VARCHAR)"
_REPEAT = (
    f"STRUCT(frequency DOUBLE, period DOUBLE, periodUnit VARCHAR, count INTEGER, boundsPeriod {_PERIOD})"
)
_DOSAGE = f"STRUCT(sequence INTEGER, timing STRUCT(repeat {_REPEAT}), route {_CONCEPT})"

_COLUMNS: dict[str, dict[str, str]] = {
    "Patient": {"id": "VARCHAR", "birthDate": "VARCHAR", "gender": "VARCHAR"},
    "Observation": {
        "id": "VARCHAR",
        "status": "VARCHAR",
        "code": f"STRUCT(coding {_CODING})",
        "subject": _REF,
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": _PERIOD,
        "effectiveInstant": "VARCHAR",
        "valueQuantity": "STRUCT(value DOUBLE, unit VARCHAR, system VARCHAR, code VARCHAR)",
        "referenceRange": "STRUCT(low STRUCT(value DOUBLE), high STRUCT(value DOUBLE))[]",
    },
    "MedicationRequest": {
        "id": "VARCHAR",
        "status": "VARCHAR",
        "medicationCodeableConcept": _CONCEPT,
        "medicationReference": _REF,
        "subject": _REF,
        "authoredOn": "VARCHAR",
        "dosageInstruction": f"{_DOSAGE}[]",
        "dispenseRequest": f"STRUCT(validityPeriod {_PERIOD})",
    },
    "MedicationStatement": {
        "id": "VARCHAR",
        "status": "VARCHAR",
        "medicationCodeableConcept": _CONCEPT,
        "medicationReference": _REF,
        "subject": _REF,
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": _PERIOD,
        "dateAsserted": "VARCHAR",
        "dosage": f"STRUCT(route {_CONCEPT})[]",
    },
    "MedicationAdministration": {
        "id": "VARCHAR",
        "status": "VARCHAR",
        "medicationCodeableConcept": _CONCEPT,
        "medicationReference": _REF,
        "subject": _REF,
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": _PERIOD,
        "dosage": f"STRUCT(route {_CONCEPT})",
    },
    "Condition": {
        "id": "VARCHAR",
        "clinicalStatus": f"STRUCT(coding {_CODING})",
        "verificationStatus": f"STRUCT(coding {_CODING})",
        "code": f"STRUCT(coding {_CODING}, text VARCHAR)",
        "subject": _REF,
        "onsetDateTime": "VARCHAR",
        "onsetPeriod": _PERIOD,
        "recordedDate": "VARCHAR",
    },
}


def _read_json(kind: str, path: Path) -> str:
    columns = "{" + ", ".join(f"{_q(k)}: {_q(v)}" for k, v in _COLUMNS[kind].items()) + "}"
    return (
        f"read_json({_q(str(path))}, format = 'newline_delimited', columns = {columns}, "
        "compression = 'auto_detect')"
    )


def _patients_sql(path: Path) -> str:
    return f"""SELECT id AS patient_id, {_date("birthDate")} AS birth_date,
  COALESCE(gender, 'unknown') AS sex, {_q(path.name)} AS source
FROM {_read_json("Patient", path)}
WHERE id IS NOT NULL"""


def _observations_sql(path: Path, codes: CodeTables, tests: Sequence[str]) -> str:
    loinc = _q(codes.uris["loinc"])
    ucum = _q(codes.uris["ucum"])
    known = _in(LOINC_ALIASES)
    # Only the LOINC codes of the screened tests are kept: the filter reads the code itself, so the test
    # name is worked out once, for the rows kept.
    wanted = _in(code for code, test in LOINC_ALIASES.items() if test.value in tests)
    first = "code.coding[1]"
    # The first coding is nearly always the LOINC one: test it directly, search the list only otherwise.
    code = (
        f"CASE WHEN {first}.system = {loinc} AND {first}.code IN {known} THEN {first}.code "
        f"ELSE list_filter(code.coding, lambda c: c.system = {loinc} AND c.code IN {known})[1].code END"
    )
    return f"""SELECT {_patient_ref("ref")} AS patient_id, observation_id, {_loinc_test("loinc")} AS test,
  value, unit, effective_date, upper_limit, lower_limit, {_q(path.name)} AS source
FROM (
  SELECT subject.reference AS ref, id AS observation_id, {code} AS loinc,
    valueQuantity.value AS value,
    CASE WHEN valueQuantity.system = {ucum} AND valueQuantity.code <> '' THEN valueQuantity.code
      ELSE valueQuantity.unit END AS unit,
    {_date('COALESCE(effectiveDateTime, effectivePeriod."start", effectiveInstant)')} AS effective_date,
    referenceRange[1].high.value AS upper_limit,
    referenceRange[1].low.value AS lower_limit
  FROM {_read_json("Observation", path)}
  WHERE status IN {_in(_OBSERVATION_READ)}
)
WHERE loinc IN {wanted} AND ref IS NOT NULL"""


def _medications_sql(kind: str, path: Path, codes: CodeTables) -> str:
    concept = "medicationCodeableConcept"
    if kind == "MedicationRequest":
        start = _date("authoredOn")
        explicit_end = _date(
            'COALESCE(dispenseRequest.validityPeriod."end", '
            'dosageInstruction[1].timing.repeat.boundsPeriod."end")'
        )
        route = _route(codes, "dosageInstruction[1].route")
        keep = f"(status IS NULL OR status NOT IN {_in(_REQUEST_NOT_READ)})"
    elif kind == "MedicationStatement":
        start = _date('COALESCE(effectivePeriod."start", effectiveDateTime, dateAsserted)')
        explicit_end = _date('effectivePeriod."end"')
        route = _route(codes, "dosage[1].route")
        keep = f"status IN {_in(_STATEMENT_READ)}"
    else:
        start = _date('COALESCE(effectiveDateTime, effectivePeriod."start")')
        explicit_end = start
        route = _route(codes, "dosage.route")
        keep = f"(status IS NULL OR status NOT IN {_in(_ADMINISTRATION_NOT_READ)})"
    # A past record without an end date ends where it starts; an ongoing one runs to the screening date.
    end = (
        f"COALESCE({explicit_end}, CASE WHEN status IS NULL OR status IN {_in(_ONGOING)} THEN NULL "
        f"ELSE {start} END)"
    )
    return f"""SELECT {", ".join(MEDICATIONS.names)}
FROM (
  SELECT {_patient_ref("subject.reference")} AS patient_id, id AS medication_id, {_q(kind)} AS resource_type,
    {_med_class(codes, concept)} AS med_class, {route} AS route, status,
    {start} AS start_date, {end} AS end_date, {_q(path.name)} AS source
  FROM {_read_json(kind, path)}
  WHERE {keep}
)
WHERE med_class IS NOT NULL AND patient_id IS NOT NULL"""


def _unread_references_sql(kind: str, path: Path) -> str:
    return (
        f"SELECT COUNT(*) FROM {_read_json(kind, path)} "
        "WHERE medicationCodeableConcept IS NULL AND medicationReference.reference IS NOT NULL"
    )


def _dosages_sql(path: Path, codes: CodeTables) -> str:
    days = " ".join(f"WHEN {_q(unit)} THEN {factor!r}" for unit, factor in _PERIOD_DAYS.items())
    return f"""SELECT patient_id, medication_id, CAST(COALESCE(di.sequence, ordinal) AS INTEGER) AS sequence,
  di.timing.repeat.period * (CASE di.timing.repeat.periodUnit {days} END)
    / COALESCE(NULLIF(di.timing.repeat.frequency, 0), 1) AS interval_days,
  di.timing.repeat.count AS dose_count
FROM (
  SELECT {_patient_ref("subject.reference")} AS patient_id, id AS medication_id,
    unnest(dosageInstruction) AS di, generate_subscripts(dosageInstruction, 1) AS ordinal,
    {_med_class(codes, "medicationCodeableConcept")} AS med_class
  FROM {_read_json("MedicationRequest", path)}
  WHERE (status IS NULL OR status NOT IN {_in(_REQUEST_NOT_READ)})
)
WHERE med_class IS NOT NULL AND patient_id IS NOT NULL"""


def _conditions_sql(path: Path, codes: CodeTables) -> str:
    kinds: list[str] = []
    code_whens: list[str] = []
    for finding in codes.findings:
        cond = _has("code.coding", _coding_condition(codes, [finding.coding]))
        if finding.cause is not None:
            kind, value = "cause", finding.cause.value
        elif finding.condition is not None:
            kind, value = "condition", finding.condition.value
        else:
            kind, value = "pregnant", "pregnant"
        kinds.append(f"WHEN {cond} THEN {_q(kind)}")
        code_whens.append(f"WHEN {cond} THEN {_q(value)}")
    kind_case = "CASE " + " ".join(kinds) + " END" if kinds else "CAST(NULL AS VARCHAR)"
    code_case = "CASE " + " ".join(code_whens) + " END" if code_whens else "CAST(NULL AS VARCHAR)"
    refuted = (
        "len(list_filter(verificationStatus.coding, lambda c: c.code IN ('refuted', 'entered-in-error'))) > 0"
    )
    inactive = "len(list_filter(clinicalStatus.coding, lambda c: c.code IN ('inactive', 'resolved'))) > 0"
    return f"""SELECT patient_id, condition_id, kind, code, onset_date, source
FROM (
  SELECT {_patient_ref("subject.reference")} AS patient_id, id AS condition_id,
    {kind_case} AS kind, {code_case} AS code,
    {_date('COALESCE(onsetDateTime, onsetPeriod."start", recordedDate)')} AS onset_date,
    {_q(path.name)} AS source, COALESCE({inactive}, FALSE) AS inactive
  FROM {_read_json("Condition", path)}
  WHERE NOT COALESCE({refuted}, FALSE)
)
WHERE kind IS NOT NULL AND patient_id IS NOT NULL AND (kind = 'cause' OR NOT inactive)"""


# ---------------------------------------------------------------- layout files -------------------------


def _layout_sql(
    con: duckdb.DuckDBPyConnection, table: Table, files: Sequence[Path], tests: Sequence[str]
) -> str:
    parts: list[str] = []
    for path in files:
        name = path.name.lower()
        reader = (
            f"read_parquet({_q(str(path))})"
            if name.endswith(".parquet")
            else f"read_csv({_q(str(path))}, header = true, all_varchar = true)"
        )
        present = {row[0] for row in con.sql(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        missing = [c.name for c in table.columns if c.required and c.name not in present]
        if missing:
            raise UserError([FieldProblem(str(path), f"column {', '.join(missing)} is required")])
        test = _test_code("CAST(test AS VARCHAR)")
        if "test" in present and name.endswith(".parquet") and _our_codes_only(con, reader):
            test = '"test"'  # read as it is: a filter on it reaches the Parquet scan
        cols: list[str] = []
        for column in table.columns:
            if column.name not in present:
                value = f"{_q(path.name)}" if column.name == "source" else "NULL"
            elif column.name == "test":
                value = test
            else:
                value = f'"{column.name}"'
            cols.append(f"CAST({value} AS {column.type}) AS {column.name}")
        where = f" WHERE {test} IN {_in(tests)}" if table.name == "observations" else ""
        parts.append(f"SELECT {', '.join(cols)} FROM {reader}{where}")
    return "\nUNION ALL\n".join(parts)


def _our_codes_only(con: duckdb.DuckDBPyConnection, reader: str) -> bool:
    """Whether a Parquet file's `test` column holds b12plan test codes only (no LOINC code to translate), as
    the files `--save-layout` writes do. Reading one dictionary-encoded column is cheap next to translating
    the column row by row in every statement that reads the table."""
    ours = {t.value for t in LabTest}
    values = con.execute(f"SELECT DISTINCT CAST(test AS VARCHAR) FROM {reader}").fetchall()
    return all(value is None or value in ours for (value,) in values)


def _empty_sql(table: Table) -> str:
    cols = ", ".join(f"CAST(NULL AS {c.type}) AS {c.name}" for c in table.columns)
    return f"SELECT {cols} WHERE 1 = 0"


# ---------------------------------------------------------------- staging -----------------------------


def _fhir_parts(inputs: Inputs, codes: CodeTables, tests: Sequence[str]) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {t.name: [] for t in INPUT_TABLES}
    for kind, files in inputs.fhir.items():
        table = _TABLE_OF[kind]
        for path in files:
            if kind == "Patient":
                parts[table].append(_patients_sql(path))
            elif kind == "Observation":
                parts[table].append(_observations_sql(path, codes, tests))
            elif kind == "Condition":
                parts[table].append(_conditions_sql(path, codes))
            else:
                parts[table].append(_medications_sql(kind, path, codes))
                if kind == "MedicationRequest":
                    parts["dosages"].append(_dosages_sql(path, codes))
    return parts


def _first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, ...] | None:
    """Run a statement to the end (DuckDB keeps a result open until it is read) and return its first row."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def stage(
    con: duckdb.DuckDBPyConnection,
    inputs: Inputs,
    codes: CodeTables,
    *,
    tests: Sequence[str],
    workdir: Path | None = None,
    read_in_place: bool = True,
    on_table: Callable[[str], None] | None = None,
) -> tuple[dict[str, Path], IngestReport]:
    """Bring the inputs to the layout, keeping the results of `tests` only (the tests a screen reads).

    With `workdir`, each table is written to `workdir/<table>.parquet` (for an engine to load) and the
    paths are returned; a table given only as layout Parquet files is instead a temporary view of the
    connection over those files, read in place, unless `read_in_place` is false (the connection only
    stages for another engine). Without `workdir`, each table becomes a temporary table (or, for layout
    Parquet input, a view) of the connection itself, under its layout name, and no paths are returned.

    Parquet files in `workdir` rather than tables in memory: on a large population the tables would
    outgrow the memory limit and be spilled and read back by every statement, where DuckDB reads the
    compressed columns of a Parquet file as it needs them.
    """
    import duckdb

    parts = _fhir_parts(inputs, codes, tests)
    for name, files in inputs.layout.items():
        parts[name].append(_layout_sql(con, input_table(name), files, tests))
    paths: dict[str, Path] = {}
    rows: dict[str, int] = {}
    for table in INPUT_TABLES:
        if on_table is not None:
            on_table(table.name)
        body = "\nUNION ALL\n".join(parts[table.name]) or _empty_sql(table)
        typed = ", ".join(f"CAST({c.name} AS {c.type}) AS {c.name}" for c in table.columns)
        select = f"SELECT {typed} FROM ({body})"
        only_parquet = table.name not in inputs.fhir_tables and all(
            p.name.lower().endswith(".parquet") for p in inputs.layout.get(table.name, ())
        )
        try:
            if only_parquet and read_in_place:  # nothing to parse, so nothing to keep
                _first_row(con, f"CREATE OR REPLACE TEMP VIEW {table.name} AS {select}")
                written = _first_row(con, f"SELECT COUNT(*) FROM {table.name}")
            elif workdir is not None:
                path = workdir / f"{table.name}.parquet"
                written = _first_row(con, f"COPY ({select}) TO {_q(str(path))} (FORMAT parquet)")
                paths[table.name] = path
            else:
                written = _first_row(con, f"CREATE OR REPLACE TEMP TABLE {table.name} AS {select}")
        except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
            raise UserError([FieldProblem(table.name, f"input cannot be read: {exc}")]) from None
        rows[table.name] = int(str(written[0])) if written else 0
    unread: dict[str, int] = {}
    for kind in ("MedicationRequest", "MedicationStatement", "MedicationAdministration"):
        for path in inputs.fhir.get(kind, ()):
            count = _first_row(con, _unread_references_sql(kind, path))
            if count and count[0]:
                key = f"{kind} by medicationReference"
                unread[key] = unread.get(key, 0) + int(str(count[0]))
    return paths, IngestReport(rows, inputs.skipped, unread)
