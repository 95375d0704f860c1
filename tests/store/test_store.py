"""The record store, on SQLite and PostgreSQL alike: transactions, audit, schema, bulk reads."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from b12plan.errors import UnknownPatientError, UserError
from b12plan.store import Store
from b12plan.store.tables import Base

DAY = dt.date(2026, 1, 5)


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_migrated_schema_is_the_schema_in_tables_py(store: Store) -> None:
    with store.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []


def test_a_change_and_its_audit_row_are_written_together(store: Store) -> None:
    with store.transaction() as records:
        patient = records.add_patient("P-1", name="Ann Example", clinic="North")
        records.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=7)
    with store.transaction(write=False) as records:
        audit = records.audit_entries(records.patient("P-1").id)
    assert [(a.action, a.entity, a.fields) for a in audit] == [
        ("add", "patient", "ref,name,clinic"),
        ("add", "symptom_score", "scored_on,symptom,score"),
    ]
    assert {a.actor for a in audit} == {"tester"}
    assert all("Ann" not in a.fields for a in audit)  # field names, never values


def test_an_error_in_a_transaction_writes_nothing(store: Store) -> None:
    def two_writes_then_a_failure() -> None:
        with store.transaction() as records:
            patient = records.add_patient("P-1")
            records.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=7)
            raise RuntimeError("the command failed after two writes")

    with pytest.raises(RuntimeError):
        two_writes_then_a_failure()
    assert _count(store, "patients") == _count(store, "symptom_scores") == _count(store, "audit_log") == 0


def test_the_database_refuses_what_the_schema_forbids(store: Store) -> None:
    with store.transaction() as records:
        patient = records.add_patient("P-1")
    with pytest.raises(DBAPIError), store.transaction() as records:
        records.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=11)
    with pytest.raises(DBAPIError), store.transaction() as records:
        records.add_symptom(999, scored_on=DAY, symptom="fatigue", score=1)  # no such patient row
    assert _count(store, "symptom_scores") == 0


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"]
)
def test_the_audit_log_is_append_only(store: Store, statement: str) -> None:
    with store.transaction() as records:
        records.add_patient("P-1")
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as c:
        c.execute(text(statement))
    assert _count(store, "audit_log") == 1


def test_patients_are_found_by_their_pseudonymous_id(store: Store) -> None:
    with store.transaction() as records:
        records.add_patient("P-2", clinic="South")
        records.add_patient("P-1", clinic="North")
    with store.transaction(write=False) as records:
        assert [p.ref for p in records.patients()] == ["P-1", "P-2"]
        assert [p.ref for p in records.patients(clinic="South")] == ["P-2"]
        assert records.find_patient("P-3") is None
        with pytest.raises(UnknownPatientError, match="patient: no patient 'P-3'"):
            records.patient("P-3")


def test_a_patient_id_is_used_once(store: Store) -> None:
    with store.transaction() as records:
        records.add_patient("P-1")
    with pytest.raises(UserError, match="id: a patient 'P-1' already exists"), store.transaction() as records:
        records.add_patient("P-1")
    assert _count(store, "patients") == 1


def test_plan_versions_are_numbered_per_patient(store: Store) -> None:
    with store.transaction() as records:
        a, b = records.add_patient("A"), records.add_patient("B")
        for patient, reason in ((a, None), (a, "dose changed"), (b, None)):
            records.add_plan_version(patient.id, case={}, plan={"x": 1}, ruleset="nice-ng239", reason=reason)
    with store.transaction(write=False) as records:
        files = {f.patient.ref: f for f in records.patient_files()}
    assert [(v.version, v.reason) for v in files["A"].plan_versions] == [(1, None), (2, "dose changed")]
    assert [v.version for v in files["B"].plan_versions] == [1]
    assert files["A"].plan_versions[0].created_by == "tester"


def test_a_vial_records_what_is_left(store: Store) -> None:
    with store.transaction() as records:
        patient = records.add_patient("P-1")
        vial = records.open_vial(
            patient.id, product_id="x", opened_on=DAY, volume_ml=2.0, discard_on=DAY + dt.timedelta(days=28)
        )
        records.set_vial_left(vial, 1.0)
    with store.transaction(write=False) as records:
        stored = records.patient_file(records.patient("P-1"), audit=True)
    assert stored.vials[0].volume_left_ml == 1.0
    assert [(a.action, a.entity, a.fields) for a in stored.audit][-1] == ("update", "vial", "volume_left_ml")


def test_reading_everyone_is_one_query_per_table(store: Store) -> None:
    with store.transaction() as records:
        for n in range(30):
            patient = records.add_patient(f"P-{n:02}")
            records.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=n % 11)
            records.add_administration(patient.id, at=dt.datetime(2026, 1, 5, 9), dose_mcg=1000, route="IM")
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.transaction(write=False) as records:
            files = records.patient_files()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert len(files) == 30
    assert all(len(f.administrations) == len(f.symptoms) == 1 for f in files)
    assert len(statements) == 6  # patients + five record tables
