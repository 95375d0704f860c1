"""Alembic environment: runs the migrations on the connection `b12plan.store.schema` hands over.

No alembic.ini, no URL of its own: the caller opens the connection (and its transaction), so a migration
run is one transaction on PostgreSQL and SQLite alike, and a failed run leaves the schema unchanged.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from b12plan.store.tables import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("b12plan migrations run through `b12plan db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: copy-and-move in batch mode
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
