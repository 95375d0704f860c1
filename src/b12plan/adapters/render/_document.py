"""The written plan as typed values: a document of sections of blocks, each statement with its footnotes.

`_sections.build_document` turns a `Plan` into a `Document`; the text, Markdown and HTML renderers only lay
a `Document` out. Each block class has a `kind` so the Jinja template can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "Block",
    "Bullets",
    "Document",
    "Fact",
    "Facts",
    "Notes",
    "Paragraph",
    "Row",
    "Section",
    "Signature",
    "SourceItem",
    "SourceList",
    "Statement",
    "Table",
]

Notes = tuple[int, ...]
"""Footnote numbers, each pointing at one `SourceItem` of the document's source list."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement and the footnotes for the rules behind it."""

    text: str
    notes: Notes = ()


@dataclass(frozen=True, slots=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    statement: Statement
    strong: bool = False


@dataclass(frozen=True, slots=True)
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: tuple[Statement, ...]
    lead: str = ""


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: Statement


@dataclass(frozen=True, slots=True)
class Facts:
    """Label: value pairs (a definition list in HTML)."""

    kind: ClassVar[str] = "facts"
    items: tuple[Fact, ...]


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[str, ...]
    notes: Notes = ()
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """Rows under column headers. `title`: a sub-heading (the calendar's month); `caption`: what it is."""

    kind: ClassVar[str] = "table"
    caption: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    title: str = ""


@dataclass(frozen=True, slots=True)
class Signature:
    """Blank lines for a person to fill in by hand."""

    kind: ClassVar[str] = "signature"
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SourceItem:
    number: int
    rule: str
    text: str
    evidence: str
    source: str
    url: str | None


@dataclass(frozen=True, slots=True)
class SourceList:
    kind: ClassVar[str] = "sources"
    items: tuple[SourceItem, ...]


Block = Paragraph | Bullets | Facts | Table | Signature | SourceList


@dataclass(frozen=True, slots=True)
class Section:
    """One headed part of the plan. `urgent` sections are drawn as a box above everything else."""

    id: str
    title: str
    blocks: tuple[Block, ...]
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    preamble: tuple[Statement, ...]
    sections: tuple[Section, ...]

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(section.title for section in self.sections)
