"""Who may do what: accounts, passwords, the acting user (`Actor`) and the access policy.

Roles:

    admin      every patient of every clinic, and the accounts
    clinician  the patients of their own clinic: read, plan, record doses, labs and diary entries
    patient    their own record only: read it, write their symptom diary, record a dose they gave themselves

The policy is one table (`_ALLOWED`) read by `may`; the named checks (`can_read_patient`, ...) are what the
services call (`b12plan.services.as_user`), so every surface that goes through them (pages, JSON API, CDS
Hooks) is held to the same rules. Passwords are hashed with argon2id (argon2-cffi's RFC 9106 low-memory
profile); only the hash is stored. An account's `stamp` (a digest of its hash) is carried by sessions and
tokens, so a new password ends every session and token made with the old one.

Passwords change three ways: a user changes their own (`change_password`: the current one is required), an
admin sets anyone's (`reset_password`: no current one), and whoever holds the database sets one from the
command line (`set_password`, `b12plan user passwd`: the same trust as `b12plan user add`). The web admin's
account management goes through `list_users_as` and `add_user_as`, which check `can_manage_users` first.
Every change is audited by the store (`update user`, the field `password_hash`, never a value).

An account is disabled (someone who left) rather than removed, so the audit log's names still point at it:
a disabled account cannot sign in (`authenticate` answers as for a wrong password) and its sessions and
tokens stop working at once (`signed_in`). `disable_user`/`enable_user` are an admin's (not their own
account); `set_disabled` is the command line's. The last active admin is never disabled.

Calendar feeds are read by phone calendars that cannot sign in: a feed's URL carries an HMAC of the patient
id made with the server's secret (`feed_signature`), which is the whole of its access check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from b12plan.errors import (
    FieldProblem,
    ForbiddenError,
    NotSignedInError,
    UnknownAccountError,
    UnknownPatientError,
    UserError,
)

if TYPE_CHECKING:  # argon2 and the store are imported when used
    from argon2 import PasswordHasher

    from b12plan.store import PatientInfo, Records, Store, StoredUser

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Action",
    "Actor",
    "Role",
    "add_user",
    "add_user_as",
    "authenticate",
    "can_add_patient",
    "can_list_patients",
    "can_manage_users",
    "can_plan",
    "can_read_patient",
    "can_record_dose",
    "can_write_diary",
    "can_write_patient",
    "change_password",
    "check_password",
    "count_users",
    "disable_user",
    "enable_user",
    "feed_signature",
    "feed_signature_ok",
    "hash_password",
    "list_users",
    "list_users_as",
    "may",
    "require",
    "reset_password",
    "set_disabled",
    "set_password",
    "signed_in",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything; a cap keeps one request from costing much
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Role(StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    PATIENT = "patient"


class Action(StrEnum):
    """What is done to one patient's record."""

    READ = "read"  # the record, plan, calendar, charts, reviews
    DIARY = "diary"  # add symptom diary scores
    GIVE_DOSE = "give_dose"  # record a dose given (by a patient: one they gave themselves)
    CLINICAL = "clinical"  # plan versions, labs, vials: a clinician's work


# role -> actions on a patient's record, for the patients the role reaches (`_reaches`).
_ALLOWED: Mapping[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.CLINICIAN: frozenset(Action),
    Role.PATIENT: frozenset({Action.READ, Action.DIARY, Action.GIVE_DOSE}),
}


@dataclass(frozen=True)
class Actor:
    """The signed-in user a request acts for. `clinic` limits a clinician, `patient_ref` a patient."""

    user_id: int
    username: str
    role: Role
    clinic: str | None = None
    patient_ref: str | None = None
    stamp: str = ""
    disabled: bool = False

    @property
    def given_by(self) -> str:
        """Who gave a dose this user records: `self` for a patient's own dose (the record's convention)."""
        return "self" if self.role is Role.PATIENT else self.username


def _reaches(actor: Actor, patient: PatientInfo) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.CLINICIAN:
        return actor.clinic is not None and patient.clinic == actor.clinic
    return actor.patient_ref is not None and patient.ref == actor.patient_ref


def may(actor: Actor, action: Action, patient: PatientInfo) -> bool:
    """Whether `actor` may do `action` to `patient`'s record."""
    return action in _ALLOWED[actor.role] and _reaches(actor, patient)


def can_read_patient(actor: Actor, patient: PatientInfo) -> bool:
    return may(actor, Action.READ, patient)


def can_write_patient(actor: Actor, patient: PatientInfo) -> bool:
    """Clinical writes: plan versions, labs, vials."""
    return may(actor, Action.CLINICAL, patient)


def can_write_diary(actor: Actor, patient: PatientInfo) -> bool:
    return may(actor, Action.DIARY, patient)


def can_record_dose(actor: Actor, patient: PatientInfo) -> bool:
    return may(actor, Action.GIVE_DOSE, patient)


def can_plan(actor: Actor) -> bool:
    """Make plans (the planner, the plan wizard): clinicians and admins."""
    return actor.role in (Role.ADMIN, Role.CLINICIAN)


def can_list_patients(actor: Actor) -> bool:
    """See the patient list and the clinic dashboard (a clinician: their own clinic's)."""
    return actor.role in (Role.ADMIN, Role.CLINICIAN)


def can_add_patient(actor: Actor, clinic: str | None) -> bool:
    """Add a patient to `clinic`: an admin to any, a clinician to their own."""
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.CLINICIAN and clinic is not None and clinic == actor.clinic


def can_manage_users(actor: Actor) -> bool:
    return actor.role is Role.ADMIN


def require(allowed: bool, problem: str, *, field: str = "") -> None:
    """Raise `ForbiddenError(problem)` unless `allowed`."""
    if not allowed:
        raise ForbiddenError(problem, field=field)


# -- passwords ---------------------------------------------------------------------------------------------


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


def check_password(password: str, field: str = "password") -> None:
    """Refuse a password too short to resist guessing (NIST SP 800-63B: length, not composition rules).
    `field` names the input in the refusal (`new_password` on a change-password form)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError([FieldProblem(field, f"use at least {MIN_PASSWORD_LENGTH} characters")])
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError([FieldProblem(field, f"use at most {MAX_PASSWORD_LENGTH} characters")])


def hash_password(password: str) -> str:
    """The argon2id hash of `password`, with its own salt and parameters (the PHC string format)."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _stamp(user: StoredUser) -> str:
    """What sessions and tokens carry of an account: it changes with the password and when the account is
    disabled (`sessions_from`), and then every session and token made before is void."""
    text = user.password_hash
    if user.sessions_from is not None:
        text += "\x00" + user.sessions_from.isoformat()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- accounts in the store ---------------------------------------------------------------------------------


def _actor(user: StoredUser) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        clinic=user.clinic,
        patient_ref=user.patient_ref,
        stamp=_stamp(user),
        disabled=user.disabled_at is not None,
    )


def add_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    *,
    clinic: str | None = None,
    patient: str | None = None,
) -> Actor:
    """Add an account. A clinician needs `clinic`; a patient needs `patient` (the id of their record, which
    must exist) and has no clinic; an admin may have neither."""
    username = username.strip()
    if not _USERNAME.match(username):
        raise UserError(
            [FieldProblem("username", "use 1-100 letters, digits, '.', '_', '@' or '-', starting with one")]
        )
    try:
        chosen = Role(role)
    except ValueError:
        problem = f"{role!r} is not a role; use admin, clinician or patient"
        raise UserError([FieldProblem("role", problem)]) from None
    clinic = clinic.strip() if clinic and clinic.strip() else None
    if clinic is not None and len(clinic) > 200:
        raise UserError([FieldProblem("clinic", "must be 1-200 characters")])
    if chosen is Role.CLINICIAN and clinic is None:
        raise UserError([FieldProblem("clinic", "a clinician needs the clinic they work in")])
    if chosen is Role.PATIENT and not patient:
        raise UserError([FieldProblem("patient", "a patient account needs the id of their record")])
    if chosen is not Role.PATIENT and patient:
        raise UserError([FieldProblem("patient", "only a patient account is linked to a record")])
    if chosen is Role.PATIENT and clinic is not None:
        raise UserError([FieldProblem("clinic", "a patient account sees its own record, not a clinic")])
    check_password(password)
    hashed = hash_password(password)
    with store.transaction() as records:
        patient_id = None
        if patient:
            found = records.find_patient(patient.strip())
            if found is None:
                raise UnknownPatientError(
                    [FieldProblem("patient", f"no patient {patient!r} in this database")]
                )
            patient_id = found.id
        user = records.add_user(
            username, password_hash=hashed, role=chosen.value, clinic=clinic, patient_id=patient_id
        )
    return _actor(user)


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so that a wrong name takes as long as a wrong password."""
    return hash_password("b12plan: no such account")


def authenticate(store: Store, username: str, password: str) -> Actor | None:
    """The account for `username` if `password` is its password, else None (the same for an unknown name).

    A hash made with older argon2 parameters is replaced by one with the current parameters.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    with store.transaction(write=False) as records:
        user = records.user_named(username.strip())
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or user.disabled_at is not None:
        return None  # a disabled account gets the answer a wrong password gets
    if _hasher().check_needs_rehash(user.password_hash):
        with store.transaction() as records:
            records.set_password_hash(user.id, hash_password(password))
            refreshed = records.user(user.id)
        user = refreshed or user
    return _actor(user)


def _session_user(store: Store, user_id: int, stamp: str) -> StoredUser | None:
    """The stored account a session or token names, if it still exists, is not disabled and its stamp is
    the one the session carries (no new password, not disabled since)."""
    user = store.user(user_id)
    if user is None or user.disabled_at is not None:
        return None
    return user if hmac.compare_digest(_stamp(user).encode(), stamp.encode()) else None


def signed_in(store: Store, user_id: int, stamp: str) -> Actor | None:
    """The account a session or token names, if it still exists, is not disabled and its password has not
    changed since."""
    user = _session_user(store, user_id, stamp)
    return _actor(user) if user is not None else None


def list_users(store: Store) -> list[Actor]:
    with store.transaction(write=False) as records:
        return [_actor(u) for u in records.users()]


_ADMINS_ONLY = "only an admin manages accounts"


def list_users_as(store: Store, actor: Actor) -> list[Actor]:
    """The accounts, for an admin (`ForbiddenError` for anyone else)."""
    require(can_manage_users(actor), _ADMINS_ONLY)
    return list_users(store)


def add_user_as(
    store: Store,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    *,
    clinic: str | None = None,
    patient: str | None = None,
) -> Actor:
    """`add_user` by an admin (`ForbiddenError` for anyone else); the audit log names the admin (the store
    acts for them)."""
    require(can_manage_users(actor), _ADMINS_ONLY)
    return add_user(store, username, password, role, clinic=clinic, patient=patient)


def _account_named(records: Records, username: str) -> StoredUser:
    user = records.user_named(username.strip())
    if user is None:
        raise UnknownAccountError([FieldProblem("username", f"there is no account {username!r}")])
    return user


def _replace_hash(store: Store, user: StoredUser, password_hash: str, *, field: str) -> Actor:
    """Store `password_hash` for `user` if its hash is still the one read before (a password changed by
    someone else meanwhile is not silently overwritten), and return the account as it is now."""
    with store.transaction() as records:
        now = records.user(user.id)
        if now is None:
            raise UnknownAccountError([FieldProblem("username", f"there is no account {user.username!r}")])
        if now.password_hash != user.password_hash:
            raise UserError([FieldProblem(field, "the password was changed meanwhile; try again")])
        records.set_password_hash(user.id, password_hash)
        changed = records.user(user.id)
    assert changed is not None
    return _actor(changed)


def set_password(store: Store, username: str, password: str) -> Actor:
    """Give the account `username` a new password, with no current one: `b12plan user passwd`, run by whoever
    holds the database (the same trust as `b12plan user add`). Every session and token made with the old
    password stops working (the account's stamp changes)."""
    check_password(password)
    hashed = hash_password(password)
    with store.transaction(write=False) as records:
        user = _account_named(records, username)
    return _replace_hash(store, user, hashed, field="password")


def reset_password(store: Store, actor: Actor, username: str, password: str) -> Actor:
    """An admin sets the password of the account `username` (someone who forgot theirs); no current
    password is asked. `ForbiddenError` for anyone but an admin."""
    require(can_manage_users(actor), _ADMINS_ONLY)
    return set_password(store, username, password)


def change_password(store: Store, actor: Actor, current: str, new: str) -> Actor:
    """`actor` changes their own password: `current` must be their password now, `new` passes
    `check_password` and differs from it. Problems name `current_password` and `new_password`. Returns the
    account with its new stamp: every other session and token made with the old password stops working."""
    user = _session_user(store, actor.user_id, actor.stamp)
    if user is None:
        raise NotSignedInError("this session has ended: sign in again")
    problems: list[FieldProblem] = []
    if len(current) > MAX_PASSWORD_LENGTH or not verify_password(user.password_hash, current):
        problems.append(FieldProblem("current_password", "is not your current password"))
    try:
        check_password(new, field="new_password")
    except UserError as exc:
        problems.extend(exc.problems)
    if not problems and new == current:
        problems.append(FieldProblem("new_password", "is your current password: choose another"))
    if problems:
        raise UserError(problems)
    return _replace_hash(store, user, hash_password(new), field="current_password")


def count_users(store: Store) -> int:
    with store.transaction(write=False) as records:
        return records.count_users()


def set_disabled(store: Store, username: str, disabled: bool) -> Actor:
    """Disable the account `username` (it can no longer sign in; its sessions and tokens stop working) or
    enable it again: `b12plan user disable|enable`, run by whoever holds the database. The last active
    admin is never disabled (`username: ...`). Doing what is already done changes nothing (no audit row)."""
    with store.transaction() as records:
        user = _account_named(records, username)
        if (user.disabled_at is not None) is disabled:
            return _actor(user)
        if disabled and user.role == Role.ADMIN.value and records.count_active_admins(besides=user.id) == 0:
            problem = "is the last active admin: add or enable another admin first"
            raise UserError([FieldProblem("username", problem)])
        records.set_disabled(user.id, disabled)
        changed = records.user(user.id)
    assert changed is not None
    return _actor(changed)


def disable_user(store: Store, actor: Actor, username: str) -> Actor:
    """An admin disables another account (someone who left); not their own. See `set_disabled`."""
    require(can_manage_users(actor), _ADMINS_ONLY)
    if username.strip() == actor.username:
        raise UserError([FieldProblem("username", "is your own account: another admin must disable it")])
    return set_disabled(store, username, True)


def enable_user(store: Store, actor: Actor, username: str) -> Actor:
    """An admin enables a disabled account again."""
    require(can_manage_users(actor), _ADMINS_ONLY)
    return set_disabled(store, username, False)


# -- calendar feeds ----------------------------------------------------------------------------------------


def feed_signature(secret: str, patient_ref: str) -> str:
    """The signature in a patient's calendar feed URL: HMAC-SHA256 of the id with the server's secret."""
    digest = hmac.new(secret.encode(), b"b12plan-feed\x00" + patient_ref.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def feed_signature_ok(secret: str, patient_ref: str, signature: str) -> bool:
    # compare bytes: compare_digest refuses non-ASCII str (a forged link must be a 403, never a 500)
    return hmac.compare_digest(feed_signature(secret, patient_ref).encode(), signature.encode())
