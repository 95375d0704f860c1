"""Which database b12plan uses (`--db` > B12PLAN_DATABASE_URL > the user's data folder), and how SQLite
connections are set up. No database server needed: these run once, not per backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from b12plan.cli import record as cli_record
from b12plan.errors import UserError
from b12plan.store import DATABASE_URL_ENV, USER_ENV, Store, current_user, resolve_url
from b12plan.store.engine import BUSY_TIMEOUT_MS, describe_url, make_engine
from b12plan.store.schema import REVISIONS, shipped_revisions


def test_db_option_beats_the_environment_which_beats_the_default(tmp_path: Path) -> None:
    env = {DATABASE_URL_ENV: str(tmp_path / "from-env.sqlite3")}
    assert resolve_url(str(tmp_path / "opt.sqlite3"), env).database == str(tmp_path / "opt.sqlite3")
    assert resolve_url(None, env).database == str(tmp_path / "from-env.sqlite3")
    default = resolve_url(None, {})
    assert default.get_backend_name() == "sqlite"
    assert default.database is not None
    assert default.database.endswith("b12plan.sqlite3")


def test_the_default_is_in_the_users_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert resolve_url(None, {}).database == str(tmp_path / "b12plan" / "b12plan.sqlite3")


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://clinic@db.example/b12", "postgresql+psycopg"),
        ("postgres://clinic@db.example/b12", "postgresql+psycopg"),
        ("postgresql+psycopg://clinic@db.example/b12", "postgresql+psycopg"),
        ("sqlite:////var/lib/b12plan/records.sqlite3", "sqlite+pysqlite"),
    ],
)
def test_urls_use_psycopg_3_and_pysqlite(given: str, driver: str) -> None:
    assert resolve_url(given, {}).drivername == driver


def test_a_password_is_never_shown() -> None:
    url = resolve_url("postgresql://clinic:s3cret@db.example/b12", {})
    assert "s3cret" not in describe_url(url)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://x/y", "--db: 'mysql' databases are not supported; use a SQLite file or postgresql://"),
        ("postgresql://:::", "--db: is not a database URL or a file path"),
    ],
)
def test_other_databases_are_refused(given: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        resolve_url(given, {})
    assert caught.value.lines == [message]


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(resolve_url(str(tmp_path / "x.sqlite3"), {}))
    try:
        with engine.connect() as c:
            pragmas = {
                p: c.execute(text(f"PRAGMA {p}")).scalar_one()
                for p in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
        "synchronous": 2,
    }


def test_the_acting_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert current_user("dr.b", {USER_ENV: "nurse.a"}) == "dr.b"
    assert current_user(None, {USER_ENV: "nurse.a"}) == "nurse.a"
    monkeypatch.setenv("LOGNAME", "os.user")
    monkeypatch.setenv("USER", "os.user")
    assert current_user(None, {}) == "os.user"


def test_the_revision_list_is_the_migrations_folder() -> None:
    assert list(REVISIONS) == shipped_revisions()


def test_the_cli_names_the_same_environment_variables() -> None:
    assert (cli_record.DATABASE_URL_ENV, cli_record.USER_ENV) == (DATABASE_URL_ENV, USER_ENV)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text\n" * 100, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        Store.open(str(path), actor="t")
    assert caught.value.lines == [f"database: {path} cannot be opened: file is not a database"]
