"""The patient record store: SQLAlchemy tables, Alembic migrations, and the `Store` that reads and writes.

SQLite in the user's data directory by default; any SQLite file or a PostgreSQL URL by `--db` or
`B12PLAN_DATABASE_URL` (`engine.py`). Every command is one transaction (`Store.transaction`), every change
has its audit row, and nothing here logs or prints patient data.
"""

from __future__ import annotations

from b12plan.store.engine import DATABASE_URL_ENV, default_database_path, resolve_url
from b12plan.store.repository import USER_ENV, Records, Store, current_user
from b12plan.store.schema import SchemaState, check_revision, head_revision, schema_state, upgrade
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

__all__ = [
    "DATABASE_URL_ENV",
    "USER_ENV",
    "AuditEntry",
    "PatientFile",
    "PatientInfo",
    "Records",
    "SchemaState",
    "Store",
    "StoredAdministration",
    "StoredLab",
    "StoredPlanVersion",
    "StoredSymptom",
    "StoredUser",
    "StoredVial",
    "check_revision",
    "current_user",
    "default_database_path",
    "head_revision",
    "resolve_url",
    "schema_state",
    "upgrade",
]
