"""The record store: one `Store` per database, one `Records` unit of work per transaction.

    with store.transaction() as records:          # BEGIN (SQLite: BEGIN IMMEDIATE)
        patient = records.patient("P-001", lock=True)
        records.add_symptom(patient.id, scored_on=day, symptom="fatigue", score=6)
                                                  # COMMIT on leaving; ROLLBACK on any exception

Every change writes its append-only audit row (who, what, which ids, the names of the fields set, when) in
the same transaction, so a change and its audit row are stored together or not at all. Writes that depend on
a patient's record lock that patient's row first (`lock=True`: SELECT ... FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers), so two processes recording for one patient queue, never race.
Bulk reads (`patient_files`) run one query per table, never one per patient.

Logs carry ids only (`patient=12 administration=345`): never a name, a value or a free text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import logging
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, Engine, Select, Table, Text, bindparam, func, select, true, update
from sqlalchemy import cast as cast_
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from b12plan.errors import FieldProblem, UnknownPatientError, UserError
from b12plan.store.engine import WRITE_OPTION, describe_url, is_sqlite, make_engine, resolve_url
from b12plan.store.schema import check_revision
from b12plan.store.tables import (
    AdministrationRow,
    AuditRow,
    Base,
    LabResultRow,
    PatientRow,
    PlanVersionRow,
    SymptomScoreRow,
    UserRow,
    VialRow,
)
from b12plan.store.values import (
    AuditEntry,
    PatientFile,
    PatientInfo,
    StoredAdministration,
    StoredLab,
    StoredPlanVersion,
    StoredSymptom,
    StoredUser,
    StoredVial,
)

__all__ = ["USER_ENV", "Records", "Store", "current_user"]

USER_ENV = "B12PLAN_USER"
log = logging.getLogger("b12plan.store")
V = TypeVar("V")


def current_user(user: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Who is acting, for the audit log: `--user`, else `B12PLAN_USER`, else the operating-system user."""
    env = os.environ if environ is None else environ
    name = (user or env.get(USER_ENV, "")).strip()
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = "unknown"
    if len(name) > 100:
        raise UserError([FieldProblem("--user", "is longer than 100 characters")])
    return name


def utc_now() -> dt.datetime:
    """Bookkeeping time: UTC, stored without a zone (tables.py)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Store:
    """One database. Cheap to open; `close()` releases its connections."""

    def __init__(self, engine: Engine, *, actor: str) -> None:
        self.engine = engine
        self.actor = actor

    @classmethod
    def open(cls, db: str | URL | None = None, *, actor: str | None = None, create: bool = True) -> Store:
        """Open the database `db` (see `engine.resolve_url`) and check its schema revision.

        A new, empty SQLite file is created at the head revision when `create` is set; a PostgreSQL database
        is only ever created by `b12plan db upgrade`, so several app processes never race to build it.
        """
        url = db if isinstance(db, URL) else resolve_url(db)
        engine = make_engine(url)
        try:
            check_revision(engine, create=create and is_sqlite(url))
        except DBAPIError as exc:  # not a database, no server, no access: the driver's words, never data
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise UserError(
                [FieldProblem("database", f"{describe_url(url)} cannot be opened: {reason}")]
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, actor=current_user(actor))

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def where(self) -> str:
        """The database for people (password hidden)."""
        return describe_url(self.engine.url)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def user(self, user_id: int) -> StoredUser | None:
        """The account `user_id`, read in one statement outside any unit of work: every signed-in request asks
        it, and the ORM session a `transaction` sets up costs more than the query."""
        with self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: False})
            row = connection.execute(_user_by_id_query(), {"user_id": user_id}).first()
        return StoredUser(**row._mapping) if row is not None else None

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Records]:
        """One transaction: committed when the block ends, rolled back (nothing written) on any exception.

        Read-only blocks (`write=False`) see one consistent snapshot (PostgreSQL REPEATABLE READ; a SQLite
        read transaction) and take no write lock.
        """
        with self.engine.connect() as connection:
            options: dict[str, Any] = {WRITE_OPTION: write}
            if not write and not self.is_sqlite:
                options["isolation_level"] = "REPEATABLE READ"
            connection.execution_options(**options)
            with connection.begin(), Session(bind=connection, expire_on_commit=False) as session:
                records = Records(session, self.actor, sqlite=self.is_sqlite)
                yield records
                session.flush()


def _columns(table: Table) -> list[Any]:
    """The table's columns, JSON ones as their text (`plan` -> `plan_json`): parsed by who needs them."""
    return [
        cast_(column, Text).label(f"{column.name}_json") if isinstance(column.type, JSON) else column
        for column in table.columns
    ]


def _values(session: Session, table: Table, kind: type[V], where: Any, order: Sequence[Any]) -> list[V]:
    rows = session.execute(select(*_columns(table)).where(where).order_by(*order))
    return [kind(**row._mapping) for row in rows]


class Records:
    """The stored records inside one transaction. Methods that change anything write an audit row."""

    def __init__(self, session: Session, actor: str, *, sqlite: bool) -> None:
        self.session = session
        self.actor = actor
        self._sqlite = sqlite

    # -- audit -------------------------------------------------------------------------------------------

    def _audit(
        self, action: str, entity: str, entity_id: int | None, patient_id: int | None, fields: Sequence[str]
    ) -> None:
        self.session.add(
            AuditRow(
                at=utc_now(),
                actor=self.actor,
                action=action,
                patient_id=patient_id,
                entity=entity,
                entity_id=entity_id,
                fields=",".join(fields),
            )
        )
        log.info("%s %s id=%s patient=%s", action, entity, entity_id, patient_id)

    def _insert(
        self, row: Base, *, action: str, entity: str, patient_id: int | None, given: Mapping[str, Any]
    ) -> None:
        self.session.add(row)
        self.session.flush()
        row_id: int = getattr(row, "id")  # noqa: B009 (every table has an integer id)
        self._audit(action, entity, row_id, patient_id, [k for k, v in given.items() if v is not None])

    def change_marker(self) -> str:
        """A short text that differs between any two snapshots of the records that differ: read it in the
        same transaction as the records it stands for, and a value kept with that marker is current for as
        long as the marker read later is the same (the dashboard's cache, `overviews.BoardCache`).

        SQLite: the last audit-log id. Every change writes its audit row in the transaction that makes it, the
        audit log is append-only (no id ever goes away or comes back), and writers are serialised (BEGIN
        IMMEDIATE), so each commit's ids are above every id committed before it: the last id moves with every
        commit.
        PostgreSQL: that id and the transaction's snapshot (`pg_current_snapshot()`: which transactions it
        sees). The id alone is not enough there: ids come from a sequence and commits need not follow their
        order, so a transaction holding a lower id can commit after a higher one has been read. Two snapshots
        that print the same see exactly the same committed transactions, so the same records; the snapshot
        moves with every write anywhere on the server, which costs a recomputation, never a stale answer.
        Restoring a backup means stopping every b12plan process first (docs/store.md), which empties caches.
        """
        last = self.session.scalar(select(func.max(AuditRow.id)))
        if self._sqlite:
            return f"audit {last}"
        snapshot = self.session.scalar(select(func.pg_current_snapshot().cast(Text)))
        return f"audit {last} snapshot {snapshot}"

    def audit_entries(self, patient_id: int | None = None) -> list[AuditEntry]:
        table = _table(AuditRow)
        where = table.c.patient_id == patient_id if patient_id is not None else true()
        return _values(self.session, table, AuditEntry, where, [table.c.id])

    # -- patients ----------------------------------------------------------------------------------------

    def add_patient(
        self, ref: str, *, name: str | None = None, clinic: str | None = None, action: str = "add"
    ) -> PatientInfo:
        if self.session.scalar(select(PatientRow.id).where(PatientRow.ref == ref)) is not None:
            raise UserError([FieldProblem("id", f"a patient {ref!r} already exists")])
        row = PatientRow(ref=ref, name=name, clinic=clinic, created_at=utc_now())
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:  # another process added the same id since the check above
            raise UserError([FieldProblem("id", f"a patient {ref!r} already exists")]) from None
        given = {"ref": ref, "name": name, "clinic": clinic}
        self._audit(action, "patient", row.id, row.id, [k for k, v in given.items() if v is not None])
        return _patient(row)

    def patient(self, ref: str, *, lock: bool = False, field: str = "patient") -> PatientInfo:
        """The patient with this pseudonymous id; `lock` holds its row until the transaction ends."""
        query = select(PatientRow).where(PatientRow.ref == ref)
        if lock and not self._sqlite:
            query = query.with_for_update()
        row = self.session.scalar(query)
        if row is None:
            raise UnknownPatientError(
                [
                    FieldProblem(
                        field, f"no patient {ref!r} in this database; `b12plan patient list` shows them"
                    )
                ]
            )
        return _patient(row)

    def find_patient(self, ref: str) -> PatientInfo | None:
        row = self.session.scalar(select(PatientRow).where(PatientRow.ref == ref))
        return None if row is None else _patient(row)

    def patients(self, *, clinic: str | None = None) -> list[PatientInfo]:
        query = select(PatientRow).order_by(PatientRow.ref)
        if clinic is not None:
            query = query.where(PatientRow.clinic == clinic)
        return [_patient(row) for row in self.session.scalars(query)]

    def count_patients(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(PatientRow)) or 0)

    # -- plan versions -----------------------------------------------------------------------------------

    def add_plan_version(
        self,
        patient_id: int,
        *,
        case: dict[str, Any],
        plan: dict[str, Any],
        ruleset: str,
        reason: str | None,
        created_at: dt.datetime | None = None,
        created_by: str | None = None,
        version: int | None = None,
        action: str = "add",
    ) -> StoredPlanVersion:
        """Save the next plan version (1, 2, ...). Lock the patient first (`patient(ref, lock=True)`)."""
        latest = self.session.scalar(
            select(func.max(PlanVersionRow.version)).where(PlanVersionRow.patient_id == patient_id)
        )
        number = version if version is not None else (latest or 0) + 1
        row = PlanVersionRow(
            patient_id=patient_id,
            version=number,
            created_at=created_at or dt.datetime.now().replace(microsecond=0),  # local: tables.py
            created_by=created_by or self.actor,
            reason=reason,
            ruleset=ruleset,
            case=case,
            plan=plan,
        )
        given = {"version": number, "reason": reason, "ruleset": ruleset, "case": case, "plan": plan}
        self._insert(row, action=action, entity="plan_version", patient_id=patient_id, given=given)
        return _values(
            self.session, _table(PlanVersionRow), StoredPlanVersion, PlanVersionRow.id == row.id, []
        )[0]

    # -- vials -------------------------------------------------------------------------------------------

    def open_vial(
        self,
        patient_id: int,
        *,
        product_id: str,
        opened_on: dt.date,
        volume_ml: float,
        discard_on: dt.date,
        lot: str | None = None,
        expiry: dt.date | None = None,
        volume_left_ml: float | None = None,
        action: str = "add",
    ) -> StoredVial:
        given: dict[str, Any] = {
            "product_id": product_id,
            "lot": lot,
            "expiry": expiry,
            "opened_on": opened_on,
            "volume_ml": volume_ml,
            "volume_left_ml": volume_left_ml if volume_left_ml is not None else volume_ml,
            "discard_on": discard_on,
        }
        row = VialRow(patient_id=patient_id, created_at=utc_now(), **given)
        self._insert(row, action=action, entity="vial", patient_id=patient_id, given=given)
        return _value(row, StoredVial)

    def vial(self, vial_id: int, patient_id: int, *, field: str = "vial_id") -> StoredVial:
        row = self.session.get(VialRow, vial_id)
        if row is None or row.patient_id != patient_id:
            raise UserError([FieldProblem(field, f"this patient has no vial {vial_id}")])
        return _value(row, StoredVial)

    def set_vial_left(self, vial: StoredVial, volume_left_ml: float) -> None:
        """Record what is left in a vial after a draw (the one stored value that changes)."""
        self.session.execute(
            update(VialRow).where(VialRow.id == vial.id).values(volume_left_ml=volume_left_ml)
        )
        self._audit("update", "vial", vial.id, vial.patient_id, ["volume_left_ml"])

    # -- administrations, labs, symptoms -----------------------------------------------------------------

    def add_administration(
        self,
        patient_id: int,
        *,
        at: dt.datetime,
        dose_mcg: float,
        route: str,
        volume_ml: float | None = None,
        product_id: str | None = None,
        lot: str | None = None,
        expiry: dt.date | None = None,
        site: str | None = None,
        given_by: str | None = None,
        vial_id: int | None = None,
        action: str = "add",
    ) -> StoredAdministration:
        given: dict[str, Any] = {
            "at": at,
            "dose_mcg": dose_mcg,
            "route": route,
            "volume_ml": volume_ml,
            "product_id": product_id,
            "lot": lot,
            "expiry": expiry,
            "site": site,
            "given_by": given_by,
            "vial_id": vial_id,
        }
        row = AdministrationRow(patient_id=patient_id, recorded_at=utc_now(), **given)
        self._insert(row, action=action, entity="administration", patient_id=patient_id, given=given)
        return _value(row, StoredAdministration)

    def add_lab(
        self,
        patient_id: int,
        *,
        taken_on: dt.date,
        test: str,
        value: float | str,
        unit: str | None,
        upper_limit: float | None = None,
        lower_limit: float | None = None,
        action: str = "add",
    ) -> StoredLab:
        given: dict[str, Any] = {
            "taken_on": taken_on,
            "test": test,
            "value_num": None if isinstance(value, str) else float(value),
            "value_text": value if isinstance(value, str) else None,
            "unit": unit,
            "upper_limit": upper_limit,
            "lower_limit": lower_limit,
        }
        row = LabResultRow(patient_id=patient_id, recorded_at=utc_now(), **given)
        self._insert(row, action=action, entity="lab_result", patient_id=patient_id, given=given)
        return _value(row, StoredLab)

    def add_symptom(
        self, patient_id: int, *, scored_on: dt.date, symptom: str, score: int, action: str = "add"
    ) -> StoredSymptom:
        given: dict[str, Any] = {"scored_on": scored_on, "symptom": symptom, "score": score}
        row = SymptomScoreRow(patient_id=patient_id, recorded_at=utc_now(), **given)
        self._insert(row, action=action, entity="symptom_score", patient_id=patient_id, given=given)
        return _value(row, StoredSymptom)

    # -- accounts (web app and API) ------------------------------------------------------------------------

    def _users(self, where: Any) -> list[StoredUser]:
        query = _users_query().where(where).order_by(UserRow.username)
        return [StoredUser(**row._mapping) for row in self.session.execute(query)]

    def add_user(
        self,
        username: str,
        *,
        password_hash: str,
        role: str,
        clinic: str | None = None,
        patient_id: int | None = None,
    ) -> StoredUser:
        """Add an account; a username already taken is refused (`username: ...`)."""
        taken = UserError([FieldProblem("username", f"an account {username!r} already exists")])
        if self.session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
            raise taken
        given = {"username": username, "password_hash": password_hash, "role": role}
        row = UserRow(**given, clinic=clinic, patient_id=patient_id, created_at=utc_now())
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:  # another process added the same name since the check above
            raise taken from None
        fields = [*given, *(["clinic"] if clinic else []), *(["patient_id"] if patient_id else [])]
        self._audit("add", "user", row.id, patient_id, fields)
        return self._users(UserRow.id == row.id)[0]

    def user(self, user_id: int) -> StoredUser | None:
        """The account `user_id` (asked on every signed-in request: one statement, built once)."""
        row = self.session.execute(_user_by_id_query(), {"user_id": user_id}).first()
        return StoredUser(**row._mapping) if row is not None else None

    def user_named(self, username: str) -> StoredUser | None:
        found = self._users(UserRow.username == username)
        return found[0] if found else None

    def users(self) -> list[StoredUser]:
        return self._users(true())

    def count_users(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(UserRow)) or 0)

    def count_active_admins(self, *, besides: int | None = None) -> int:
        """Admin accounts that are not disabled, leaving out the account `besides`. Their rows stay locked
        until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's writers are serialised), so two admins
        disabling each other at once cannot leave no active admin."""
        query = select(UserRow.id).where(UserRow.role == "admin", UserRow.disabled_at.is_(None))
        active = self.session.scalars(query.with_for_update()).all()
        return sum(1 for user_id in active if user_id != besides)

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        """Disable an account (now, UTC), voiding its sessions and tokens for good, or enable it again."""
        if disabled:
            at = utc_now()
            self.session.execute(
                update(UserRow).where(UserRow.id == user_id).values(disabled_at=at, sessions_from=at)
            )
            self._audit("update", "user", user_id, None, ["disabled_at", "sessions_from"])
        else:
            self.session.execute(update(UserRow).where(UserRow.id == user_id).values(disabled_at=None))
            self._audit("update", "user", user_id, None, ["disabled_at"])

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace an account's password hash (a new password, or the same one hashed with new parameters)."""
        self.session.execute(update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash))
        self._audit("update", "user", user_id, None, ["password_hash"])

    # -- reading whole records ---------------------------------------------------------------------------

    def patient_file(self, patient: PatientInfo, *, audit: bool = False) -> PatientFile:
        """Everything stored about one patient."""
        found = self.patient_files([patient])[0]
        if audit:
            return dataclasses.replace(found, audit=tuple(self.audit_entries(patient.id)))
        return found

    def patient_files(self, patients: Sequence[PatientInfo] | None = None) -> list[PatientFile]:
        """The records of `patients` (default: everyone), one query per table whatever their number."""
        people = list(patients) if patients is not None else self.patients()
        ids = [p.id for p in people]

        # For everyone (the due list) filter nothing; for a few patients use IN (...).
        def where(table: Table) -> Any:
            return true() if patients is None else table.c.patient_id.in_(ids)

        def grouped(table: Table, kind: type[V], order: Sequence[Any]) -> dict[int, tuple[V, ...]]:
            out: dict[int, list[V]] = defaultdict(list)
            for value in _values(self.session, table, kind, where(table), order):
                out[value.patient_id].append(value)  # type: ignore[attr-defined]
            return {k: tuple(v) for k, v in out.items()}

        plans = _table(PlanVersionRow)
        doses = _table(AdministrationRow)
        vials = _table(VialRow)
        labs = _table(LabResultRow)
        diary = _table(SymptomScoreRow)
        by_plan = grouped(plans, StoredPlanVersion, [plans.c.patient_id, plans.c.version])
        by_dose = grouped(doses, StoredAdministration, [doses.c.patient_id, doses.c.at, doses.c.id])
        by_vial = grouped(vials, StoredVial, [vials.c.patient_id, vials.c.opened_on, vials.c.id])
        by_lab = grouped(labs, StoredLab, [labs.c.patient_id, labs.c.taken_on, labs.c.id])
        by_diary = grouped(diary, StoredSymptom, [diary.c.patient_id, diary.c.scored_on, diary.c.id])
        return [
            PatientFile(
                patient=p,
                plan_versions=by_plan.get(p.id, ()),
                administrations=by_dose.get(p.id, ()),
                vials=by_vial.get(p.id, ()),
                labs=by_lab.get(p.id, ()),
                symptoms=by_diary.get(p.id, ()),
            )
            for p in people
        ]


@cache
def _users_query() -> Select[Any]:
    users = _table(UserRow)
    return select(*users.columns, PatientRow.ref.label("patient_ref")).outerjoin(
        PatientRow, PatientRow.id == users.c.patient_id
    )


@cache
def _user_by_id_query() -> Select[Any]:
    return _users_query().where(UserRow.id == bindparam("user_id"))


def _patient(row: PatientRow) -> PatientInfo:
    return PatientInfo(id=row.id, ref=row.ref, name=row.name, clinic=row.clinic, created_at=row.created_at)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _value(row: Base, kind: type[V]) -> V:
    columns = _table(type(row)).columns.keys()
    return kind(**{name: getattr(row, name) for name in columns})
