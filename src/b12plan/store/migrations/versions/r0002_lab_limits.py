"""Lab reference limits, and an index for timelines and the due list.

Revision ID: 0002
Revises: 0001

`lab_results.upper_limit` / `lower_limit`: the reporting lab's own reference limits, in the result's unit
(the case contract's `labs[].upper_limit`; MMA and homocysteine are read against the lab's upper limit).
`ix_administrations_patient_id_at`: doses of one patient in time order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("lab_results") as batch:
        batch.add_column(sa.Column("upper_limit", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lower_limit", sa.Float(), nullable=True))
    op.create_index("ix_administrations_patient_id_at", "administrations", ["patient_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_administrations_patient_id_at", table_name="administrations")
    with op.batch_alter_table("lab_results") as batch:
        batch.drop_column("lower_limit")
        batch.drop_column("upper_limit")
