"""The first schema: patients, plan versions, vials, administrations, labs, symptom diary, audit log.

Revision ID: 0001
Revises: (none)

Written out in full, not built from tables.py, so that it stays the first schema whatever tables.py becomes.
The audit log is append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
_POSTGRESQL_TRIGGERS = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _patient_id(table: str) -> sa.Column[int]:
    return sa.Column(
        "patient_id",
        sa.Integer(),
        sa.ForeignKey("patients.id", name=f"fk_{table}_patient_id_patients"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "patients",
        _id(),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("clinic", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        sa.UniqueConstraint("ref", name="uq_patients_ref"),
    )
    op.create_table(
        "plan_versions",
        _id(),
        _patient_id("plan_versions"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ruleset", sa.String(64), nullable=False),
        sa.Column("case", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("patient_id", "version", name="uq_plan_versions_patient_id_version"),
    )
    op.create_table(
        "vials",
        _id(),
        _patient_id("vials"),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("lot", sa.String(64), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("volume_left_ml", sa.Float(), nullable=False),
        sa.Column("discard_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vials"),
        sa.CheckConstraint(
            "volume_left_ml >= 0 AND volume_left_ml <= volume_ml", name="ck_vials_volume_left"
        ),
        sa.CheckConstraint("discard_on >= opened_on", name="ck_vials_discard_after_opening"),
    )
    op.create_table(
        "administrations",
        _id(),
        _patient_id("administrations"),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("dose_mcg", sa.Float(), nullable=False),
        sa.Column("route", sa.String(8), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=True),
        sa.Column("product_id", sa.String(64), nullable=True),
        sa.Column("lot", sa.String(64), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("given_by", sa.String(100), nullable=True),
        sa.Column(
            "vial_id",
            sa.Integer(),
            sa.ForeignKey("vials.id", name="fk_administrations_vial_id_vials"),
            nullable=True,
        ),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_administrations"),
        sa.CheckConstraint("dose_mcg > 0", name="ck_administrations_dose_positive"),
    )
    op.create_table(
        "lab_results",
        _id(),
        _patient_id("lab_results"),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("test", sa.String(32), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(16), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lab_results"),
        sa.CheckConstraint("(value_num IS NULL) <> (value_text IS NULL)", name="ck_lab_results_one_value"),
    )
    op.create_table(
        "symptom_scores",
        _id(),
        _patient_id("symptom_scores"),
        sa.Column("scored_on", sa.Date(), nullable=False),
        sa.Column("symptom", sa.String(32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symptom_scores"),
        sa.CheckConstraint("score >= 0 AND score <= 10", name="ck_symptom_scores_score_range"),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", name="fk_audit_log_patient_id_patients"),
            nullable=True,
        ),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    for table in ("plan_versions", "vials", "administrations", "lab_results", "symptom_scores", "audit_log"):
        op.create_index(f"ix_{table}_patient_id", table, ["patient_id"])
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("audit_log", "symptom_scores", "lab_results", "administrations", "vials", "plan_versions"):
        op.drop_table(table)  # drops the table's indexes and triggers with it
    op.drop_table("patients")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
