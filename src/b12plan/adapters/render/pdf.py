"""The written plan as PDF (A4), printed by WeasyPrint from the HTML plan.

WeasyPrint is an optional dependency: it is imported when a PDF is asked for, so everything else in
b12plan works without it.
"""

from __future__ import annotations

from b12plan.adapters.render.html import render_html
from b12plan.domain.plan import Plan
from b12plan.errors import FieldProblem, UserError

__all__ = ["render_pdf"]


def render_pdf(plan: Plan) -> bytes:
    """The plan as PDF bytes (A4, fonts embedded).

    Raises `UserError` (exit 2, `format: ...`) when WeasyPrint is not installed.
    """
    try:
        import weasyprint  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as error:
        problem = "pdf needs WeasyPrint, which is not installed: pip install weasyprint"
        raise UserError([FieldProblem("format", problem)]) from error
    pdf = weasyprint.HTML(string=render_html(plan)).write_pdf()
    if not isinstance(pdf, bytes):  # write_pdf() with no target returns the document's bytes
        raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, not bytes")
    return bytes(pdf)
