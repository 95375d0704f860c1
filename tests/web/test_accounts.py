"""Accounts and the access policy: the role table as a spec, passwords, and who an account may see."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from webkit import PASSWORD, Seed, copy_database

from b12plan.errors import UnknownPatientError, UserError
from b12plan.services import accounts
from b12plan.services.accounts import Action, Actor, Role, may
from b12plan.store import PatientInfo, Store

NORTH = PatientInfo(id=1, ref="P-N", name=None, clinic="North", created_at=dt.datetime(2026, 1, 1))
SOUTH = PatientInfo(id=2, ref="P-S", name=None, clinic="South", created_at=dt.datetime(2026, 1, 1))
ACTORS = {
    "admin": Actor(1, "root", Role.ADMIN),
    "clinician": Actor(2, "nurse", Role.CLINICIAN, clinic="North"),
    "patient": Actor(3, "ann", Role.PATIENT, patient_ref="P-N"),
}
R, D, G, C = Action.READ, Action.DIARY, Action.GIVE_DOSE, Action.CLINICAL

# role -> (actions on a North patient, actions on a South patient). The clinician works in North; the
# patient is P-N, the North patient.
SPEC = {
    "admin": ({R, D, G, C}, {R, D, G, C}),
    "clinician": ({R, D, G, C}, set()),
    "patient": ({R, D, G}, set()),
}


@pytest.mark.parametrize("role", sorted(SPEC))
def test_the_access_policy(role: str) -> None:
    actor = ACTORS[role]
    own, other = SPEC[role]
    assert {a for a in Action if may(actor, a, NORTH)} == own
    assert {a for a in Action if may(actor, a, SOUTH)} == other


def test_role_wide_permissions() -> None:
    admin, clinician, patient = ACTORS["admin"], ACTORS["clinician"], ACTORS["patient"]
    assert [accounts.can_plan(a) for a in (admin, clinician, patient)] == [True, True, False]
    assert [accounts.can_list_patients(a) for a in (admin, clinician, patient)] == [True, True, False]
    assert [accounts.can_manage_users(a) for a in (admin, clinician, patient)] == [True, False, False]
    assert accounts.can_add_patient(clinician, "North")
    assert not accounts.can_add_patient(clinician, "South")
    assert accounts.can_add_patient(admin, None)
    assert not accounts.can_add_patient(patient, "North")
    assert patient.given_by == "self"
    assert clinician.given_by == "nurse"


def test_a_clinician_without_a_clinic_sees_no_one() -> None:
    lost = Actor(9, "x", Role.CLINICIAN, clinic=None)
    nowhere = PatientInfo(id=3, ref="P-0", name=None, clinic=None, created_at=dt.datetime(2026, 1, 1))
    assert not may(lost, Action.READ, nowhere)


def test_passwords_are_argon2id_hashes() -> None:
    hashed = accounts.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert accounts.verify_password(hashed, PASSWORD)
    assert not accounts.verify_password(hashed, PASSWORD + "!")
    assert not accounts.verify_password("not a hash", PASSWORD)
    with pytest.raises(UserError, match="password: use at least 12 characters"):
        accounts.check_password("short")


@pytest.fixture
def store(seed: Seed, tmp_path: Path) -> Store:
    target = tmp_path / "accounts.sqlite3"
    copy_database(seed.path, target)
    return Store.open(str(target), actor="test")


@pytest.mark.parametrize(
    ("name", "role", "scope", "message"),
    [
        ("nurse2", "clinician", {}, "clinic: a clinician needs the clinic they work in"),
        ("pat2", "patient", {}, "patient: a patient account needs the id of their record"),
        (
            "pat2",
            "patient",
            {"patient": "P-OWN", "clinic": "North"},
            "clinic: a patient account sees its own",
        ),
        ("boss", "admin", {"patient": "P-OWN"}, "patient: only a patient account is linked to a record"),
        ("boss", "owner", {}, "role: 'owner' is not a role; use admin, clinician or patient"),
        ("has space", "admin", {}, "username: use 1-100 letters"),
        ("admin", "admin", {}, "username: an account 'admin' already exists"),
    ],
)
def test_refused_accounts(store: Store, name: str, role: str, scope: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        accounts.add_user(store, name, PASSWORD, role, **scope)
    assert caught.value.lines[0].startswith(message)


def test_a_patient_account_needs_a_record_that_exists(store: Store) -> None:
    with pytest.raises(UnknownPatientError, match="no patient 'P-NOBODY'"):
        accounts.add_user(store, "ghost", PASSWORD, "patient", patient="P-NOBODY")


def test_sign_in_and_a_new_password_ends_old_sessions(store: Store, seed: Seed) -> None:
    nurse = accounts.authenticate(store, "nurse-north", PASSWORD)
    assert nurse is not None
    assert (nurse.role, nurse.clinic) == (Role.CLINICIAN, "North")
    assert accounts.authenticate(store, "nurse-north", "wrong password") is None
    assert accounts.authenticate(store, "nobody-at-all", PASSWORD) is None
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) == nurse
    with store.transaction() as records:
        records.set_password_hash(nurse.user_id, accounts.hash_password("another long password"))
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) is None
    assert accounts.signed_in(store, 999, nurse.stamp) is None


def test_accounts_are_audited_without_their_secrets(store: Store) -> None:
    added = accounts.add_user(store, "carer", PASSWORD, "patient", patient="P-OWN")
    assert added.patient_ref == "P-OWN"
    with store.transaction(write=False) as records:
        audit = [a for a in records.audit_entries() if a.entity == "user"]
    assert audit[-1].fields == "username,password_hash,role,patient_id"
    assert [u.username for u in accounts.list_users(store)] == sorted(
        ["admin", "ann", "bob", "carer", "nurse-north", "nurse-south"]
    )


def test_feed_signatures() -> None:
    signature = accounts.feed_signature("secret-one", "P-1")
    assert accounts.feed_signature_ok("secret-one", "P-1", signature)
    assert not accounts.feed_signature_ok("secret-two", "P-1", signature)
    assert not accounts.feed_signature_ok("secret-one", "P-2", signature)
    assert "=" not in signature
    assert len(signature) == 43
