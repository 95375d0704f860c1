"""`Records.change_marker`, on SQLite and PostgreSQL: it moves with every committed change, made through this
engine or another one on the same database, and stays put while nothing is written. The dashboard's cache
(`overviews.BoardCache`) gives a board again only while it is unchanged, so a marker that failed to move
would show stale data."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from b12plan import services
from b12plan.services import records
from b12plan.store import Store

DAY = dt.date(2026, 1, 5)
NOW = dt.datetime(2026, 1, 20, 12, 0)
VIAL = "us-cyanocobalamin-1000mcg-10ml-mdv"


def _marker(store: Store) -> str:
    with store.transaction(write=False) as rows:
        return rows.change_marker()


def _vial(store: Store) -> int:
    with store.transaction(write=False) as rows:
        return rows.patient_file(rows.patient("P-1")).vials[-1].id


def _case() -> dict[str, object]:
    case: dict[str, object] = json.loads(services.example_case_text())
    case["start_date"] = DAY.isoformat()
    return case


def test_the_marker_moves_with_every_change_made_through_another_engine(store: Store, db_url: str) -> None:
    with Store.open(db_url, actor="other", create=False) as other:
        changes = [
            lambda: records.add_patient(other, "P-1", clinic="North"),
            lambda: records.plan_for_patient(
                other, "P-1", _case(), today=DAY, reason=None, now=dt.datetime(2026, 1, 5, 9)
            ),
            lambda: records.give_dose(
                other, "P-1", at=dt.datetime(2026, 1, 5, 10), site="deltoid-left", now=NOW
            ),
            lambda: records.add_lab(other, "P-1", "hb", 120, "g/L", date=DAY, now=NOW),
            lambda: records.add_symptom(other, "P-1", "fatigue", 5, date=DAY, now=NOW),
            lambda: records.open_vial(other, "P-1", product=VIAL, opened=DAY, now=NOW),
            lambda: records.give_dose(  # draws from the vial: the one update (volume left) the store makes
                other, "P-1", at=dt.datetime(2026, 1, 6, 10), vial=_vial(other), site="deltoid-right", now=NOW
            ),
        ]
        seen = [_marker(store)]
        for change in changes:
            change()
            seen.append(_marker(store))
            assert _marker(store) == seen[-1]  # reading changes nothing
        assert len(set(seen)) == len(seen), seen


def test_a_commit_of_an_earlier_audit_id_after_a_later_one_still_moves_the_marker(
    store: Store, db_url: str
) -> None:
    """PostgreSQL hands out audit ids from a sequence, and transactions need not commit in that order: the
    last id alone would miss the change committed last. (SQLite serialises writers, so it cannot happen.)"""
    if store.is_sqlite:
        pytest.skip("SQLite writers are serialised (BEGIN IMMEDIATE): a second writer waits for the first")
    patient = records.add_patient(store, "P-1", clinic="North")
    with (
        Store.open(db_url, actor="a", create=False) as first,
        Store.open(db_url, actor="b", create=False) as second,
    ):
        with first.transaction() as early:
            early.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=3)
            early.session.flush()  # the audit row takes its id now
            second_marker = ""
            with second.transaction() as late:
                late.add_symptom(patient.id, scored_on=DAY, symptom="fatigue", score=4)
            second_marker = _marker(store)  # sees the later id, not yet the earlier one
        assert _marker(store) != second_marker


def test_the_signed_in_user_is_read_fresh_on_every_request(store: Store) -> None:
    """`accounts.signed_in` reads the account outside a unit of work (`Store.user`): on both backends it sees
    a new password at once, and takes no write lock on SQLite (a writer holding one does not block it)."""
    from b12plan.services import accounts

    records.add_patient(store, "P-1", clinic="North")
    nurse = accounts.add_user(store, "nurse", "a long enough password", "clinician", clinic="North")
    patient = accounts.add_user(store, "ann", "a long enough password", "patient", patient="P-1")
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) == nurse
    found = store.user(patient.user_id)
    assert found is not None
    assert (found.username, found.patient_ref, found.clinic) == ("ann", "P-1", None)
    assert store.user(10_000) is None
    with store.transaction() as rows:  # a writer holds the database while the account is read
        rows.set_password_hash(nurse.user_id, accounts.hash_password("another long password"))
        assert accounts.signed_in(store, nurse.user_id, nurse.stamp) == nurse  # not committed yet
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) is None  # the old password's token is over
