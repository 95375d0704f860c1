"""The written plan as Markdown (CommonMark with GitHub-style tables).

Plan text is escaped, so a note holding `<script>` or `|` shows as typed and cannot become markup or break
a table. Footnote markers are plain `[n]` text: no link definitions are written, so they stay literal.
"""

from __future__ import annotations

import re
from typing import assert_never

from b12plan.adapters.render._document import (
    Block,
    Bullets,
    Document,
    Facts,
    Notes,
    Paragraph,
    Section,
    Signature,
    SourceList,
    Statement,
    Table,
)
from b12plan.adapters.render._sections import build_document
from b12plan.domain.plan import Plan

__all__ = ["render_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#~])")
_LINE_START = re.compile(r"^(\d*)([-+=.)])")  # list markers, setext underlines: `1. `, `- `, `=`
_URL = re.compile(r"https?://[^\s<>]+")


def render_markdown(plan: Plan) -> str:
    """The plan as a Markdown document, ending with a newline."""
    return _document(build_document(plan))


def _escape(text: str) -> str:
    """Plan text as literal Markdown: every character that could start markup is backslash-escaped."""
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(r"\1\\\2", text)


def _marks(notes: Notes) -> str:
    return "".join(f"[{n}]" for n in notes)


def _say(statement: Statement) -> str:
    marks = _marks(statement.notes)
    return f"{_escape(statement.text)} {marks}" if marks else _escape(statement.text)


def _document(doc: Document) -> str:
    parts = [f"# {_escape(doc.title)}", *(_say(s) for s in doc.preamble)]
    for section in doc.sections:
        parts += _urgent(section) if section.urgent else _section(section)
    return "\n\n".join(parts) + "\n"


def _urgent(section: Section) -> list[str]:
    """The urgent box: a block quote at the top, one bold paragraph per alert (it is its own heading)."""
    return ["\n>\n".join(f"> {_block(block)}" for block in section.blocks)]


def _section(section: Section) -> list[str]:
    return [f"## {_escape(section.title)}", *(_block(block) for block in section.blocks)]


def _block(block: Block) -> str:
    match block:
        case Paragraph(statement=statement, strong=strong):
            return f"**{_say(statement)}**" if strong else _say(statement)
        case Bullets(items=items, lead=lead):
            lines = [f"- {_say(item)}" for item in items]
            return "\n\n".join([_escape(lead), "\n".join(lines)]) if lead else "\n".join(lines)
        case Facts(items=facts):
            # Hard line breaks, not a list: a list here would merge with a list that follows.
            return "\\\n".join(f"**{_escape(f.label)}:** {_say(f.value)}" for f in facts)
        case Table():
            return _table(block)
        case Signature(labels=labels):
            return "\n\n".join(f"**{_escape(label)}:** {'_' * 40}" for label in labels)
        case SourceList(items=items):
            lines = []
            for item in items:
                rule = item.rule.replace("`", "")
                line = f"{item.number}. `{rule}` ({item.evidence}): {_escape(item.text)}"
                if item.url and _URL.fullmatch(item.url):
                    line += f" <{item.url}>"
                elif item.source:
                    line += f" {_escape(item.source)}"
                lines.append(line)
            return "\n".join(lines)
        case _:
            assert_never(block)


def _table(table: Table) -> str:
    with_notes = any(row.notes for row in table.rows)
    headers = [*table.headers, "Sources"] if with_notes else list(table.headers)
    lines = [f"### {_escape(table.title)}", ""] if table.title else []
    lines.append("| " + " | ".join(_escape(h) for h in headers) + " |")
    lines.append("|" + "---|" * len(headers))
    for row in table.rows:
        cells = [_escape(cell) for cell in row.cells]
        if row.provisional:
            cells = [f"*{cell}*" if cell else cell for cell in cells]
        if with_notes:
            cells.append(_marks(row.notes))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
