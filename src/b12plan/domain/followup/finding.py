"""A follow-up finding, and how the follow-up modules read their rules.

A `Finding` is to the treatment record what an `Alert` is to a plan: a stable code, a level, a message for
people, and the ids of the rules it rests on (every id exists in the rule set; the source is the URL of the
first rule that is not a design rule, else `b12plan design rule`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from b12plan.domain.codes import AlertLevel
from b12plan.domain.rules import DESIGN_SOURCE, FollowupRule, MistakeRule, RuleSet
from b12plan.errors import DataError

__all__ = ["Finding", "followup_rule", "make_finding", "mistake_rule", "number", "sort_findings"]

Number = Literal[
    "days",
    "after_days",
    "by_days",
    "fraction",
    "factor",
    "points",
    "count",
    "hb_rise_g_per_l",
    "mcv_fall_fl",
]
_LEVEL_ORDER = {AlertLevel.CRITICAL: 0, AlertLevel.WARNING: 1, AlertLevel.INFO: 2}


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    level: AlertLevel
    message: str
    rules: list[str]
    source: str


def followup_rule(rules: RuleSet, role: str) -> FollowupRule:
    """The rule set's rule for one follow-up step (every shipped rule set includes shared/followup.toml)."""
    rule = rules.followup(role)
    if rule is None:
        raise KeyError(f"rule set {rules.id} has no rule for {role}")
    return rule


def number(rule: FollowupRule, name: Number) -> float:
    """One number of a follow-up rule; the rule's own validation guarantees its role has it."""
    value: float | None = getattr(rule, name)
    if value is None:
        raise DataError(f"rule {rule.id}: {rule.role} needs {name}")
    return float(value)


def mistake_rule(rules: RuleSet, code: str) -> MistakeRule | None:
    """The rule set's `mistake` rule with this code (its message is the finding's advice)."""
    return next((r for r in rules.of(MistakeRule) if r.code == code), None)


def make_finding(
    rules: RuleSet, code: str, level: AlertLevel, message: str, rule_ids: Iterable[str]
) -> Finding:
    """A finding citing `rule_ids` (in order, once each); KeyError when one is not in the rule set."""
    ids = list(dict.fromkeys(rule_ids))
    cited = [rules.rule(rule_id) for rule_id in ids]
    if not cited:
        raise ValueError(f"finding {code} cites no rule")
    primary = next((r for r in cited if r.source != DESIGN_SOURCE), cited[0])
    return Finding(code=code, level=level, message=message, rules=ids, source=rules.source_url(primary))


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Most serious first, in the order found; a finding repeated word for word is kept once."""
    unique = list({(f.code, f.message): f for f in findings}.values())
    return sorted(unique, key=lambda f: _LEVEL_ORDER[f.level])
