"""`b12plan serve` (the web app) and `b12plan user add|list|passwd|disable|enable` (its accounts). Thin:
settings, then services.

The global `--db` chooses the record store as for every command. The secret that signs sessions, tokens and
calendar links comes from `B12PLAN_SECRET_KEY`; when it is not set, `serve` keeps a random one in
`web-secret.key` beside the default database (created on first use, readable by its owner only), so a fresh
machine runs with no set-up. Processes on several machines sharing one PostgreSQL store must share the
secret: set `B12PLAN_SECRET_KEY` on each.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from b12plan.errors import FieldProblem, UserError

__all__ = ["register", "secret_from_file"]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
user_app = typer.Typer(help="Accounts for the web app and the API.", no_args_is_help=True)


def _global(ctx: typer.Context, name: str) -> str | None:
    value = ctx.find_root().params.get(name)
    return value if isinstance(value, str) and value else None


def secret_from_file(path: Path) -> tuple[str, bool]:
    """The secret kept in `path`, made (random, 64 characters, owner-only) if the file does not exist yet;
    and whether it was just made."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret, True


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every network).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Start the web app and API (http://127.0.0.1:8000 by default) on the record store."""
    from b12plan.cli.main import _guard

    def go() -> None:
        from b12plan.services import accounts
        from b12plan.store import Store, default_database_path
        from b12plan.web import Settings, create_app
        from b12plan.web.server import serve as run_server

        overrides: dict[str, object] = {}
        db = _global(ctx, "db")
        if db:
            overrides["database_url"] = db
        environment = os.environ.get("B12PLAN_ENV", "").strip() or "production"
        if not os.environ.get("B12PLAN_SECRET_KEY", "").strip() and environment != "development":
            key_file = default_database_path().with_name("web-secret.key")
            overrides["secret_key"], made = secret_from_file(key_file)
            err.print(f"{'made a new' if made else 'using the'} secret in {key_file}", markup=False)
        settings = Settings.from_env(**overrides)
        app = create_app(settings)
        with Store.open(settings.database_url, actor="web") as store:
            if accounts.count_users(store) == 0:
                err.print(
                    "No accounts yet. Add the first one, then sign in:\n"
                    "  b12plan user add NAME --role admin\n"
                    "(clinicians: --role clinician --clinic CLINIC; patients: --role patient --patient ID)",
                    markup=False,
                )
        err.print(f"b12plan on http://{host}:{port} (Ctrl-C stops it)", markup=False)
        run_server(app, host=host, port=port)

    _guard(go)


def _password() -> str:
    """Typed twice at a prompt; or, when stdin is not a terminal, two lines on stdin that must match."""
    if sys.stdin.isatty():
        first = str(typer.prompt("Password", hide_input=True))
        second = str(typer.prompt("Repeat the password", hide_input=True))
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise UserError([FieldProblem("password", "give it twice, on two lines of stdin")])
        first, second = lines[0], lines[1]
    if first != second:
        raise UserError([FieldProblem("password", "the two passwords differ")])
    return first


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The username to sign in with.")],
    role: Annotated[str, typer.Option(help="admin, clinician or patient.")],
    clinic: Annotated[str | None, typer.Option(help="A clinician's clinic (they see its patients).")] = None,
    patient: Annotated[str | None, typer.Option(help="A patient's own record (its id).")] = None,
) -> None:
    """Add an account; the password is asked for twice (or read from two lines of stdin)."""
    from b12plan.cli.main import _guard

    def go() -> None:
        from b12plan.services import accounts
        from b12plan.store import Store

        password = _password()
        with Store.open(_global(ctx, "db"), actor=_global(ctx, "user")) as store:
            added = accounts.add_user(store, name, password, role, clinic=clinic, patient=patient)
        scope = added.clinic or added.patient_ref or "every clinic"
        out.print(f"added {added.role.value} {added.username} ({scope})", markup=False)

    _guard(go)


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The account's username.")],
) -> None:
    """Set an account's password (someone who forgot theirs); asked for twice (or read from two lines of
    stdin). Every session and API token made with the old password stops working."""
    from b12plan.cli.main import _guard

    def go() -> None:
        from b12plan.services import accounts
        from b12plan.store import Store

        password = _password()
        with Store.open(_global(ctx, "db"), actor=_global(ctx, "user")) as store:
            changed = accounts.set_password(store, name, password)
        ended = "their old sessions and tokens have ended"
        out.print(f"new password for {changed.username}: {ended}", markup=False)

    _guard(go)


def _set_disabled(ctx: typer.Context, name: str, disabled: bool) -> None:
    from b12plan.cli.main import _guard

    def go() -> None:
        from b12plan.services import accounts
        from b12plan.store import Store

        with Store.open(_global(ctx, "db"), actor=_global(ctx, "user")) as store:
            changed = accounts.set_disabled(store, name, disabled)
        state = "disabled: it cannot sign in and its sessions have ended" if disabled else "enabled"
        out.print(f"{changed.username} is {state}", markup=False)

    _guard(go)


@user_app.command("disable")
def user_disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The account's username.")],
) -> None:
    """Disable an account (someone who left): it cannot sign in, its sessions and tokens stop working. It is
    kept for the audit log. The last active admin cannot be disabled."""
    _set_disabled(ctx, name, True)


@user_app.command("enable")
def user_enable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The account's username.")],
) -> None:
    """Enable a disabled account again."""
    _set_disabled(ctx, name, False)


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List the accounts (never their passwords)."""
    from b12plan.cli.main import _guard

    def go() -> None:
        from b12plan.services import accounts
        from b12plan.store import Store

        with Store.open(_global(ctx, "db"), actor=_global(ctx, "user")) as store:
            users = accounts.list_users(store)
        table = Table("username", "role", "clinic", "patient", "status", title=f"{len(users)} accounts")
        for u in users:
            cells = (
                u.username,
                u.role.value,
                u.clinic or "",
                u.patient_ref or "",
                "disabled" if u.disabled else "active",
            )
            table.add_row(*(Text(c) for c in cells))
        out.print(table)

    _guard(go)


def register(app: typer.Typer) -> None:
    """Add `serve` and `user` to the main app."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
