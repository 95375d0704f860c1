"""The one place where exceptions become responses.

JSON (under /api, /cds-services and /feeds): always `{"error": {"field": ..., "problem": ...}}`, the first
problem when there are several, with the status:

    422  input refused (a UserError: `labs[0].unit`, ...; a request that does not fit the API's schema;
         a body that is not a JSON object or cannot be read at all: field `body`)
    404  no such patient (an admin), no such account (an admin) or no such route
    401  no valid token (with `WWW-Authenticate: Bearer`)
    403  signed in, but not allowed; or a form's CSRF token did not match
    429  too many failed sign-ins (with `Retry-After`)
    500  a bug: the problem says so and nothing more (the log has the exception type and the route only)

Pages get the same statuses as an HTML page, except that a page that needs a sign-in sends the browser to
`/login?next=...` (303). Handlers that show a form catch UserError themselves to show each problem beside
its field; what reaches here is shown at the top of an error page.

A client that hangs up while its request is read (starlette's `ClientDisconnect`: a browser leaving the
page, htmx cancelling a preview that a newer one replaces) is nobody's error: it is logged at debug level
and answered with a bare 400 that nobody reads.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from b12plan.errors import (
    AccessError,
    B12planError,
    FieldProblem,
    ForbiddenError,
    NotSignedInError,
    UnknownAccountError,
    UnknownPatientError,
    UserError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "TooManyAttempts",
    "error_body",
    "install_error_handlers",
    "is_api",
]

log = logging.getLogger("b12plan.web")
_API_PREFIXES = ("/api/", "/cds-services", "/feeds/")
_BODY_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's 400 when a body cannot be read
_NOT_JSON = "is not JSON: send a JSON object with Content-Type: application/json"


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every API error: which field (`""` for the request as a whole) and what is wrong with it."""

    error: ErrorDetail


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("Not signed in: no token, or one that is not valid or has expired"),
    403: _described("Signed in, but not allowed"),
    404: _described("No such patient, account or record"),
    422: _described("Input refused: the field and the problem"),
}


class TooManyAttempts(B12planError):
    """Too many failed sign-ins from one address (for one username): wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")


def is_api(request: Request) -> bool:
    return request.url.path.startswith(_API_PREFIXES) or request.url.path == "/api"


def error_body(problem: FieldProblem) -> dict[str, dict[str, str]]:
    return {"error": {"field": problem.field, "problem": problem.problem}}


def _field(loc: tuple[int | str, ...]) -> str:
    """`('body', 'labs', 0, 'unit')` -> `labs[0].unit`; the request part (body, query, path) is left out,
    unless it is all there is: `('body',)` -> `body`."""
    if len(loc) == 1 and loc[0] == "body":
        return "body"
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _validation_problem(exc: RequestValidationError) -> FieldProblem:
    errors = list(exc.errors())
    if not errors:
        return FieldProblem("", "the request is not valid")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return FieldProblem("body", "is not valid JSON")
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "missing":
        return FieldProblem(_field(loc), "is required")
    if loc == ("body",):  # the body as a whole is not the JSON object the route takes
        sent = first.get("input")  # bytes: not read as JSON (another content type)
        return FieldProblem("body", _NOT_JSON if isinstance(sent, bytes) else "must be a JSON object")
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return FieldProblem(_field(loc), message)


def _page(request: Request, status: int, title: str, problem: FieldProblem) -> Response:
    from b12plan.web.templating import render

    return render(request, "error.html", {"title": title, "problem": problem}, status=status)


def _respond(
    request: Request,
    status: int,
    title: str,
    problem: FieldProblem,
    headers: dict[str, str] | None = None,
) -> Response:
    if is_api(request):
        return JSONResponse(error_body(problem), status_code=status, headers=headers)
    response = _page(request, status, title, problem)
    response.headers.update(headers or {})
    return response


def _client_gone(request: Request) -> Response:
    """The client hung up before its request was read: no one to answer, nothing wrong with b12plan."""
    where = getattr(request.scope.get("route"), "path", request.url.path)
    log.debug("client disconnected during %s %s", request.method, where)
    return Response(status_code=400)


def _unreadable_body(request: Request) -> FieldProblem:
    """What is wrong with a body FastAPI could not parse (JSON that is not UTF-8, a broken multipart form)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith("multipart/") or kind == "application/x-www-form-urlencoded":
        return FieldProblem("body", "is not a form that can be read")
    return FieldProblem("body", "is not valid JSON")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers in the module docstring on `app`."""

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        status = 404 if isinstance(exc, UnknownPatientError | UnknownAccountError) else 422
        title = "Not found" if status == 404 else "That cannot be used"
        return _respond(
            request, status, title, exc.problems[0] if exc.problems else FieldProblem("", str(exc))
        )

    @app.exception_handler(AccessError)
    async def access_error(request: Request, exc: AccessError) -> Response:
        problem = exc.problems[0]
        if isinstance(exc, NotSignedInError):
            if is_api(request):
                return JSONResponse(
                    error_body(problem), status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
            target = f"/login?next={request.url.path}" if request.method == "GET" else "/login"
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        assert isinstance(exc, ForbiddenError)
        return _respond(request, 403, "Not allowed", problem)

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, exc: TooManyAttempts) -> Response:
        problem = FieldProblem("username", str(exc))
        return _respond(request, 429, "Too many attempts", problem, {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _respond(request, 422, "That cannot be used", _validation_problem(exc))

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        return _client_gone(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_FAILED:
            if isinstance(exc.__cause__, ClientDisconnect):
                return _client_gone(request)
            # a body FastAPI could not read, e.g. JSON that is not UTF-8: refused input like any other
            return _respond(request, 422, "That cannot be used", _unreadable_body(request))
        titles = {404: "Not found", 405: "Not allowed here"}
        problems = {404: "there is nothing at this address", 405: f"{request.method} is not allowed here"}
        detail = problems.get(exc.status_code, str(exc.detail))
        return _respond(
            request,
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            FieldProblem("", detail),
            dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        route = request.scope.get("route")
        settings = getattr(getattr(request.app.state, "b12plan", None), "settings", None)
        traceback = bool(getattr(settings, "development", False))  # tracebacks may hold patient values
        where = getattr(route, "path", "?")
        log.error("internal error %s in %s", type(exc).__name__, where, exc_info=traceback)
        problem = FieldProblem("", "an internal error in b12plan; it has been logged (no patient data)")
        return _respond(request, 500, "Something went wrong", problem)
