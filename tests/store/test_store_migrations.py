"""Migrations: upgrading from the first schema keeps the data; old and unknown schemas are refused."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import inspect, text

from b12plan.errors import UserError
from b12plan.store import Store, head_revision, schema_state, upgrade
from b12plan.store.engine import make_engine, resolve_url
from b12plan.store.schema import downgrade


def test_upgrade_from_the_first_schema_keeps_the_data(db_url: str) -> None:
    engine = make_engine(resolve_url(db_url))
    try:
        assert upgrade(engine, "0001") == (None, "0001")
        with engine.begin() as c:  # data written by b12plan at the first schema, in that schema's columns
            c.execute(
                text(
                    "INSERT INTO patients (ref, name, clinic, created_at) VALUES ('P-1', NULL, 'North', :t)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
            c.execute(
                text(
                    "INSERT INTO lab_results"
                    " (patient_id, taken_on, test, value_num, value_text, unit, recorded_at)"
                    " VALUES (1, :d, 'b12_total', 150, NULL, 'ng/L', :t)"
                ),
                {"d": dt.date(2026, 1, 2), "t": dt.datetime(2026, 1, 2, 10)},
            )
            c.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, patient_id, entity, entity_id, fields)"
                    " VALUES (:t, 'nurse', 'add', 1, 'lab_result', 1, 'test,value_num,unit')"
                ),
                {"t": dt.datetime(2026, 1, 2, 10)},
            )
        assert "upper_limit" not in {col["name"] for col in inspect(engine).get_columns("lab_results")}
        steps: list[tuple[int, int]] = []
        assert upgrade(engine, progress=lambda done, total: steps.append((done, total))) == ("0001", "0004")
        assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
        assert schema_state(engine).up_to_date
    finally:
        engine.dispose()
    with Store.open(db_url, actor="tester", create=False) as store, store.transaction(write=False) as records:
        stored = records.patient_file(records.patient("P-1"), audit=True)
    assert stored.patient.clinic == "North"
    assert [(lab.test, lab.value, lab.unit, lab.upper_limit) for lab in stored.labs] == [
        ("b12_total", 150.0, "ng/L", None)
    ]
    assert [a.entity for a in stored.audit] == ["lab_result"]
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log"))  # the triggers survive the upgrade


def test_upgrade_to_disabled_accounts_keeps_the_accounts_active(db_url: str) -> None:
    """0003 -> 0004: accounts stored before can still sign in, and their sessions stay good (the stamp is
    unchanged while `sessions_from` is empty); `disabled_at` and `sessions_from` start empty."""
    from b12plan.services import accounts

    hashed = accounts.hash_password("correct horse battery")
    engine = make_engine(resolve_url(db_url))
    try:
        assert upgrade(engine, "0003") == (None, "0003")
        with engine.begin() as c:  # an account written by b12plan at revision 0003, in its columns
            c.execute(
                text(
                    "INSERT INTO users (username, password_hash, role, clinic, patient_id, created_at)"
                    " VALUES ('nurse', :h, 'clinician', 'North', NULL, :t)"
                ),
                {"h": hashed, "t": dt.datetime(2026, 1, 1)},
            )
        assert "disabled_at" not in {col["name"] for col in inspect(engine).get_columns("users")}
        assert upgrade(engine) == ("0003", "0004")
    finally:
        engine.dispose()
    with Store.open(db_url, actor="tester", create=False) as store:
        nurse = accounts.authenticate(store, "nurse", "correct horse battery")
        assert nurse is not None
        assert (nurse.clinic, nurse.disabled) == ("North", False)
        with store.transaction(write=False) as records:
            stored = records.user_named("nurse")
        assert stored is not None
        assert (stored.password_hash, stored.disabled_at, stored.sessions_from) == (hashed, None, None)
        assert nurse.stamp == hashlib.sha256(hashed.encode()).hexdigest()[:16]  # what 0003 sessions carry
        accounts.set_disabled(store, "nurse", True)
        assert accounts.authenticate(store, "nurse", "correct horse battery") is None
        accounts.add_user(store, "boss", "correct horse battery", "admin")
        with pytest.raises(
            UserError, match="username: is the last active admin"
        ):  # rows locked on PostgreSQL
            accounts.set_disabled(store, "boss", True)


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    engine = make_engine(resolve_url(db_url))
    try:
        upgrade(engine)
        downgrade(engine, "base")
        assert schema_state(engine).current is None
        upgrade(engine)
        assert schema_state(engine).current == head_revision()
    finally:
        engine.dispose()


def test_a_database_behind_is_refused_until_upgraded(db_url: str) -> None:
    engine = make_engine(resolve_url(db_url))
    upgrade(engine, "0001")
    engine.dispose()
    with pytest.raises(
        UserError, match=r"database: is at schema revision 0001, not 0004; run `b12plan db upgrade`"
    ):
        Store.open(db_url, actor="tester")


def test_a_database_from_a_newer_b12plan_is_refused(db_url: str) -> None:
    engine = make_engine(resolve_url(db_url))
    upgrade(engine)
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(UserError, match="newer than this b12plan"):
            Store.open(db_url, actor="tester")
        with pytest.raises(UserError, match="newer than this b12plan"):
            upgrade(engine)
    finally:
        engine.dispose()


def test_only_a_new_sqlite_file_is_created_on_first_use(db_url: str) -> None:
    if db_url.startswith("postgresql"):
        with pytest.raises(UserError, match="database: is empty; run `b12plan db upgrade` first"):
            Store.open(db_url, actor="tester")
    else:
        with Store.open(db_url, actor="tester") as store:
            assert schema_state(store.engine).up_to_date
