"""Where the screening query runs: DuckDB (embedded, the default), PostgreSQL, or Apache Spark.

Each engine does four things with SQL text already in its dialect (`sqlgen.ScreenQueries.to`): make the
five layout tables visible (`load`, from Parquet files), keep an intermediate result (`materialize`), and
return a result as an Arrow table (`fetch`). The SQL itself is never edited here.

- DuckDB: an in-process connection with a memory limit and a spill directory; views over the Parquet
  files, so nothing is loaded twice. Long statements report their progress.
- PostgreSQL (psycopg 3): for data already in a warehouse, the five tables are read where they are
  (`schema`); `load` copies Parquet files in (tests, small runs). Text columns are created `COLLATE "C"`
  so text sorts bytewise, as in DuckDB and Spark.
- Spark (pyspark): temporary views over the Parquet files; the intermediate table is cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from b12plan.errors import UserError
from b12plan.screening.layout import INPUT_TABLES, Table

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

__all__ = [
    "SMALL_DATA_SPARK",
    "DuckDBEngine",
    "Engine",
    "EngineUnavailable",
    "PostgresEngine",
    "SparkEngine",
    "arrow_type",
    "spark_session",
]

ProgressFn = Callable[[float], None]
T = TypeVar("T")


class EngineUnavailable(UserError):
    """An engine that cannot be started or reached (a missing package, a server that does not answer)."""


class Engine(Protocol):
    name: str
    dialect: str

    def load(self, tables: Mapping[str, Path]) -> None: ...
    def materialize(self, name: str, sql: str) -> None: ...
    def fetch(self, sql: str) -> pa.Table: ...
    def close(self) -> None: ...


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type of a layout column type."""
    types: dict[str, pa.DataType] = {
        "VARCHAR": pa.string(),
        "DOUBLE": pa.float64(),
        "DATE": pa.date32(),
        "INTEGER": pa.int32(),
    }
    return types[sql_type]


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------- DuckDB ----------------------------------


class DuckDBEngine:
    """DuckDB in this process. `memory_limit` (e.g. `1GB`) is honoured by spilling to `temp_dir`."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
        temp_dir: Path | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        import duckdb

        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        try:
            self.run(f"SET memory_limit = {_q(memory_limit)}")
        except duckdb.Error as exc:
            raise UserError(f"--memory-limit: {memory_limit!r} is not a size DuckDB reads ({exc})") from None
        if threads:
            self.run(f"SET threads = {int(threads)}")
        if temp_dir is not None:
            self.run(f"SET temp_directory = {_q(str(temp_dir))}")
        self.run("SET preserve_insertion_order = false")
        if progress is not None:  # track progress for `query_progress`, print nothing
            self.run("SET enable_progress_bar = true")
            self.run("SET enable_progress_bar_print = false")
            self.run("SET progress_bar_time = 0")
        self.progress = progress

    def run(self, sql: str) -> list[tuple[object, ...]]:
        """Run one statement to completion and return its rows (DuckDB keeps a result open until read)."""
        rows: list[tuple[object, ...]] = self.con.execute(sql).fetchall()
        return rows

    def watch(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a worker thread, reporting DuckDB's progress of the running statement meanwhile."""
        if self.progress is None:
            return fn()
        result: list[T] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                result.append(fn())
            except BaseException as exc:  # re-raised on the calling thread
                failure.append(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
            done = self.con.query_progress()
            if done >= 0:
                self.progress(min(done, 100.0) / 100.0)
        if failure:
            raise failure[0]
        return result[0]

    def load(self, tables: Mapping[str, Path]) -> None:
        for name, path in tables.items():
            self.run(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_q(str(path))})")

    def materialize(self, name: str, sql: str) -> None:
        self.watch(lambda: self.run(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}"))

    def fetch(self, sql: str) -> pa.Table:
        table: pa.Table = self.watch(lambda: self.con.sql(sql).to_arrow_table())
        return table

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------- PostgreSQL ------------------------------

_PG_TYPES = {
    "VARCHAR": 'TEXT COLLATE "C"',
    "DOUBLE": "DOUBLE PRECISION",
    "DATE": "DATE",
    "INTEGER": "INTEGER",
}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresEngine:
    """PostgreSQL over psycopg 3. `url` is a libpq connection string or URI; `schema` holds the tables."""

    name = "postgres"
    dialect = "postgres"

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        import psycopg

        try:
            self.conn = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
        except psycopg.Error as exc:
            raise EngineUnavailable(f"PostgreSQL: cannot connect ({exc})") from None
        if schema:
            self.conn.execute(f"SET search_path TO {_ident(schema)}, public")

    def load(self, tables: Mapping[str, Path]) -> None:
        for table in INPUT_TABLES:
            if table.name in tables:
                self._create(table)
                self._copy(table, tables[table.name])

    def _create(self, table: Table) -> None:
        cols = ", ".join(f"{c.name} {_PG_TYPES[c.type]}" for c in table.columns)
        self.conn.execute(f"DROP TABLE IF EXISTS {table.name}")
        self.conn.execute(f"CREATE TABLE {table.name} ({cols})")

    def _copy(self, table: Table, path: Path) -> None:
        names = ", ".join(table.names)
        with self.conn.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for batch in pq.ParquetFile(path).iter_batches(columns=list(table.names), batch_size=50_000):
                for row in zip(*(batch.column(n).to_pylist() for n in table.names), strict=True):
                    copy.write_row(row)
        self.conn.execute(f"ANALYZE {table.name}")

    def materialize(self, name: str, sql: str) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {name}")
        self.conn.execute(f"CREATE TEMP TABLE {name} AS {sql}")
        self.conn.execute(f"ANALYZE {name}")

    def fetch(self, sql: str) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            names = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(col)) for n, col in zip(names, columns, strict=True)})

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------- Spark ----------------------------------


SMALL_DATA_SPARK = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
}
"""Spark settings for small local runs (tests): planning and code generation cost more than the data."""


def spark_session(
    master: str = "local[*]", *, memory: str = "2g", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A local Spark session for b12plan (quiet, no UI). Needs Java 17 and pyspark."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise EngineUnavailable(f"Spark: pyspark is not installed ({exc})") from None
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
        "spark.driver.memory": memory,
        "spark.sql.session.timeZone": "UTC",
        **(conf or {}),
    }
    try:
        builder = SparkSession.builder.master(master).appName("b12plan-screen")
        for key, value in settings.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    except Exception as exc:  # Java missing or failing: py4j raises plain Exceptions
        raise EngineUnavailable(f"Spark: cannot start ({exc})") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Spark SQL. Pass a session to share one (tests); otherwise a local one is started and stopped."""

    name = "spark"
    dialect = "spark"

    def __init__(self, session: SparkSession | None = None, *, master: str = "local[*]") -> None:
        self._own = session is None
        self.spark = session if session is not None else spark_session(master)
        self._cached: list[str] = []

    def load(self, tables: Mapping[str, Path]) -> None:
        for name, path in tables.items():
            self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def materialize(self, name: str, sql: str) -> None:
        # A local checkpoint computes the rows once and cuts the plan: later statements see a small table,
        # not the whole query that built it (re-analysed at every reference otherwise).
        frame = self.spark.sql(sql).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._cached.append(name)

    def fetch(self, sql: str) -> pa.Table:
        table: pa.Table = self.spark.sql(sql).toArrow()
        return table

    def close(self) -> None:
        for name in self._cached:
            self.spark.catalog.dropTempView(name)
        if self._own:
            self.spark.stop()
