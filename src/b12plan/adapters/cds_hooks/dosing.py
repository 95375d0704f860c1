"""A draft B12 order's dose and interval against the rule set's regimens for what was ordered.

The regimens compared are every `regimen` rule of the rule set for the ordered formulation with a phase of
the ordered route (`injection` for IM, SC and IV; `oral`), so any dose or interval some regimen of the rule
set gives passes, and one none gives is reported with what the regimens do give. A dose passes when it is a
phase's `dose_mcg` or inside its `dose_range_mcg`; an interval (a span of days: "every 3 months" is 84-93)
passes when it meets a phase's `interval_range_days`, or its `interval_days` or `times_per_week` spacing.

Which dosage is which stage: with two or more sequenced dosageInstructions the last is maintenance and the
others loading (as b12plan's own FHIR export writes them), each compared with those phases only; a single
dosage may be either. Every number compared comes from the rule set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from b12plan.adapters.cds_hooks.medicines import Dosage, MedicineOrder, close, overlaps, route_kind
from b12plan.adapters.render._words import FORMULATION_WORDS, STAGE_WORDS, every_words, number, range_words
from b12plan.domain.codes import Stage
from b12plan.domain.rules import PhaseSpec, RegimenRule, RuleSet

__all__ = ["Comparison", "compare_order"]

_ROUTE_KIND_WORDS = {"injection": "by injection", "oral": "by mouth", None: ""}
_DAYS_A_WEEK = 7


@dataclass(frozen=True)
class _Phase:
    rule: RegimenRule
    spec: PhaseSpec

    def allowed_days(self) -> tuple[float, float]:
        s = self.spec
        if s.interval_range_days is not None:
            return float(s.interval_range_days[0]), float(s.interval_range_days[1])
        days = s.interval_days if s.interval_days is not None else _DAYS_A_WEEK / (s.times_per_week or 1)
        return days, days

    def takes_dose(self, dose_mcg: float) -> bool:
        lo, hi = self.spec.dose_range_mcg or (self.spec.dose_mcg, self.spec.dose_mcg)
        return (
            close(dose_mcg, self.spec.dose_mcg)
            or (lo <= dose_mcg <= hi)
            or close(dose_mcg, lo)
            or close(dose_mcg, hi)
        )

    def dose_words(self) -> str:
        s = self.spec
        if s.dose_range_mcg:
            return f"{number(s.dose_range_mcg[0])} to {number(s.dose_range_mcg[1])} micrograms"
        return f"{number(s.dose_mcg)} micrograms"

    def interval_words(self) -> str:
        s = self.spec
        if s.interval_range_days is not None:
            return range_words(*s.interval_range_days)
        return every_words(s.interval_days or 0, s.times_per_week)


def _stages(order: MedicineOrder) -> list[Stage | None]:
    """Loading then maintenance for two or more distinct sequences (as b12plan's export writes them)."""
    sequences = [d.sequence for d in order.dosages]
    if len(sequences) < 2 or None in sequences or len(set(sequences)) != len(sequences):
        return [None] * len(sequences)
    last = max(s for s in sequences if s is not None)
    return [Stage.MAINTENANCE if s == last else Stage.REPLETION for s in sequences]


def _interval_words(days: tuple[float, float]) -> str:
    lo, hi = days
    return every_words(round(lo, 2)) if close(lo, hi) else f"every {number(lo)} to {number(hi)} days"


def _allowed(phases: Sequence[_Phase], words: Callable[[_Phase], str]) -> str:
    """`on alternate days, three times a week (loading); every 56 to 61 days (maintenance)`."""
    parts = []
    for stage in (Stage.REPLETION, Stage.MAINTENANCE):
        ordered = sorted(
            (p for p in phases if p.spec.stage is stage), key=lambda p: (p.allowed_days(), p.spec.dose_mcg)
        )
        found = list(dict.fromkeys(words(p) for p in ordered))
        if found:
            parts.append(f"{', '.join(found)} ({STAGE_WORDS[stage]})")
    return "; ".join(parts)


def _dosage_problems(
    dosage: Dosage, stage: Stage | None, phases: Sequence[_Phase], index: int
) -> list[tuple[str, str]]:
    """(`dose` | `interval` | `stage`, sentence) for each way one dosage departs from the phases."""
    name = f"Dosage {index + 1}" + (f" ({STAGE_WORDS[stage]})" if stage else "")
    if dosage.text:
        name += f' "{dosage.text}"'
    fitting = [p for p in phases if stage is None or p.spec.stage is stage]
    if not fitting:
        return [("stage", f"{name}: these regimens have no {STAGE_WORDS[stage] if stage else ''} phase.")]
    problems: list[tuple[str, str]] = []
    if dosage.dose_mcg is not None and not any(p.takes_dose(dosage.dose_mcg) for p in fitting):
        allowed = _allowed(fitting, _Phase.dose_words)
        problems.append(
            (
                "dose",
                f"{name}: {number(dosage.dose_mcg)} micrograms is not a dose of these regimens: {allowed}.",
            )
        )
    if dosage.interval_days is not None and not any(
        overlaps(dosage.interval_days, p.allowed_days()) for p in fitting
    ):
        allowed = _allowed(fitting, _Phase.interval_words)
        problems.append(
            (
                "interval",
                f"{name}: {_interval_words(dosage.interval_days)} is outside their intervals: {allowed}.",
            )
        )
    return problems


@dataclass
class Comparison:
    """One order against the rule set's regimens of its formulation, route by route."""

    problems: list[tuple[str, str]] = field(default_factory=list)  # (dose | interval | stage, sentence)
    rule_ids: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)  # `hydroxocobalamin by injection`
    no_regimen: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


def compare_order(rules: RuleSet, order: MedicineOrder) -> Comparison:
    """Compare a B12 order (one with a formulation) route by route; see the module docstring."""
    assert order.formulation is not None
    out = Comparison()
    out.unread = [f"Dosage {i + 1}: {p}." for i, d in enumerate(order.dosages) for p in d.problems]
    if not order.dosages:
        out.unread.append("The order has no dosage instruction.")
    stages = _stages(order)
    for kind in sorted({route_kind(d.route) for d in order.dosages} or {None}, key=str):
        what = f"{FORMULATION_WORDS[order.formulation]} {_ROUTE_KIND_WORDS[kind]}".strip()
        refs = [
            r
            for r in rules.of(RegimenRule)
            if r.formulation is order.formulation and (kind is None or any(p.route == kind for p in r.phases))
        ]
        if not refs:
            out.no_regimen.append(what)
            continue
        out.compared.append(what)
        out.rule_ids += [r.id for r in refs]
        phases = [_Phase(r, p) for r in refs for p in r.phases if kind is None or p.route == kind]
        for i, (dosage, stage) in enumerate(zip(order.dosages, stages, strict=True)):
            if route_kind(dosage.route) == kind:
                out.problems += _dosage_problems(dosage, stage, phases, i)
    return out
