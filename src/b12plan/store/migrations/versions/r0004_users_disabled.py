"""Accounts can be disabled.

Revision ID: 0004
Revises: 0003

`users.disabled_at` (UTC): when the account was disabled (someone who left), or NULL for an active account.
A disabled account cannot sign in and its sessions and tokens stop working; it is kept, so the audit log's
names still point at an account. Every account stored before is active.

`users.sessions_from` (UTC): sessions and tokens made before it are void (it is part of the account's stamp),
set when an account is disabled, so enabling it again does not bring old sessions back. NULL: none voided.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sessions_from", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("sessions_from")
        batch.drop_column("disabled_at")
