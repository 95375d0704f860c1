"""Making cards the same way every time: source, rule ids, stable uuids, short summaries.

Every card's `source.label` is `b12plan (<rule set id>)` and its `source.url` the published source of the
first rule behind it that has one (a card resting only on b12plan design rules has no url: the detail says
`[D]`). The detail ends with the rule ids and their evidence tags, so a clinician can trace every card to
the rule set, as every other b12plan output does. Card and suggestion uuids are derived from the hook call
(`hookInstance`) and what the card is about, so the same call gives the same uuids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from b12plan.adapters.cds_hooks.models import (
    SUMMARY_MAX,
    Action,
    Card,
    Coding,
    Indicator,
    Link,
    SelectionBehavior,
    Source,
    Suggestion,
)
from b12plan.domain.rules import RuleSet

__all__ = ["OVERRIDE_SYSTEM", "TOPIC_SYSTEM", "CardKit", "short"]

TOPIC_SYSTEM = "urn:b12plan:cds-topic"
OVERRIDE_SYSTEM = "urn:b12plan:cds-override-reason"
_NAMESPACE = uuid.UUID("6c1f2b57-0b12-4c0d-9a3e-cd5b00c4d5e1")
_TOPICS: dict[str, str] = {
    "data": "What b12plan could not see",
    "assessment": "Vitamin B12 status",
    "next-tests": "Tests to order next",
    "due-dose": "Injection due",
    "plan": "Treatment plan",
    "safety": "Safety",
    "order-dose": "Dose and interval of an order",
}
_OVERRIDE_REASONS = (
    ("clinical-judgement", "Clinical judgement: the benefit outweighs the risk here"),
    ("record-out-of-date", "The record b12plan read is wrong or out of date"),
    ("specialist-advice", "Following specialist advice"),
)
_ELLIPSIS = "…"


def short(text: str, limit: int = SUMMARY_MAX) -> str:
    """`text` on one line within `limit` characters, cut at a word with an ellipsis when too long."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - len(_ELLIPSIS)].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + _ELLIPSIS


class CardKit:
    """Builds the cards of one hook call against one rule set."""

    def __init__(self, rules: RuleSet, *, service_id: str, hook_instance: str) -> None:
        self.rules = rules
        self.service_id = service_id
        self.hook_instance = hook_instance

    @property
    def label(self) -> str:
        return f"b12plan ({self.rules.id})"

    def uuid(self, key: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.service_id}|{self.hook_instance}|{key}"))

    def _known(self, ids: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(i for i in ids if i))

    def source(self, rule_ids: Sequence[str], topic: str) -> Source:
        url: str | None = None
        for rule_id in self._known(rule_ids):
            try:
                rule = self.rules.rule(rule_id)
            except KeyError:
                continue
            found = self.rules.source_url(rule)
            if found.startswith(("http://", "https://")):
                url = found
                break
        return Source(
            label=self.label,
            url=url,
            topic=Coding(system=TOPIC_SYSTEM, code=topic, display=_TOPICS[topic]),
        )

    def rules_line(self, rule_ids: Sequence[str]) -> str:
        """`Rules: NG239-DX-TOTAL [Q], DX-COMBINE [D] (nice-ng239 2024.03-b12plan.1)`."""
        parts: list[str] = []
        for rule_id in self._known(rule_ids):
            try:
                parts.append(f"`{rule_id}` [{self.rules.rule(rule_id).evidence}]")
            except KeyError:
                parts.append(f"`{rule_id}`")
        meta = self.rules.ruleset
        return f"Rules: {', '.join(parts) or 'none'} ({meta.id} {meta.version})."

    def rule_texts(self, rule_ids: Sequence[str]) -> list[str]:
        """`- text [tag]` for each rule id the rule set holds."""
        lines: list[str] = []
        for rule_id in self._known(rule_ids):
            try:
                rule = self.rules.rule(rule_id)
            except KeyError:
                continue
            lines.append(f"- {rule.text} [{rule.evidence}]")
        return lines

    def suggestion(
        self, key: str, label: str, actions: Sequence[Action], *, recommended: bool | None = None
    ) -> Suggestion:
        return Suggestion(
            label=short(label, 80),
            uuid=self.uuid(f"suggestion|{key}"),
            is_recommended=recommended,
            actions=list(actions),
        )

    def card(
        self,
        key: str,
        *,
        summary: str,
        indicator: Indicator,
        topic: str,
        rule_ids: Sequence[str],
        paragraphs: Sequence[str] = (),
        suggestions: Sequence[Suggestion] = (),
        selection: SelectionBehavior | None = None,
        links: Sequence[Link] = (),
        overridable: bool = False,
    ) -> Card:
        """One card. `paragraphs` are Markdown blocks (a bullet list is one block); the rule line is added.

        `overridable` cards offer b12plan's override reasons, for cards that ask the clinician to act.
        """
        detail = "\n\n".join([*(p for p in paragraphs if p), self.rules_line(rule_ids)])
        reasons = (
            [Coding(system=OVERRIDE_SYSTEM, code=code, display=text) for code, text in _OVERRIDE_REASONS]
            if overridable
            else None
        )
        return Card(
            uuid=self.uuid(f"card|{key}"),
            summary=short(summary),
            detail=detail,
            indicator=indicator,
            source=self.source(rule_ids, topic),
            suggestions=list(suggestions) or None,
            selection_behavior=(selection or "at-most-one") if suggestions else None,
            override_reasons=reasons,
            links=list(links) or None,
        )
