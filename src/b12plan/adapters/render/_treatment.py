"""The treatment section of the written plan: product, doses per phase in words, supply.

Doses read in micrograms and millilitres (and insulin-syringe units for SC); intervals in words. Events do
not say which phase they belong to: a stage's dose events are shared out among its phases, in order, by
each phase's dose count. A phase whose events cannot be told apart that way is shown without dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from b12plan.adapters.render import _words as w
from b12plan.adapters.render._citations import Citations, clean
from b12plan.adapters.render._document import Block, Bullets, Fact, Facts, Paragraph, Row, Statement, Table
from b12plan.domain.codes import EventKind, Route, Stage
from b12plan.domain.plan import Event, Phase, Plan, ProductUse, Regimen

__all__ = ["doses_of", "regimen_blocks"]


def regimen_blocks(regimen: Regimen, plan: Plan, cite: Citations) -> tuple[Block, ...]:
    """The product, one row per phase with its dose in micrograms and mL, and the supply it needs."""
    product = regimen.product
    facts = [Fact("Medicine", cite.say(w.FORMULATION_WORDS.get(regimen.formulation, "?"), regimen.rules))]
    facts.append(Fact("Product", Statement(f"{clean(product.name)} ({clean(product.form)})")))
    facts += _product_facts(product)
    if regimen.oral_product is not None:
        oral = regimen.oral_product
        facts.append(Fact("Product by mouth", Statement(f"{clean(oral.name)} ({clean(oral.form)})")))
        facts += _product_facts(oral)
    blocks: list[Block] = [Facts(tuple(facts))]
    notes = [*product.notes, *(regimen.oral_product.notes if regimen.oral_product else [])]
    if notes:
        blocks.append(Bullets(tuple(Statement(clean(n)) for n in notes)))
    names = _phase_names(regimen.phases)
    doses = _phase_doses(regimen.phases, plan.events)
    rows = tuple(
        Row((name, *_phase_cells(phase, phase_doses, plan.events)), cite.cite(phase.rules))
        for phase, name, phase_doses in zip(regimen.phases, names, doses, strict=True)
    )
    blocks.append(Table("Doses", ("Stage", "Dose", "How often", "How long"), rows))
    described = [(p, name) for p, name in zip(regimen.phases, names, strict=True) if p.description]
    if described:
        blocks.append(Bullets(tuple(cite.say(f"{name}: {p.description}", p.rules) for p, name in described)))
    if regimen.supply is not None:
        s = regimen.supply
        text = (
            f"Supply for the {plan.horizon_months} months planned: {s.containers} containers"
            f" for {s.doses} doses ({w.number(s.total_mcg)} micrograms in all)"
        )
        if s.drawn_ml is not None:
            text += f"; {w.number(s.drawn_ml)} mL drawn up"
        if s.wasted_ml is not None:
            text += f", {w.number(s.wasted_ml)} mL left over and discarded"
        blocks.append(Paragraph(Statement(text + ".")))
        if s.notes:
            blocks.append(Bullets(tuple(Statement(clean(n)) for n in s.notes)))
    return tuple(blocks)


def _phase_names(phases: Sequence[Phase]) -> list[str]:
    """`Loading`, or `Loading, part 2 of 3` when a stage has several phases."""
    names = []
    for phase in phases:
        same = [p for p in phases if p.stage == phase.stage]
        name = w.STAGE_WORDS.get(phase.stage, str(phase.stage)).capitalize()
        if len(same) > 1:
            name += f", part {[id(p) for p in same].index(id(phase)) + 1} of {len(same)}"
        names.append(name)
    return names


def _phase_doses(phases: Sequence[Phase], events: Sequence[Event]) -> list[list[Event]]:
    """Each phase's dose events: its stage's events taken in order, `doses` at a time; an open-ended phase
    takes the rest when it is the last of its stage. Phases after an unknown split get none."""
    shares: list[list[Event]] = []
    left = {stage: doses_of(stage, events) for stage in Stage}
    for stage, pool in left.items():  # counts that do not add up: show no dates rather than wrong ones
        counts = [p.doses for p in phases if p.stage == stage]
        if None not in counts and sum(c or 0 for c in counts) != len(pool):
            left[stage] = []
    for i, phase in enumerate(phases):
        last = all(p.stage != phase.stage for p in phases[i + 1 :])
        pool = left[phase.stage]
        count = phase.doses if phase.doses is not None else (len(pool) if last else None)
        if count is None:
            shares.append([])
            left[phase.stage] = []
            continue
        shares.append(pool[:count] if len(pool) >= count else [])
        left[phase.stage] = pool[count:]
    return shares


def _product_facts(product: ProductUse) -> list[Fact]:
    facts = []
    if product.strength_mcg_per_ml is not None:
        strength = f"{w.number(product.strength_mcg_per_ml)} micrograms per mL"
        facts.append(Fact("Strength", Statement(strength)))
    elif product.strength_mcg is not None:
        facts.append(Fact("Strength", Statement(f"{w.number(product.strength_mcg)} micrograms each")))
    if product.container_ml is not None:
        use = "multi-dose" if product.multi_dose else "single use"
        if product.multi_dose and product.discard_after_days is not None:
            use += f": discard {product.discard_after_days} days after first opening"
        facts.append(Fact("Container", Statement(f"{w.number(product.container_ml)} mL, {use}")))
    return facts


def doses_of(stage: Stage, events: Sequence[Event]) -> list[Event]:
    """The dose events (injections or doses by mouth) of one stage, in the plan's order."""
    return [e for e in events if e.stage == stage and e.kind in (EventKind.INJECTION, EventKind.ORAL)]


def _phase_cells(phase: Phase, doses: Sequence[Event], events: Sequence[Event]) -> tuple[str, ...]:
    """Dose, how often and how long (with dates) for one phase."""
    injected = phase.route != Route.ORAL
    dose = w.dose_words(
        phase.dose_mcg,
        phase.volume_ml,
        phase.syringe_units,
        phase.route,
        injected=injected,
        tablets=phase.tablets_per_dose,
    )
    if phase.containers_per_dose and phase.containers_per_dose > 1:
        dose += f", drawn from {phase.containers_per_dose} containers"
    often = w.every_words(phase.interval_days, phase.times_per_week)
    if phase.interval_range_days is not None:
        often += f"; the rule set allows {w.range_words(*phase.interval_range_days)}"
    long: list[str] = []
    if phase.doses is not None:
        long.append(f"{phase.doses} doses")
        if doses:
            long.append(f"{w.date_words(doses[0].date)} to {w.date_words(doses[-1].date)}")
    elif doses:
        long.append(f"from {w.date_words(doses[0].date)}")
    until = None if phase.until == "lifelong" and phase.lifelong else phase.until  # "for life" says it
    if until is not None:
        review = _review_words(phase, doses, events)
        if until == "clinical_review":
            long.append(f"until the clinical review {review}" if review else w.until_words(until))
        else:
            long.append(f"{w.until_words(until)}; clinical review {review or 'to decide'}")
    if phase.lifelong:
        long.append("for life")
    return (dose, often, ", ".join(long) or "no end set")


def _review_words(phase: Phase, doses: Sequence[Event], events: Sequence[Event]) -> str | None:
    """When an open-ended phase is reviewed, e.g. `on Mon 28 Dec 2026`: its own delay, or the next review."""
    start = doses[0].date if doses else None
    reviews = [e.date for e in events if e.kind == EventKind.REVIEW and (start is None or e.date >= start)]
    if phase.review_after_days is not None:
        if start is None:
            return f"after {phase.review_after_days} days"
        due = start + dt.timedelta(days=phase.review_after_days)
        if due in reviews:
            return f"on {w.date_words(due)}"
        return f"after {phase.review_after_days} days ({w.date_words(due)})"
    return f"on {w.date_words(reviews[0])}" if reviews else None
