"""Store tests run twice: on a SQLite file and on a real PostgreSQL 15 (started and stopped by tests/pg.py).

The PostgreSQL cluster is thrown away after the session: `initdb -A trust` into a temporary directory owned
by the `postgres` user (when the tests run as root; `runuser -u postgres --`), a Unix socket in that
directory and no TCP port, `fsync=off` (the server is never crashed, only its clients). Each test gets a
fresh database. If PostgreSQL cannot start, the session FAILS when `CI` is set and is skipped loudly
otherwise: the PostgreSQL half of the suite is never skipped quietly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from b12plan.store import Store
from pg import PostgresCluster, postgres_cluster  # noqa: F401 - the session fixture, shared with screening

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, or a fresh database in the throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "records.sqlite3")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A store at the head schema revision, acting as `tester`."""
    from b12plan.store import upgrade
    from b12plan.store.engine import make_engine, resolve_url

    engine = make_engine(resolve_url(db_url))
    upgrade(engine)
    engine.dispose()
    with Store.open(db_url, actor="tester", create=False) as opened:
        yield opened
