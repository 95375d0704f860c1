"""DuckDB, PostgreSQL and Spark run the same generated query on the same synthetic population and must
write exactly the same: findings, status, rejected results and summary, row for row. Each run goes through
the service (`b12plan screen`): FHIR NDJSON in, files out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest
from screenkit import AS_OF, POPULATION

from b12plan.screening.engines import SparkEngine
from b12plan.screening.service import EngineOptions, ScreenResult, screen
from b12plan.screening.sqlgen import DIALECTS, transpile

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COMPARED = ("findings", "status", "rejected", "summary")


@pytest.fixture(scope="module")
def on_duckdb(population: Path, tmp_path_factory: pytest.TempPathFactory) -> ScreenResult:
    out = tmp_path_factory.mktemp("duckdb")
    return screen([population], out=out, as_of=AS_OF, options=EngineOptions(memory_limit="512MB", threads=2))


@pytest.fixture(scope="module")
def on_postgres(
    population: Path, screening_pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> ScreenResult:
    out = tmp_path_factory.mktemp("postgres")
    options = EngineOptions(engine="postgres", postgres_url=screening_pg_url, memory_limit="512MB")
    return screen([population], out=out, as_of=AS_OF, options=options)


@pytest.fixture(scope="module")
def on_spark(population: Path, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> ScreenResult:
    out = tmp_path_factory.mktemp("spark")
    return screen([population], out=out, as_of=AS_OF, engine=SparkEngine(spark))


def test_duckdb_finds_something_of_every_kind(on_duckdb: ScreenResult) -> None:
    assert on_duckdb.patients == POPULATION
    assert len(on_duckdb.findings) >= 7, on_duckdb.findings  # 600 people show most findings
    assert on_duckdb.rejected > 0


@pytest.mark.parametrize(
    "engine",
    [
        "postgres",
        pytest.param("spark", marks=pytest.mark.slow),
    ],  # Spark: ~30 s alone, over 60 s on a busy machine
)
def test_engines_find_exactly_the_same(
    engine: str, on_duckdb: ScreenResult, request: pytest.FixtureRequest
) -> None:
    other: ScreenResult = request.getfixturevalue(f"on_{engine}")
    assert other.engine == engine
    for name in COMPARED:
        ours, theirs = (
            pq.read_table(on_duckdb.out / f"{name}.parquet"),
            pq.read_table(other.out / f"{name}.parquet"),
        )
        assert ours.schema == theirs.schema, name
        assert ours.to_pylist() == theirs.to_pylist(), name
    assert (on_duckdb.out / "findings.csv").read_bytes() == (other.out / "findings.csv").read_bytes()


def test_sqlglot_carries_the_query_to_each_dialect() -> None:
    sql = "SELECT CAST(d + INTERVAL 14 DAY AS DATE) AS due, CAST('0.28' AS DOUBLE) AS x FROM t"
    out = {d: transpile(sql, d) for d in DIALECTS}
    assert out["duckdb"] == sql
    assert "INTERVAL '14 DAY'" in out["postgres"]
    assert "DOUBLE PRECISION" in out["postgres"]
    assert "INTERVAL '14' DAY" in out["spark"]
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        transpile(sql, "oracle")


def test_postgres_screens_tables_already_in_the_warehouse(
    on_postgres: ScreenResult, screening_pg_url: str, tmp_path: Path
) -> None:
    """No input files: the five tables the run above loaded are screened where they are."""
    options = EngineOptions(engine="postgres", postgres_url=screening_pg_url, postgres_schema="public")
    result = screen([], out=tmp_path, as_of=AS_OF, options=options)
    assert result.patients == POPULATION
    assert result.findings == on_postgres.findings
    assert pq.read_table(tmp_path / "findings.parquet").equals(
        pq.read_table(on_postgres.out / "findings.parquet")
    )
