"""Reading posted forms and placing refusals beside their fields, shared by the page routes."""

from __future__ import annotations

from starlette.datastructures import FormData

from b12plan.errors import UserError

__all__ = ["field_problems", "form_text"]


def form_text(form: FormData, name: str, *, strip: bool = True) -> str:
    """A text field of a posted form ('' when absent or a file); `strip=False` for passwords."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def field_problems(exc: UserError) -> dict[str, str]:
    """The first problem of each field, by field name (`form` for one that names none), to show beside it."""
    placed: dict[str, str] = {}
    for problem in exc.problems:
        placed.setdefault(problem.field or "form", problem.problem)
    return placed
