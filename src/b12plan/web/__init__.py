"""The web app: server-rendered pages with htmx, the JSON API, calendar feeds and CDS Hooks (docs/web.md).

    settings.py    Settings: typed, from B12PLAN_* variables, refusing the placeholder secret in production
    app.py         create_app(settings) -> FastAPI
    server.py      serve(...) for `b12plan serve`; start_server(...) runs one on a free port for tests
    deps.py        typed dependencies: the signed-in user, the store acting for them, CSRF-checked forms
    security.py    sessions, API tokens, CSRF, the sign-in rate limit, security headers
    errors.py      exceptions to responses: one JSON error shape, HTML error pages
    templating.py  Jinja2 pages; wizard.py the plan wizard's form; charts.py matplotlib SVG charts
    routes/        auth, pages, plans, entries, reports (pages); api (JSON); feeds (iCalendar)

Access checks live in the services (`b12plan.services.as_user`, `b12plan.services.overviews`), not here.
"""

from __future__ import annotations

from b12plan.web.app import create_app
from b12plan.web.settings import Settings

__all__ = ["Settings", "create_app"]
