"""Population screening, the use case: inputs -> layout -> screening query on an engine -> files and report.

    screen(inputs, out=..., ruleset=..., as_of=..., options=...)   the whole run (`b12plan screen`)
    run_queries(engine, rules, as_of)                               the query part alone (tests, notebooks)
    synthesize(n, out, seed=...)                                    a synthetic population (`b12plan synth`)

Nothing here logs or prints patient data: progress carries stage names and fractions only, and the
result carries counts.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from b12plan.domain.codes import Cause, Condition
from b12plan.domain.rules import RuleSet, ScreenRule
from b12plan.errors import FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET, load_ruleset
from b12plan.screening.engines import DuckDBEngine, Engine, PostgresEngine, SparkEngine, arrow_type
from b12plan.screening.ingest import IngestReport, Inputs, find_inputs, stage
from b12plan.screening.layout import FINDINGS, REJECTED, STATUS, Table
from b12plan.screening.sqlgen import (
    FACTS_TABLE,
    FINDINGS_TABLE,
    STATE_TABLE,
    Meanings,
    build_queries,
    unit_pairs_sql,
)
from b12plan.screening.synth import SynthSummary, generate, write_ndjson
from b12plan.screening.units_table import build_unit_table, screened_tests

__all__ = [
    "EngineName",
    "EngineOptions",
    "Progress",
    "ScreenResult",
    "ScreenTables",
    "meanings",
    "run_queries",
    "screen",
    "synthesize",
    "totals",
]

EngineName = Literal["duckdb", "postgres", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "postgres", "spark")


class Progress(Protocol):
    """Where a long run reports how far it is: a stage name, then fractions (0..1) of that stage."""

    def stage(self, label: str) -> None: ...
    def advance(self, fraction: float) -> None: ...


class _Quiet:
    def stage(self, label: str) -> None:
        pass

    def advance(self, fraction: float) -> None:
        pass


@dataclass(frozen=True)
class EngineOptions:
    """Which engine runs the query, and its settings."""

    engine: EngineName = "duckdb"
    memory_limit: str = "1GB"
    threads: int | None = None
    postgres_url: str | None = None
    postgres_schema: str | None = None
    spark_master: str = "local[*]"
    work_dir: Path | None = None
    save_layout: Path | None = None  # also keep the staged layout tables here, as Parquet


@dataclass(frozen=True)
class ScreenTables:
    """The result tables of a run (layout `FINDINGS`, `STATUS`, `REJECTED`), and counts by age band:
    `status_counts` and `finding_counts` hold `code`, `band` and `people`."""

    findings: pa.Table
    status: pa.Table
    rejected: pa.Table
    status_counts: pa.Table
    finding_counts: pa.Table


@dataclass(frozen=True)
class ScreenResult:
    """What a run wrote, and counts for the summary (no patient data)."""

    out: Path
    files: dict[str, Path]
    ruleset: str
    as_of: dt.date
    engine: str
    patients: int
    findings: dict[str, int]
    status: dict[str, int]
    rejected: int
    seconds: float
    ingest: IngestReport | None = None
    rows_in: dict[str, int] = field(default_factory=dict)


def meanings() -> Meanings:
    """What medicine classes mean for the status (from data/codes.toml)."""
    from b12plan.adapters.fhir.codes import load_codes

    cause: dict[Cause, list[str]] = {}
    condition: dict[Condition, list[str]] = {}
    for med in load_codes().medications:
        if med.cause is not None:
            cause.setdefault(med.cause, []).append(med.id)
        if med.condition is not None:
            condition.setdefault(med.condition, []).append(med.id)
    return Meanings({k: tuple(v) for k, v in cause.items()}, {k: tuple(v) for k, v in condition.items()})


def _conform(table: pa.Table, layout: Table) -> pa.Table:
    """Cast an engine's result to the layout's column types (engines differ in integer widths and nulls)."""
    arrays: list[Any] = []
    for column in layout.columns:
        kind = arrow_type(column.type)
        if column.name in table.column_names:
            arrays.append(table.column(column.name).cast(kind))
        else:
            arrays.append(pa.array([None] * table.num_rows, type=kind))
    return pa.table(arrays, names=list(layout.names))


Text = Any  # a pyarrow string array (pyarrow's stubs type its string kernels too narrowly to say more)


def _concat(*parts: Any) -> Text:
    """Row-by-row join of text arrays and scalars, the last argument the separator."""
    return pc.call_function("binary_join_element_wise", list(parts))


def _text(column: Any, prefix: str = "") -> Text:
    """A column as text ('' for null), with `prefix` before every non-null value."""
    text = pc.cast(column, pa.string())
    if prefix:
        text = _concat(pa.scalar(prefix), text, pa.scalar(" "))
    return pc.fill_null(text, "")


def _join(parts: list[Text], sep: str) -> Text:
    """Join non-empty texts row by row with `sep` (no nulls: `_text` turned them into '')."""
    joined = _concat(*parts, pa.scalar(sep))
    pattern = "(" + sep.replace(" ", "\\s") + ")+"
    squeezed = pc.replace_substring_regex(joined, pattern, sep)
    return pc.utf8_trim(squeezed, characters=sep)


def _with_evidence(findings: pa.Table) -> pa.Table:
    """The `evidence` column: the row's values in words (`b12_total 150 pmol/L on 2025-01-02; due ...`)."""
    if not findings.num_rows:
        return findings
    findings = findings.combine_chunks()

    def col(name: str) -> Any:
        return findings.column(name).chunk(0)

    parts = [
        _join(
            [
                _text(col(f"item{x}")),
                _text(col(f"value{x}")),
                _text(col(f"unit{x}")),
                _text(col(f"date{x}"), "on"),
            ],
            " ",
        )
        for x in ("", "_2")
    ]
    parts += [_text(col("since"), "since"), _text(col("due"), "due")]
    text = _join(parts, "; ")
    return findings.set_column(findings.column_names.index("evidence"), "evidence", text)


_COUNT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("code", pa.string()),
    ("band", pa.string()),
    ("people", pa.int64()),
]
_COUNTS = pa.schema(_COUNT_COLUMNS)


def run_queries(
    engine: Engine,
    rules: RuleSet,
    as_of: dt.date,
    *,
    progress: Progress | None = None,
) -> ScreenTables:
    """Run the screening statements on an engine whose five layout tables are already visible."""
    progress = progress or _Quiet()
    progress.stage("reading units")
    pairs = engine.fetch(unit_pairs_sql(rules)).to_pylist()
    unit_table = build_unit_table(rules, ((str(r["test"]), r["unit"]) for r in pairs))
    queries = build_queries(rules, as_of=as_of, units=unit_table, meanings=meanings()).to(engine.dialect)
    progress.stage("status per person")
    engine.materialize(STATE_TABLE, queries.state)
    progress.stage("facts per person")
    engine.materialize(FACTS_TABLE, queries.facts)
    progress.stage("findings")
    engine.materialize(FINDINGS_TABLE, queries.findings)
    findings = _with_evidence(_conform(engine.fetch(queries.findings_out), FINDINGS))
    progress.stage("status table")
    status = _conform(engine.fetch(queries.status), STATUS)
    progress.stage("rejected results")
    rejected = _conform(engine.fetch(queries.rejected), REJECTED)
    progress.stage("counts")
    status_counts = engine.fetch(queries.status_counts).cast(_COUNTS)
    finding_counts = engine.fetch(queries.finding_counts).cast(_COUNTS)
    return ScreenTables(findings, status, rejected, status_counts, finding_counts)


def _open_engine(options: EngineOptions, work: Path, progress: Progress) -> Engine:
    if options.engine == "duckdb":
        return DuckDBEngine(
            memory_limit=options.memory_limit,
            threads=options.threads,
            temp_dir=work / "spill",
            progress=progress.advance,
        )
    if options.engine == "postgres":
        if not options.postgres_url:
            raise UserError([FieldProblem("--postgres-url", "is needed with --engine postgres")])
        return PostgresEngine(options.postgres_url, schema=options.postgres_schema)
    if options.engine == "spark":
        return SparkEngine(master=options.spark_master)
    raise UserError(
        [FieldProblem("--engine", f"{options.engine!r} is not an engine; use {', '.join(ENGINES)}")]
    )


def _write(table: pa.Table, out: Path, name: str, files: dict[str, Path], *, csv: bool = True) -> None:
    pq.write_table(table, out / f"{name}.parquet")
    files[f"{name}.parquet"] = out / f"{name}.parquet"
    if csv:
        pacsv.write_csv(table, out / f"{name}.csv")
        files[f"{name}.csv"] = out / f"{name}.csv"


def _stage(
    found: Inputs, engine: Engine, rules: RuleSet, options: EngineOptions, work: Path, progress: Progress
) -> IngestReport:
    """Bring the inputs to the layout: into the DuckDB engine itself, else to Parquet files it loads."""
    from b12plan.adapters.fhir.codes import load_codes

    codes = load_codes()
    tests = [t.value for t in screened_tests(rules)]
    staging = (
        engine
        if isinstance(engine, DuckDBEngine)
        else DuckDBEngine(memory_limit=options.memory_limit, threads=options.threads, temp_dir=work / "spill")
    )
    keep = options.save_layout
    try:
        paths, report = staging.watch(
            lambda: stage(
                staging.con,
                found,
                codes,
                tests=tests,
                workdir=keep or work,
                read_in_place=staging is engine and keep is None,
                on_table=lambda t: progress.stage(f"reading {t}"),
            )
        )
    finally:
        if staging is not engine:
            staging.close()
    if paths:
        progress.stage("loading tables")
        engine.load(paths)
    return report


def _check_layout_folder(folder: Path, found: Inputs) -> None:
    """The folder `--save-layout` writes `<table>.parquet` files into: made if missing, and never a folder
    an input file of this run is in (the run would overwrite what it is reading)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError([FieldProblem("--save-layout", f"cannot be made ({exc.strerror})")]) from None
    if not folder.is_dir():
        raise UserError([FieldProblem("--save-layout", "is not a folder")])
    where = folder.resolve()
    files = [p for group in (*found.fhir.values(), *found.layout.values()) for p in group]
    if any(p.resolve().parent == where for p in files):
        problem = "holds input files of this run: choose another folder"
        raise UserError([FieldProblem("--save-layout", problem)])


def totals(counts: pa.Table) -> dict[str, int]:
    """People per code from a counts-by-band table (`ScreenTables.status_counts` or `finding_counts`)."""
    out: dict[str, int] = {}
    for row in counts.to_pylist():
        out[str(row["code"])] = out.get(str(row["code"]), 0) + int(row["people"])
    return dict(sorted(out.items()))


def screen(
    inputs: Sequence[Path],
    *,
    out: Path,
    ruleset: str = DEFAULT_RULESET,
    as_of: dt.date,
    options: EngineOptions | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> ScreenResult:
    """Screen a population and write findings, status, rejected results, a summary and an HTML report.

    `inputs`: FHIR NDJSON and layout CSV/Parquet files or folders (`ingest.find_inputs`). With no inputs
    the engine's own five tables are screened (PostgreSQL: data already in a warehouse). `engine` lets a
    caller pass an engine it already holds (a shared Spark session).
    """
    from b12plan.screening.report import summary_table, write_report

    began = time.monotonic()
    options = options or EngineOptions()
    progress = progress or _Quiet()
    rules = load_ruleset(ruleset)
    found = find_inputs(list(inputs))
    if found.empty and inputs:
        raise UserError([FieldProblem("INPUT", "no FHIR NDJSON, CSV or Parquet file found")])
    if found.empty and options.engine != "postgres" and engine is None:
        raise UserError([FieldProblem("INPUT", "give at least one input file or folder")])
    out.mkdir(parents=True, exist_ok=True)
    if options.save_layout is not None:
        _check_layout_folder(options.save_layout, found)
    work = Path(tempfile.mkdtemp(prefix="b12plan-screen-", dir=options.work_dir))
    opened = engine or _open_engine(options, work, progress)
    report: IngestReport | None = None
    try:
        if not found.empty:
            report = _stage(found, opened, rules, options, work, progress)
        tables = run_queries(opened, rules, as_of, progress=progress)
    finally:
        if engine is None:
            opened.close()
        shutil.rmtree(work, ignore_errors=True)
    progress.stage("writing results")
    files: dict[str, Path] = {}
    _write(tables.findings, out, "findings", files)
    _write(tables.status, out, "status", files, csv=False)
    _write(tables.rejected, out, "rejected", files)
    _write(summary_table(tables, rules), out, "summary", files)
    progress.stage("report")
    result = ScreenResult(
        out=out,
        files=files,
        ruleset=rules.id,
        as_of=as_of,
        engine=opened.name,
        patients=tables.status.num_rows,
        findings=totals(tables.finding_counts),
        status=totals(tables.status_counts),
        rejected=tables.rejected.num_rows,
        seconds=time.monotonic() - began,
        ingest=report,
        rows_in=dict(report.rows) if report else {},
    )
    files["report.html"] = write_report(out / "report.html", tables, rules, result)
    return result


def screen_rules(rules: RuleSet) -> list[ScreenRule]:
    """The screening rules of a rule set, in file order."""
    return list(rules.of(ScreenRule))


def synthesize(
    patients: int, out: Path, *, seed: int = 0, as_of: dt.date = dt.date(2025, 6, 30), compress: bool = False
) -> SynthSummary:
    """Write a synthetic population as FHIR NDJSON (see `synth.py` and docs/screening.md)."""
    if patients < 1:
        raise UserError([FieldProblem("--patients", "must be at least 1")])
    return write_ndjson(generate(patients, seed=seed, as_of=as_of), out, compress=compress)
