"""Alembic revisions, oldest first: r0001 is the first schema."""
