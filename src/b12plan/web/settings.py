"""The web app's settings: one frozen value, built from `B12PLAN_*` environment variables by `from_env`
(or directly, in tests) and handed to `create_app(settings)`. Nothing is read at import.

Every setting, its variable and its default are in docs/web.md (a test checks the two agree). Outside
development the secret must be set and not the placeholder: it signs sessions, API tokens and calendar
feed links, so a known secret would let anyone forge them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from b12plan.errors import FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET

__all__ = ["ENVIRONMENT_VARIABLES", "MIN_SECRET_LENGTH", "PLACEHOLDER_SECRET", "Settings"]

PLACEHOLDER_SECRET = "change-me"
MIN_SECRET_LENGTH = 32
Environment = Literal["production", "development"]

# setting -> environment variable (B12PLAN_DATABASE_URL is also the CLI's: docs/store.md)
ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "secret_key": "B12PLAN_SECRET_KEY",
    "environment": "B12PLAN_ENV",
    "database_url": "B12PLAN_DATABASE_URL",
    "cookie_secure": "B12PLAN_COOKIE_SECURE",
    "session_hours": "B12PLAN_SESSION_HOURS",
    "token_minutes": "B12PLAN_TOKEN_MINUTES",
    "login_attempts": "B12PLAN_LOGIN_ATTEMPTS",
    "login_window_minutes": "B12PLAN_LOGIN_WINDOW_MINUTES",
    "timezone": "B12PLAN_TIMEZONE",
    "ruleset": "B12PLAN_RULESET",
    "hsts": "B12PLAN_HSTS",
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """What the web app needs to run. Checked when made: a bad value is a `UserError` naming its variable."""

    secret_key: str = PLACEHOLDER_SECRET
    environment: Environment = "production"
    database_url: str | None = None  # None: the embedded SQLite file (docs/store.md)
    cookie_secure: bool = True  # cookies only over HTTPS (browsers count http://localhost as secure)
    session_hours: float = 8.0  # a sign-in lasts this long
    token_minutes: int = 60  # an API token lasts this long
    login_attempts: int = 5  # failed sign-ins allowed per address and username ...
    login_window_minutes: int = 15  # ... in this many minutes (then 429 until the window passes)
    timezone: str = "Europe/London"  # calendar feeds: the time zone of the 09:00 events
    ruleset: str = DEFAULT_RULESET  # the rule set CDS Hooks services plan with
    hsts: bool = False  # send Strict-Transport-Security (only behind HTTPS)

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []

        def bad(name: str, problem: str) -> None:
            problems.append(FieldProblem(ENVIRONMENT_VARIABLES[name], problem))

        if self.environment not in ("production", "development"):
            bad("environment", f"{self.environment!r} is not an environment; use production or development")
        if self.environment != "development":
            if self.secret_key == PLACEHOLDER_SECRET:
                bad("secret_key", "is the placeholder; set a long random secret (docs/web.md)")
            elif len(self.secret_key) < MIN_SECRET_LENGTH:
                bad("secret_key", f"use at least {MIN_SECRET_LENGTH} characters of random text")
        if not self.secret_key:
            bad("secret_key", "must not be empty")
        for name, value, low in (
            ("session_hours", self.session_hours, 0.1),
            ("token_minutes", self.token_minutes, 1),
            ("login_attempts", self.login_attempts, 1),
            ("login_window_minutes", self.login_window_minutes, 1),
        ):
            if not value >= low:
                bad(name, f"must be at least {low:g}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            bad("timezone", f"{self.timezone!r} is not an IANA time zone (e.g. Europe/London)")
        if problems:
            raise UserError(problems)

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, /, **overrides: object) -> Settings:
        """Settings from `B12PLAN_*` variables (`environ`, default os.environ); `overrides` win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, variable in ENVIRONMENT_VARIABLES.items():
            text = env.get(variable, "").strip()
            if not text:
                continue
            kind = str(types[name])
            try:
                if kind == "bool":
                    if text.lower() not in _TRUE | _FALSE:
                        raise ValueError
                    values[name] = text.lower() in _TRUE
                elif kind == "int":
                    values[name] = int(text)
                elif kind == "float":
                    values[name] = float(text)
                else:
                    values[name] = text
            except ValueError:
                raise UserError([FieldProblem(variable, f"{text!r} is not a {kind}")]) from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
