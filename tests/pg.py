"""A throwaway PostgreSQL 15 cluster for the tests that need one (store, screening).

`initdb -A trust` into a temporary directory owned by the `postgres` user (when the tests run as root;
`runuser -u postgres --`), a Unix socket in that directory and no TCP port, `fsync=off` (the server is never
crashed, only its clients). A conftest imports `postgres_cluster` to use it. If PostgreSQL cannot start, the
session FAILS when `CI` is set and is skipped loudly otherwise: PostgreSQL tests never skip quietly.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["PG_BIN", "PostgresCluster", "PostgresUnavailable", "postgres_cluster", "start_postgres"]

PG_BIN = Path(os.environ.get("B12PLAN_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    pass


@dataclass
class PostgresCluster:
    root: Path
    as_user: list[str]
    started_in: float
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.root}"

    def create_database(self) -> str:
        import psycopg

        name = f"b12plan_test_{next(self._names)}"
        with psycopg.connect(host=str(self.root), user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(cmd[:4])}... failed: {(done.stderr or done.stdout).strip()[-500:]}"
        )


def start_postgres() -> PostgresCluster:
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).is_file():
            raise PostgresUnavailable(f"{PG_BIN / tool} not found (apt-get install postgresql-15)")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="b12plan-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as `postgres`
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root and `runuser` is missing")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, user="postgres")
    began = time.monotonic()
    try:
        _run(
            [
                *as_user,
                str(PG_BIN / "initdb"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "-D",
                str(root / "data"),
            ]
        )
        options = f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        _run(
            [
                *as_user,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
    except (PostgresUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(str(exc)) from exc
    return PostgresCluster(root=root, as_user=as_user, started_in=time.monotonic() - began)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = start_postgres()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests must run in CI, but PostgreSQL did not start: {exc}")
        pytest.skip(f"!!! PostgreSQL tests NOT RUN (set CI=1 to make this a failure): {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
