"""Helpers for the screening tests: build synthetic people by hand, and screen them in-process."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterable
from pathlib import Path

from b12plan.adapters.fhir.codes import load_codes
from b12plan.domain.codes import Cause, Condition, LabTest
from b12plan.domain.rules import RuleSet
from b12plan.screening.engines import DuckDBEngine, Engine
from b12plan.screening.ingest import find_inputs, stage
from b12plan.screening.service import ScreenTables, run_queries
from b12plan.screening.synth import (
    SynthAdministration,
    SynthCondition,
    SynthLab,
    SynthMedication,
    SynthPatient,
    SynthPhase,
    write_ndjson,
)
from b12plan.screening.units_table import screened_tests

AS_OF = dt.date(2025, 6, 30)
POPULATION = 600  # people in the shared synthetic population (conftest.population)
_ids = itertools.count(1)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def lab(
    test: LabTest | str,
    value: float,
    unit: str | None,
    date: str | dt.date | None,
    *,
    upper: float | None = None,
    ucum: bool = True,
    status: str = "final",
) -> SynthLab:
    when = day(date) if isinstance(date, str) else date
    return SynthLab(
        f"o{next(_ids):06d}", LabTest(test), value, unit, ucum and unit is not None, when, upper, status
    )


def statement(med_class: str, start: str, end: str | None = None, *, route: str = "oral") -> SynthMedication:
    return SynthMedication(
        f"m{next(_ids):06d}",
        "MedicationStatement",
        med_class,
        route,  # type: ignore[arg-type]
        "active" if end is None else "completed",
        day(start),
        day(end) if end else None,
    )


def prescription(
    start: str, phases: Iterable[SynthPhase], *, status: str = "active", end: str | None = None
) -> SynthMedication:
    return SynthMedication(
        f"r{next(_ids):06d}",
        "MedicationRequest",
        "b12",
        "injection",
        status,
        day(start),
        day(end) if end else None,
        tuple(phases),
    )


def given(request: SynthMedication, *dates: str) -> list[SynthAdministration]:
    return [SynthAdministration(f"a{next(_ids):06d}", day(d), request.id) for d in dates]


def condition(code: Cause | Condition, onset: str | None = None) -> SynthCondition:
    return SynthCondition(f"c{next(_ids):06d}", code, day(onset) if onset else None)


def person(
    *,
    labs: Iterable[SynthLab] = (),
    medications: Iterable[SynthMedication] = (),
    administrations: Iterable[SynthAdministration] = (),
    conditions: Iterable[SynthCondition] = (),
    pid: str | None = None,
    born: str = "1960-01-01",
) -> SynthPatient:
    return SynthPatient(
        pid or f"p{next(_ids):06d}",
        day(born),
        "female",
        tuple(labs),
        tuple(medications),
        tuple(administrations),
        tuple(conditions),
        "hand-made",
    )


def stage_into(engine: Engine, folder: Path, rules: RuleSet) -> None:
    """Make the five layout tables of the FHIR files in `folder` visible to `engine`."""
    tests = [t.value for t in screened_tests(rules)]
    inputs = find_inputs([folder])
    if isinstance(engine, DuckDBEngine):
        stage(engine.con, inputs, load_codes(), tests=tests)
        return
    staging = DuckDBEngine(memory_limit="512MB")
    try:
        work = Path(tempfile.mkdtemp(prefix="b12plan-test-stage-"))
        paths, _ = stage(staging.con, inputs, load_codes(), tests=tests, workdir=work)
    finally:
        staging.close()
    engine.load(paths)


def screen_people(
    people: Iterable[SynthPatient], rules: RuleSet, *, as_of: dt.date = AS_OF, engine: Engine | None = None
) -> ScreenTables:
    """Write people as FHIR NDJSON, read them back and screen them (DuckDB unless `engine` is given)."""
    with tempfile.TemporaryDirectory(prefix="b12plan-test-") as tmp:
        folder = Path(tmp)
        write_ndjson(people, folder)
        opened = engine or DuckDBEngine(memory_limit="512MB", threads=2)
        try:
            stage_into(opened, folder, rules)
            return run_queries(opened, rules, as_of)
        finally:
            if engine is None:
                opened.close()


def findings_of(tables: ScreenTables) -> dict[str, set[str]]:
    """patient id -> finding codes."""
    out: dict[str, set[str]] = {}
    for row in tables.findings.select(["patient_id", "finding"]).to_pylist():
        out.setdefault(row["patient_id"], set()).add(row["finding"])
    return out


def status_of(tables: ScreenTables) -> dict[str, str]:
    return {r["patient_id"]: r["status"] for r in tables.status.select(["patient_id", "status"]).to_pylist()}
