"""The written plan as plain text: what a patient takes home and a prescriber signs.

Wrapped to a fixed width, with no ANSI codes or control characters, readable on paper. A dose, a unit or a
date never wraps apart (`1 mL`, `Mon 7 Dec 2026`). URLs are never broken across lines, so a line holding a
long URL may run past the width.
"""

from __future__ import annotations

import textwrap
from typing import assert_never

from b12plan.adapters.render import _words as w
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

__all__ = ["render_text"]

_MIN_WIDTH = 40
_KEY_WIDTH = 18  # the calendar's date column: "Wed 30 Sep 2026" and two spaces


def render_text(plan: Plan, width: int = 88) -> str:
    """The plan as plain text wrapped to `width` characters (at least 40), ending with a newline."""
    return _Layout(max(width, _MIN_WIDTH)).document(build_document(plan))


def _marks(notes: Notes) -> str:
    return "".join(f"[{n}]" for n in notes)


def _say(statement: Statement) -> str:
    marks = _marks(statement.notes)
    return f"{statement.text} {marks}" if marks else statement.text


class _Layout:
    def __init__(self, width: int) -> None:
        self.width = width

    def wrap(self, text: str, indent: str = "", hang: str = "") -> list[str]:
        wrapper = textwrap.TextWrapper(
            self.width,
            initial_indent=indent,
            subsequent_indent=hang,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines = wrapper.wrap(w.glue(text)) or [indent.rstrip()]
        return [line.replace(w.NBSP, " ") for line in lines]

    def document(self, doc: Document) -> str:
        lines = [doc.title.upper(), "=" * len(doc.title)]
        for statement in doc.preamble:
            lines += self.wrap(_say(statement))
        for section in doc.sections:
            lines.append("")
            lines += self.box(section) if section.urgent else self.section(section)
        return "\n".join(line.rstrip() for line in lines) + "\n"

    def section(self, section: Section) -> list[str]:
        lines = [section.title.upper(), "-" * len(section.title)]
        for i, block in enumerate(section.blocks):
            if i:
                lines.append("")
            lines += self.block(block)
        return lines

    def box(self, section: Section) -> list[str]:
        inner = _Layout(self.width - 4)
        body = [line for block in section.blocks for line in inner.block(block)]
        edge = "+" + "-" * (self.width - 2) + "+"
        return [edge, *(f"| {line.ljust(self.width - 4)} |" for line in body), edge]

    def block(self, block: Block) -> list[str]:
        match block:
            case Paragraph(statement=statement):
                return self.wrap(_say(statement))
            case Bullets(items=items, lead=lead):
                lines = self.wrap(lead) if lead else []
                for item in items:
                    lines += self.wrap(_say(item), "- ", "  ")
                return lines
            case Facts(items=facts):
                return [line for f in facts for line in self.wrap(f"{f.label}: {_say(f.value)}", "", "  ")]
            case Table():
                return self.table(block)
            case Signature(labels=labels):
                lines = []
                for label in labels:
                    lines += ["", f"{label}: ".ljust(self.width, "_")]
                return lines[1:]
            case SourceList(items=sources):
                lines = []
                for source in sources:
                    head = f"[{source.number}] {source.rule} ({source.evidence}): {source.text}"
                    lines += self.wrap(head, "", "    ")
                    if source.source:
                        lines.append(f"    {source.source}")
                return lines
            case _:
                assert_never(block)

    def table(self, table: Table) -> list[str]:
        lines = [table.title, ""] if table.title else []
        if len(table.headers) <= 3:  # date, what, details: one wrapped line per row
            for row in table.rows:
                key, *rest = row.cells
                text = ": ".join(cell for cell in rest if cell)
                marks = _marks(row.notes)
                text = f"{text} {marks}" if marks else text
                lines += self.wrap(text, key.ljust(_KEY_WIDTH), " " * _KEY_WIDTH)
            return lines
        for i, row in enumerate(table.rows):  # wide tables: one small block per row
            if i:
                lines.append("")
            marks = _marks(row.notes)
            lines.append(f"{row.cells[0]} {marks}" if marks else row.cells[0])
            for header, cell in zip(table.headers[1:], row.cells[1:], strict=True):
                if cell:
                    lines += self.wrap(f"{header}: {cell}", "  ", "    ")
        return lines
