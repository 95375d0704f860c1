"""Settings (typed, from B12PLAN_*, no placeholder secret in production), their documentation, the `user`
and `serve` commands, and a real server on a free port."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webkit import PASSWORD, Seed, copy_database

from b12plan.errors import UserError
from b12plan.web import Settings, create_app
from b12plan.web.settings import ENVIRONMENT_VARIABLES, PLACEHOLDER_SECRET

Cli = Callable[..., Any]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "web.md"
GOOD = "k" * 40


def test_the_placeholder_secret_is_refused_outside_development() -> None:
    with pytest.raises(UserError, match="B12PLAN_SECRET_KEY: is the placeholder"):
        Settings()
    with pytest.raises(UserError, match="B12PLAN_SECRET_KEY: use at least 32 characters"):
        Settings(secret_key="short")
    assert Settings(environment="development").secret_key == PLACEHOLDER_SECRET


def test_settings_from_the_environment() -> None:
    env = {
        "B12PLAN_SECRET_KEY": GOOD,
        "B12PLAN_COOKIE_SECURE": "0",
        "B12PLAN_LOGIN_ATTEMPTS": "3",
        "B12PLAN_SESSION_HOURS": "1.5",
        "B12PLAN_TIMEZONE": "America/New_York",
    }
    settings = Settings.from_env(env, token_minutes=5)
    assert (settings.cookie_secure, settings.login_attempts, settings.session_hours) == (False, 3, 1.5)
    assert (settings.timezone, settings.token_minutes, settings.environment) == (
        "America/New_York",
        5,
        "production",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"B12PLAN_LOGIN_ATTEMPTS": "many"}, "B12PLAN_LOGIN_ATTEMPTS: 'many' is not a int"),
        ({"B12PLAN_COOKIE_SECURE": "maybe"}, "B12PLAN_COOKIE_SECURE: 'maybe' is not a bool"),
        ({"B12PLAN_TIMEZONE": "Mars/Olympus"}, "B12PLAN_TIMEZONE: 'Mars/Olympus' is not an IANA time zone"),
        ({"B12PLAN_ENV": "staging"}, "B12PLAN_ENV: 'staging' is not an environment"),
        ({"B12PLAN_LOGIN_ATTEMPTS": "0"}, "B12PLAN_LOGIN_ATTEMPTS: must be at least 1"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        Settings.from_env({"B12PLAN_SECRET_KEY": GOOD, **env})
    assert caught.value.lines[0].startswith(message)


def test_the_docs_describe_every_setting_and_command() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for variable in ENVIRONMENT_VARIABLES.values():
        assert f"`{variable}`" in text, f"docs/web.md does not mention {variable}"
    commands = ("serve", "user add", "user list", "user passwd", "user disable", "user enable")
    for command in (f"b12plan {c}" for c in commands):
        assert command in text


def test_every_api_route_is_in_the_docs(tmp_path: Path) -> None:
    app = create_app(Settings(secret_key=GOOD, database_url=str(tmp_path / "db.sqlite3")))
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(?:GET|POST)(?:\\\|POST)? (/api/[^ `]*)", text))
    paths = {p.replace("{ref}", "{id}").replace("{version}", "{n}") for p in app.openapi()["paths"]}
    api = {p for p in paths if p.startswith("/api/")}
    assert api <= documented, f"not in docs/web.md: {sorted(api - documented)}"


def test_user_add_reads_the_password_twice_from_stdin(cli: Cli, seed: Seed, tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite3"
    copy_database(seed.path, db)
    added = cli(
        "--db",
        db,
        "user",
        "add",
        "sam",
        "--role",
        "clinician",
        "--clinic",
        "East",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert added.exit_code == 0, added.all_output
    assert added.stdout == "added clinician sam (East)\n"
    patient = cli(
        "--db",
        db,
        "user",
        "add",
        "pat",
        "--role",
        "patient",
        "--patient",
        "P-OWN",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert patient.stdout == "added patient pat (P-OWN)\n"
    differ = cli("--db", db, "user", "add", "tom", "--role", "admin", input=f"{PASSWORD}\nsomething else\n")
    assert differ.exit_code == 2
    assert "password: the two passwords differ" in differ.stderr
    short = cli("--db", db, "user", "add", "tom", "--role", "admin", input="short\nshort\n")
    assert short.exit_code == 2
    assert "password: use at least 12 characters" in short.stderr
    listed = cli("--db", db, "user", "list")
    assert "sam" in listed.stdout
    assert "argon2" not in listed.stdout


def test_the_secret_file_is_made_once_and_private(tmp_path: Path) -> None:
    from b12plan.cli.web import secret_from_file

    path = tmp_path / "data" / "web-secret.key"
    secret, made = secret_from_file(path)
    assert made
    assert len(secret) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_from_file(path) == (secret, False)


def test_serve_is_a_command(cli: Cli) -> None:
    shown = cli("serve", "--help")
    assert shown.exit_code == 0
    assert "--port" in shown.stdout


def test_a_real_server_on_a_free_port(seed: Seed, tmp_path: Path) -> None:
    import httpx

    from b12plan.web.server import running_server

    db = tmp_path / "served.sqlite3"
    copy_database(seed.path, db)
    app = create_app(Settings(secret_key=GOOD, database_url=str(db), cookie_secure=False))
    with running_server(app) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        login = httpx.get(server.url + "/login")
        assert login.status_code == 200
        assert "server" not in login.headers  # uvicorn's banner header is off
