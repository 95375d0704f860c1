"""Server-rendered pages: the Jinja2 environment (package templates, autoescape always on) and `render`.

Every page gets the signed-in user (`actor`, or None), the session's CSRF token for its forms, and
whether htmx asked for it (`hx`: then a handler may render a `_fragment.html` instead). Quantities are
shown with their units through the filters below, spelt as the written plan spells them (ISMP: units in
words, no trailing zeros), so a page and the printed plan never disagree.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from b12plan.adapters.render._words import (
    ALERT_LEVEL_WORDS,
    CAUSE_WORDS,
    EVENT_WORDS,
    STAGE_WORDS,
    STATUS_WORDS,
    TEST_WORDS,
    date_words,
    dose_words,
    every_words,
    number,
    range_words,
    until_words,
)
from b12plan.domain import units
from b12plan.domain.codes import AlertLevel, Cause, EventKind, LabTest, Route, Stage, Status

__all__ = ["DISCLAIMER", "environment", "render"]

DISCLAIMER = (
    "b12plan supports a prescriber. Every plan it writes must be checked and confirmed by one before any "
    "dose is given."
)


def _lab(value: float | str | None, unit: str | None) -> str:
    """`120 ng/L`, `10.5 g/dL`, `positive`: a lab value with its unit."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return units.format_quantity(value, unit)


def _named(enum: type[StrEnum], table: Mapping[Any, str]) -> Callable[[object], str]:
    """A filter: a code of `enum` in words from `table`; any other text with its underscores as spaces."""

    def words(code: object) -> str:
        try:
            return table.get(enum(str(code)), str(code))
        except ValueError:
            return str(code).replace("_", " ")

    return words


def _when(day: dt.date | dt.datetime | None) -> Markup:
    """A `<time>` element: `Mon 7 Dec 2026` (plus `09:30` for a time) for people, ISO for machines."""
    if day is None:
        return Markup("")
    # escape + f-string: what Markup.format does, without string.Formatter (the dashboard has many dates)
    if isinstance(day, dt.datetime):
        shown = f"{date_words(day.date())} {day:%H:%M}"
        return Markup(f'<time datetime="{escape(day.isoformat(timespec="minutes"))}">{escape(shown)}</time>')
    return Markup(f'<time datetime="{escape(day.isoformat())}">{escape(date_words(day))}</time>')


def _dose(due: Any) -> str:
    """A due dose (`DueDose`) or planned injection (`Event`) in words: micrograms, mL, route."""
    route = getattr(due, "route", None)
    return dose_words(
        due.dose_mcg,
        due.volume_ml,
        getattr(due, "syringe_units", None),
        route,
        injected=route is not Route.ORAL,
    )


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("b12plan.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "num": number,
            "lab": _lab,
            "when": _when,
            "dose": _dose,
            "every": every_words,
            "range_words": lambda r: range_words(r[0], r[1]) if r else "",
            "until": until_words,
            "test_name": _named(LabTest, TEST_WORDS),
            "cause_name": _named(Cause, CAUSE_WORDS),
            "status_name": _named(Status, STATUS_WORDS),
            "stage_name": _named(Stage, STAGE_WORDS),
            "event_name": _named(EventKind, EVENT_WORDS),
            "level_name": _named(AlertLevel, ALERT_LEVEL_WORDS),
            "words": lambda code: str(code).replace("_", " "),
        }
    )
    env.globals["DISCLAIMER"] = DISCLAIMER
    env.globals["default_unit"] = units.default_unit
    return env


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """Render template `name` with `context` plus `request`, `actor`, `csrf_token` and `hx`."""
    from b12plan.web.deps import ensure_session

    session = ensure_session(request)
    full = {
        "request": request,
        "actor": getattr(request.state, "actor", None),
        "csrf_token": session.csrf,
        "hx": request.headers.get("hx-request") == "true",
        **context,
    }
    html = environment().get_template(name).render(full)
    return HTMLResponse(html, status_code=status)
