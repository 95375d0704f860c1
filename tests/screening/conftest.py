"""Fixtures for the screening tests: a synthetic population, a Spark session and a PostgreSQL database.

Every engine must start here. Outside CI a missing engine is skipped loudly; with `CI` set it FAILS: the
three engines are never skipped quietly (the store tests' rule, tests/pg.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from screenkit import AS_OF, POPULATION

from b12plan.screening.synth import generate, write_ndjson
from pg import PostgresCluster, postgres_cluster  # noqa: F401 - the session fixture

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SEED = 11


def _unavailable(what: str, exc: BaseException) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} must run in CI, but it did not start: {exc}")
    pytest.skip(f"!!! {what} tests NOT RUN (set CI=1 to make this a failure): {exc}")


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic population as FHIR NDJSON (600 people, seed 11, histories ending 2025-06-30)."""
    folder = tmp_path_factory.mktemp("population")
    write_ndjson(generate(POPULATION, seed=SEED, as_of=AS_OF), folder)
    return folder


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for the whole test session (starting one takes ~10 s)."""
    from b12plan.screening.engines import SMALL_DATA_SPARK, EngineUnavailable, spark_session

    try:
        session = spark_session("local[2]", memory="1g", conf=SMALL_DATA_SPARK)
    except EngineUnavailable as exc:
        _unavailable("Spark", exc)
        raise
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def screening_pg_url(postgres_cluster: PostgresCluster) -> str:  # noqa: F811 - the imported fixture
    """A fresh database (bytewise collation) in the throwaway PostgreSQL cluster."""
    import psycopg

    with psycopg.connect(
        host=str(postgres_cluster.root), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            "CREATE DATABASE b12plan_screening TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    return f"postgresql://postgres@/b12plan_screening?host={postgres_cluster.root}"
