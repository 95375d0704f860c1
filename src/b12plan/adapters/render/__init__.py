"""The written plan: pure functions from a `Plan` to text, Markdown, HTML or PDF.

All four show the same sections in the same order, built once in `_sections.py`; each module here only lays
them out. They show what the plan holds and decide nothing: no clinical number or threshold lives here.

    render_text(plan, width=88) -> str    plain text for printing and the terminal
    render_markdown(plan) -> str          Markdown, with tables for doses and the calendar
    render_html(plan) -> str              one standalone HTML5 page with A4 print CSS
    render_pdf(plan) -> bytes             PDF via WeasyPrint (optional dependency, imported on use)
"""

from __future__ import annotations

from b12plan.adapters.render.html import render_html
from b12plan.adapters.render.markdown import render_markdown
from b12plan.adapters.render.pdf import render_pdf
from b12plan.adapters.render.text import render_text

__all__ = ["render_html", "render_markdown", "render_pdf", "render_text"]
