"""The written plan as one standalone HTML5 document, ready to print on A4.

The page has no scripts and loads nothing: its print stylesheet is inlined. The Jinja2 template ships as
package data (`templates/plan.html.j2`) and is loaded on first use, not at import. Autoescaping is on, so
any text in the plan (a note holding `<script>`, say) shows as typed and never becomes markup.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import jinja2
from markupsafe import Markup, escape

from b12plan.adapters.render._sections import build_document
from b12plan.adapters.render._words import glue
from b12plan.domain.plan import Plan

__all__ = ["render_html"]

_PACKAGE = "b12plan.adapters.render"
_TEMPLATE = "plan.html.j2"
_STYLESHEET = "plan.css"
_SLASHED = re.compile(r"\d[\d.]*\u00a0[a-zµ]*/[A-Za-z]+")  # `80 g/L`, glued: escaping leaves it as is


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=True,  # always: select_autoescape would not match the `.html.j2` suffix
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["unbroken"] = _unbroken
    return environment.get_template(_TEMPLATE)


def _unbroken(text: str) -> Markup:
    """Escaped text that never wraps inside `1 mL` or `Mon 7 Dec 2026` (no-break spaces), nor after the
    slash of `80 g/L` (a nowrap span: browsers may break after `/`)."""
    return Markup(_SLASHED.sub(r'<span class="nobr">\g<0></span>', str(escape(glue(text)))))


@functools.cache
def _stylesheet() -> Markup:
    # Our own file, inlined verbatim: passing it as Markup keeps autoescape from mangling `>` selectors.
    return Markup(resources.files(_PACKAGE).joinpath("templates", _STYLESHEET).read_text(encoding="utf-8"))


def render_html(plan: Plan) -> str:
    """The plan as a complete HTML5 document (UTF-8 text, no external resources, no JavaScript)."""
    html = _template().render(doc=build_document(plan), css=_stylesheet())
    return html.lstrip()
