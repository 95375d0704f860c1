"""Where the record store lives and how to connect to it.

The URL comes from, in order: the `--db` option, the `B12PLAN_DATABASE_URL` environment variable, then the
embedded default `b12plan.sqlite3` in the user's data directory (platformdirs). A value without `://` is a
SQLite file path. `postgresql://` and `postgres://` URLs use psycopg 3 (`postgresql+psycopg://`).

SQLite connections are set up for several processes sharing one file: WAL journal, a busy timeout, foreign
keys on, `synchronous=FULL` (an acknowledged write survives a crash), and write transactions opened with
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing half-way. SQLAlchemy is told to
hide bound parameters, so no patient value can reach an error message or a log.

A SQLite file's connections are pooled (`SQLITE_POOL_SIZE`, more on demand): opening one and setting its
pragmas costs more than a short read, and the web app reads on every request. An idle pooled connection
holds no transaction, so it never blocks another process's writer or a WAL checkpoint; a killed process's
connections die with it and SQLite recovers from the WAL. An in-memory database gets no pool (each
connection would be a database of its own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool, QueuePool

from b12plan.errors import FieldProblem, UserError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DATABASE_URL_ENV",
    "SQLITE_POOL_SIZE",
    "WRITE_OPTION",
    "default_database_path",
    "describe_url",
    "is_sqlite",
    "make_engine",
    "resolve_url",
]

DATABASE_URL_ENV = "B12PLAN_DATABASE_URL"
BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for another process's write transaction before giving up."""

SQLITE_POOL_SIZE = 8
"""SQLite connections kept open per engine; up to `_SQLITE_OVERFLOW` more are opened while busy (the web app's
thread pool runs up to 40 requests at once) and closed when given back."""
_SQLITE_OVERFLOW = 32

WRITE_OPTION = "b12plan_write"
"""The execution option a connection is begun with: True (default) for `BEGIN IMMEDIATE`, False to read."""


def default_database_path() -> Path:
    """`b12plan.sqlite3` in the user's data directory (e.g. ~/.local/share/b12plan on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("b12plan", appauthor=False) / "b12plan.sqlite3"


def _sqlite_url(path: Path) -> URL:
    return URL.create("sqlite+pysqlite", database=str(path.expanduser().resolve()))


def resolve_url(db: str | None = None, environ: Mapping[str, str] | None = None) -> URL:
    """The database URL: `db` (the `--db` option), else `B12PLAN_DATABASE_URL`, else the embedded default."""
    env = os.environ if environ is None else environ
    text = db if db else env.get(DATABASE_URL_ENV, "").strip()
    field = "--db" if db else DATABASE_URL_ENV
    if not text:
        return _sqlite_url(default_database_path())
    if "://" not in text:
        return _sqlite_url(Path(text))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise UserError([FieldProblem(field, "is not a database URL or a file path")]) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise UserError(
        [FieldProblem(field, f"{backend!r} databases are not supported; use a SQLite file or postgresql://")]
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def describe_url(url: URL) -> str:
    """The URL for people: a SQLite file path, or the server URL with the password hidden."""
    if is_sqlite(url):
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def make_engine(url: URL) -> Engine:
    """An engine for `url`, with the SQLite settings in the module docstring."""
    if not is_sqlite(url):
        return create_engine(url, hide_parameters=True, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        folder = Path(url.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError([FieldProblem("database", f"cannot create {folder}: {exc.strerror}")]) from None
        engine = create_engine(
            url,
            hide_parameters=True,
            poolclass=QueuePool,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=_SQLITE_OVERFLOW,
            connect_args={"check_same_thread": False},  # a pooled connection serves any worker thread
        )
    else:
        engine = create_engine(url, hide_parameters=True, poolclass=NullPool)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transactions out of the sqlite3 module's hands: `_sqlite_begin` emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, True)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
