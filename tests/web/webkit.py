"""Helpers for the web tests (imported as `webkit`; the fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from b12plan import services
from b12plan.services.accounts import Actor
from b12plan.web import Settings
from b12plan.web.security import Session, Signer

NOW = dt.datetime(2026, 1, 20, 12, 0)
PASSWORD = "correct horse battery"
CSRF = "csrf-token-for-tests-0123456789abcdef"
BASE_URL = "https://testserver"  # the session cookie is Secure: httpx sends it over https only


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), with sqlite3's online backup."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def example_case(start: str = "2026-01-05") -> dict[str, Any]:
    """The shipped example case, starting on `start`, its labs taken a week before."""
    case: dict[str, Any] = json.loads(services.example_case_text())
    case["start_date"] = start
    for lab in case["labs"]:
        lab["date"] = "2025-12-29"
    return case


@dataclass(frozen=True)
class Seed:
    path: Path
    actors: dict[str, Actor]


@dataclass
class Web:
    """One app on a fresh copy of the seeded store, and clients signed in as its users."""

    app: FastAPI
    settings: Settings
    seed: Seed
    signer: Signer
    _clients: dict[str | None, TestClient] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return self.seed.actors[name]

    def client(self, name: str | None) -> TestClient:
        """A client signed in as user `name` (None: nobody, with an anonymous session), CSRF token `CSRF`."""
        if name not in self._clients:
            client = TestClient(self.app, base_url=BASE_URL, follow_redirects=False)
            actor = self.actor(name) if name else None
            session = Session(
                csrf=CSRF, user_id=actor.user_id if actor else None, stamp=actor.stamp if actor else ""
            )
            client.cookies.set(self.signer.cookie_name, self.signer.dump_session(session))
            self._clients[name] = client
        return self._clients[name]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.app.state.b12plan.engine.dispose()

    def headers(self, name: str | None) -> dict[str, str]:
        """API headers for user `name` (a bearer token made by the app's signer); none for nobody."""
        if name is None:
            return {}
        actor = self.actor(name)
        return {"Authorization": f"Bearer {self.signer.token(actor.user_id, actor.stamp)}"}


def csrf_of(html: str) -> str:
    """The CSRF token in the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def error_of(response: Any) -> dict[str, str]:
    """The one JSON error shape: {"error": {"field", "problem"}} and nothing else."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"field", "problem"}, body
    assert isinstance(body["error"]["field"], str), body
    assert body["error"]["problem"], body
    error: dict[str, str] = body["error"]
    return error


class _Controls(HTMLParser):
    """Form controls of a page and how each is labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append({**found, "_wrapped": "yes" if self.open_labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def unlabelled_controls(html: str) -> list[str]:
    """Inputs, selects and text areas with no label: `<label for>`, a wrapping label, or aria-label(ledby)."""
    parser = _Controls()
    parser.feed(html)
    return [
        str(c.get("id") or c.get("name"))
        for c in parser.controls
        if not (
            c.get("_wrapped")
            or c.get("aria-label")
            or c.get("aria-labelledby")
            or (c.get("id") and c["id"] in parser.label_for)
        )
    ]


def flat_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every route of an app, following included routers (FastAPI 0.16x keeps them as
    `_IncludedRouter` objects holding the original router and the include's prefix) and mounts."""
    found: list[tuple[str, str]] = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            found += flat_routes(list(original.routes), prefix + str(getattr(context, "prefix", "") or ""))
        elif getattr(route, "methods", None):
            found += [(m, prefix + route.path) for m in sorted(route.methods) if m != "HEAD"]
        elif hasattr(route, "app") and hasattr(route, "path"):  # a mount (static files)
            found.append(("GET", prefix + route.path + "/{path}"))
    return sorted(set(found))
