"""Alembic migrations of the record store (see README in this folder)."""
