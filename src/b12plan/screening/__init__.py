"""Population screening: findings over many people, from the same rule sets as the planning core.

    layout.py       the five input tables (canonical columns) and the three result tables
    ingest.py       FHIR Bulk Data NDJSON and layout CSV/Parquet -> the layout (DuckDB)
    units_table.py  the rule set's numbers as cut-offs per unit spelling (domain.units)
    sqlgen.py       the screening SQL, generated from the rule set; carried to other dialects by sqlglot
    sqlfindings.py  its findings statements, one per `screen` rule; sqlparts.py the pieces both share
    engines.py      DuckDB (default), PostgreSQL, Spark
    service.py      the use case: screen, run_queries, synthesize
    report.py       summary table and HTML report (counts and inline SVG charts only)
    synth.py        a synthetic population as FHIR NDJSON (documented distributions, seeded)

docs/screening.md describes the layout, the findings and the synthetic population.
"""

from b12plan.screening.engines import DuckDBEngine, Engine, EngineUnavailable, PostgresEngine, SparkEngine
from b12plan.screening.layout import FINDINGS, INPUT_TABLES, OUTPUT_TABLES, REJECTED, STATUS
from b12plan.screening.service import (
    EngineOptions,
    Progress,
    ScreenResult,
    ScreenTables,
    run_queries,
    screen,
    synthesize,
)
from b12plan.screening.synth import Profile, SynthPatient, generate, write_ndjson

__all__ = [
    "FINDINGS",
    "INPUT_TABLES",
    "OUTPUT_TABLES",
    "REJECTED",
    "STATUS",
    "DuckDBEngine",
    "Engine",
    "EngineOptions",
    "EngineUnavailable",
    "PostgresEngine",
    "Profile",
    "Progress",
    "ScreenResult",
    "ScreenTables",
    "SparkEngine",
    "SynthPatient",
    "generate",
    "run_queries",
    "screen",
    "synthesize",
    "write_ndjson",
]
