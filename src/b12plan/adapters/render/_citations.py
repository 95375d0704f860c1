"""Footnotes for the written plan: rule ids to numbers, and the numbered source list.

Numbers are handed out in order of first citation, so a reader meets [1], [2], [3] in order. Reasons the
text never cites are numbered after them, so the source list always holds every reason in the plan. A rule
id that some value cites but `Plan.reasons` lacks still gets a number and says that no source was recorded:
a gap is shown, never hidden.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from b12plan.adapters.render import _words as w
from b12plan.adapters.render._document import Notes, SourceItem, Statement
from b12plan.domain.plan import Reason

__all__ = ["NO_SOURCE", "Citations", "clean"]

NO_SOURCE = "no source recorded in this plan"


def clean(text: str) -> str:
    """Plan text without control characters (no terminal escapes, no stray line breaks)."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).strip()


class Citations:
    """Hands out footnote numbers in order of first citation."""

    def __init__(self, reasons: Sequence[Reason]) -> None:
        self._reasons: dict[str, Reason] = {}
        for reason in reasons:
            self._reasons.setdefault(reason.rule, reason)
        self._numbers: dict[str, int] = {}

    def cite(self, *rule_lists: Iterable[str]) -> Notes:
        numbers: set[int] = set()
        for rules in rule_lists:
            for rule in rules:
                numbers.add(self._numbers.setdefault(rule, len(self._numbers) + 1))
        return tuple(sorted(numbers))

    def say(self, text: str, *rule_lists: Iterable[str]) -> Statement:
        return Statement(clean(text), self.cite(*rule_lists))

    def sources(self) -> tuple[SourceItem, ...]:
        self.cite(self._reasons)  # uncited reasons go last, in the plan's order
        items = []
        for rule, n in self._numbers.items():
            reason = self._reasons.get(rule)
            if reason is None:
                items.append(SourceItem(n, clean(rule), NO_SOURCE, "unknown", "", None))
                continue
            source = clean(reason.source)
            tag = clean(reason.evidence)
            evidence = f"{w.EVIDENCE_WORDS[tag]} [{tag}]" if tag in w.EVIDENCE_WORDS else tag
            url = source if source.startswith(("https://", "http://")) else None
            if source.casefold() == w.EVIDENCE_WORDS.get(tag, "").casefold():  # said once is enough
                source = ""
            items.append(SourceItem(n, clean(rule), clean(reason.text), evidence, source, url))
        return tuple(items)
