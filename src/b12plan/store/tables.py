"""The patient record schema as SQLAlchemy 2 typed declarative models: the *head* revision of the migrations.

The migrations in `migrations/versions/` build this schema step by step and a test checks they agree. Times:
clinical times are the local wall-clock time, as a nurse writes it: `administrations.at` (when the dose was
given) and `plan_versions.created_at` (from when that version is the plan in force); bookkeeping times
(`patients.created_at`, `vials.created_at`, `recorded_at`, `audit_log.at`) are UTC. None carries a zone.

Nothing here is ever deleted or rewritten except a vial's `volume_left_ml`; `audit_log` is append-only
(database triggers refuse UPDATE and DELETE on it) and holds who, what and when, never patient values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AdministrationRow",
    "AuditRow",
    "Base",
    "LabResultRow",
    "PatientRow",
    "PlanVersionRow",
    "SymptomScoreRow",
    "UserRow",
    "VialRow",
]

# Named constraints, so that SQLite batch migrations (which copy a table) can find them again.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        dt.datetime: DateTime(timezone=False),
        dt.date: Date(),
        str: String(200),
        dict[str, Any]: JSON(),
    }


def _patient_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("patients.id"), index=True)


class PatientRow(Base):
    """One person under treatment, known by a pseudonymous reference (`ref`); the name is optional."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None]
    clinic: Mapped[str | None]
    created_at: Mapped[dt.datetime]


class PlanVersionRow(Base):
    """One saved plan: the case it came from, the plan (b12plan.plan/1 JSON), who saved it, when and why."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    version: Mapped[int]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    ruleset: Mapped[str] = mapped_column(String(64))
    case: Mapped[dict[str, Any]]
    plan: Mapped[dict[str, Any]]


class VialRow(Base):
    """A multi-dose vial in use for one patient: opened on a day, discarded on `discard_on` or when empty."""

    __tablename__ = "vials"
    __table_args__ = (
        CheckConstraint("volume_left_ml >= 0 AND volume_left_ml <= volume_ml", name="volume_left"),
        CheckConstraint("discard_on >= opened_on", name="discard_after_opening"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    product_id: Mapped[str] = mapped_column(String(64))
    lot: Mapped[str | None] = mapped_column(String(64))
    expiry: Mapped[dt.date | None]
    opened_on: Mapped[dt.date]
    volume_ml: Mapped[float] = mapped_column(Float)
    volume_left_ml: Mapped[float] = mapped_column(Float)
    discard_on: Mapped[dt.date]
    created_at: Mapped[dt.datetime]


class AdministrationRow(Base):
    """One dose given (or taken): when, how much in micrograms, how, what, where and by whom (`self`)."""

    __tablename__ = "administrations"
    __table_args__ = (
        CheckConstraint("dose_mcg > 0", name="dose_positive"),
        Index(None, "patient_id", "at"),  # revision 0002: the timeline and due-list order
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    at: Mapped[dt.datetime]
    dose_mcg: Mapped[float] = mapped_column(Float)
    route: Mapped[str] = mapped_column(String(8))
    volume_ml: Mapped[float | None] = mapped_column(Float)
    product_id: Mapped[str | None] = mapped_column(String(64))
    lot: Mapped[str | None] = mapped_column(String(64))
    expiry: Mapped[dt.date | None]
    site: Mapped[str | None] = mapped_column(String(64))
    given_by: Mapped[str | None] = mapped_column(String(100))
    vial_id: Mapped[int | None] = mapped_column(ForeignKey("vials.id"))
    recorded_at: Mapped[dt.datetime]


class LabResultRow(Base):
    """One lab result over time: a test code and unit as in the case contract (`labs[]`)."""

    __tablename__ = "lab_results"
    __table_args__ = (CheckConstraint("(value_num IS NULL) <> (value_text IS NULL)", name="one_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    taken_on: Mapped[dt.date]
    test: Mapped[str] = mapped_column(String(32))
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(16))
    upper_limit: Mapped[float | None] = mapped_column(Float)  # revision 0002
    lower_limit: Mapped[float | None] = mapped_column(Float)  # revision 0002
    recorded_at: Mapped[dt.datetime]


class SymptomScoreRow(Base):
    """One symptom diary entry: a symptom code scored 0 (none) to 10 (worst) on a day."""

    __tablename__ = "symptom_scores"
    __table_args__ = (CheckConstraint("score >= 0 AND score <= 10", name="score_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    scored_on: Mapped[dt.date]
    symptom: Mapped[str] = mapped_column(String(32))
    score: Mapped[int]
    recorded_at: Mapped[dt.datetime]


class AuditRow(Base):
    """Append-only: who did what to which record, when. `fields` names the fields set, never their values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    fields: Mapped[str] = mapped_column(Text, default="")


class UserRow(Base):
    """Someone who signs in to the web app or the API (revision 0003): an argon2 password hash, a role, and
    the clinic (a clinician's) or the patient record (a patient's) that the role is limited to. An account
    with `disabled_at` (UTC, revision 0004) cannot sign in; sessions and tokens made before `sessions_from`
    (set on disabling) are void."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'clinician', 'patient')", name="role"),
        CheckConstraint("role <> 'patient' OR patient_id IS NOT NULL", name="patient_has_record"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    clinic: Mapped[str | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]
    sessions_from: Mapped[dt.datetime | None]
