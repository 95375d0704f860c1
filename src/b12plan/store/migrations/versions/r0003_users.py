"""Accounts for the web app and the API.

Revision ID: 0003
Revises: 0002

`users`: a unique `username`, an argon2 `password_hash` (never the password), a `role` (`admin`,
`clinician` or `patient`), the `clinic` a clinician works in, and for a patient the record they may see
(`patient_id`). A new table only: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("clinic", sa.String(200), nullable=True),
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", name="fk_users_patient_id_patients"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('admin', 'clinician', 'patient')", name="ck_users_role"),
        sa.CheckConstraint("role <> 'patient' OR patient_id IS NOT NULL", name="ck_users_patient_has_record"),
    )


def downgrade() -> None:
    op.drop_table("users")
