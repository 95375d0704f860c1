"""The schema revision of a database, and upgrading it with the migrations shipped in the package.

`upgrade` runs every pending revision in one transaction (Alembic, driven in-process: no alembic.ini), so a
failed upgrade changes nothing. `check_revision` is what every command runs first: a database a revision
behind is refused with the command that fixes it, never silently used or silently changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from b12plan.errors import FieldProblem, UserError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "REVISIONS",
    "SchemaState",
    "check_revision",
    "current_revision",
    "downgrade",
    "head_revision",
    "schema_state",
    "upgrade",
]

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
"""Every shipped revision, oldest first (a test checks this against migrations/versions/). Kept here so that
the revision check every command runs does not need to import Alembic."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("b12plan.store") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this b12plan ships."""
    return REVISIONS[-1]


def shipped_revisions() -> list[str]:
    """The revisions in migrations/versions/, oldest first, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (Alembic's `alembic_version` table); None for an empty database."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise UserError([FieldProblem("database", f"has several schema heads ({', '.join(versions)})")])
    return versions[0] if versions else None


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    empty: bool  # no tables at all: a new database

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        connection.execution_options(b12plan_write=False)
        current = current_revision(connection)
        empty = current is None and not inspect(connection).get_table_names()
        connection.rollback()
    return SchemaState(current, head_revision(), empty)


def upgrade(
    engine: Engine, revision: str = "head", *, progress: Callable[[int, int], None] | None = None
) -> tuple[str | None, str]:
    """Upgrade the database to `revision` in one transaction; returns (from, to) revisions.

    `progress(done, total)` is called before the first and after each revision applied.
    """
    from alembic import command

    known = list(REVISIONS)
    with engine.begin() as connection:
        before = current_revision(connection)
        if before is not None and before not in known:
            raise _newer_than_us(before)
        target = known[-1] if revision == "head" else revision
        start = known.index(before) + 1 if before else 0
        steps = known[start : known.index(target) + 1]
        if progress:
            progress(0, len(steps))
        config = _config(connection)
        for done, step in enumerate(steps, start=1):
            command.upgrade(config, step)
            if progress:
                progress(done, len(steps))
        return before, current_revision(connection) or target


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to `revision` (`base` for an empty database). For tests and emergencies only."""
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def _newer_than_us(revision: str) -> UserError:
    return UserError(
        [
            FieldProblem(
                "database",
                f"its schema revision {revision!r} is newer than this b12plan knows; upgrade b12plan",
            )
        ]
    )


def check_revision(engine: Engine, *, create: bool) -> None:
    """Refuse a database that is not at the head revision. An empty one is created when `create` is set."""
    state = schema_state(engine)
    if state.up_to_date:
        return
    if state.empty and create:
        upgrade(engine)
        return
    if state.current is not None and state.current not in REVISIONS:
        raise _newer_than_us(state.current)
    what = "is empty" if state.empty else f"is at schema revision {state.current}, not {state.head}"
    raise UserError([FieldProblem("database", f"{what}; run `b12plan db upgrade` first")])
