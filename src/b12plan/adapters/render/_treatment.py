"""The treatment section of the written plan: product, doses per phase in words, supply.

Doses read in micrograms and millilitres (and insulin-syringe units for SC); intervals in words. Events do
not say which phase they belong to, so a phase's dates are shown only when it is the only phase of its stage.
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
    rows = tuple(Row(_phase_cells(p, regimen, plan.events), cite.cite(p.rules)) for p in regimen.phases)
    blocks.append(Table("Doses", ("Stage", "Dose", "How often", "How long", "Dates"), rows))
    described = [p for p in regimen.phases if p.description]
    if described:
        items = (cite.say(f"{_stage(p.stage)}: {p.description}", p.rules) for p in described)
        blocks.append(Bullets(tuple(items)))
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


def _stage(stage: Stage) -> str:
    return w.STAGE_WORDS.get(stage, str(stage)).capitalize()


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


def _phase_cells(phase: Phase, regimen: Regimen, events: Sequence[Event]) -> tuple[str, ...]:
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
        often += f" (the rule set allows {w.range_words(*phase.interval_range_days)})"
    # Events do not name their phase: dates are shown only when one phase has this stage.
    alone = sum(p.stage == phase.stage for p in regimen.phases) == 1
    doses = doses_of(phase.stage, events) if alone else []
    long: list[str] = []
    if phase.doses is not None:
        long.append(f"{phase.doses} doses")
    if phase.until is not None:
        review = _review_words(phase, doses, events)
        if phase.until == "clinical_review":
            long.append(f"until the clinical review {review}" if review else w.until_words(phase.until))
        else:
            long.append(f"{w.until_words(phase.until)}; clinical review {review or 'to decide'}")
    if phase.lifelong:
        long.append("for life")
    dates = ""
    if doses:
        first, last = w.date_words(doses[0].date), w.date_words(doses[-1].date)
        dates = f"from {first}" if phase.lifelong or phase.doses is None else f"{first} to {last}"
    return (_stage(phase.stage), dose, often, ", ".join(long) or "no end set", dates)


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
