"""Build the written plan once, as typed sections, for every output format.

The order of sections is the order a patient and a prescriber read them in: urgent alerts, assessment,
treatment, calendar, tests and reviews, what to expect, red flags, mistakes, sources, confirmation.
Every statement that rests on a decision carries the footnote numbers of the plan's rules. Footnotes are
numbered in order of first citation; reasons the text never cites are listed after them, so the source
list always holds every reason in the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from b12plan.adapters.render import _words as w
from b12plan.adapters.render._citations import Citations, clean
from b12plan.adapters.render._document import (
    Block,
    Bullets,
    Document,
    Fact,
    Facts,
    Paragraph,
    Row,
    Section,
    Signature,
    SourceList,
    Statement,
    Table,
)
from b12plan.adapters.render._treatment import doses_of, regimen_blocks
from b12plan.domain.codes import AlertLevel, EventKind, Route, Stage
from b12plan.domain.plan import Alert, Event, Plan

__all__ = ["HEADINGS", "build_document"]

HEADINGS = (
    "Assessment",
    "Treatment: product and volumes",
    "Calendar",
    "Tests and reviews",
    "What to expect",
    "Red flags and warnings",
    "Mistakes to avoid",
    "Sources",
    "Prescriber confirmation",
)
"""The headings every plan has, whatever it holds (the urgent box comes first, only when needed)."""

_EVENT_HEADERS = ("Date", "What", "Details")


def build_document(plan: Plan) -> Document:
    """The written plan for `plan`, as sections in reading order."""
    cite = Citations(plan.reasons)
    sections: list[Section] = []
    critical = [a for a in plan.alerts if a.level == AlertLevel.CRITICAL]
    if critical:
        alarms = tuple(Paragraph(cite.say(f"URGENT: {a.message}", a.rules), strong=True) for a in critical)
        sections.append(Section("urgent", "Urgent", alarms, urgent=True))
    sections += [
        Section("assessment", HEADINGS[0], _assessment(plan, cite)),
        Section("treatment", HEADINGS[1], _treatment(plan, cite)),
        Section("calendar", HEADINGS[2], _calendar(plan, cite)),
        Section("tests", HEADINGS[3], _tests(plan, cite)),
        Section("expect", HEADINGS[4], _expectations(plan, cite)),
        Section("warnings", HEADINGS[5], _red_flags(plan, cite) + _alerts(plan.alerts, cite, "No warnings.")),
        Section("mistakes", HEADINGS[6], _alerts(plan.mistakes, cite, "None recorded for this plan.")),
    ]
    lead = "Numbers in square brackets in this plan point to these rules and their sources."
    sections.append(Section("sources", HEADINGS[7], (Paragraph(Statement(lead)), SourceList(cite.sources()))))
    sections.append(Section("confirmation", HEADINGS[8], _confirmation(plan)))
    ruleset = plan.ruleset
    preamble = (
        Statement(f"Rule set: {clean(ruleset.title)} ({clean(ruleset.id)} version {clean(ruleset.version)})"),
        Statement(f"Plan starts {w.date_words(plan.generated_for)} and covers {plan.horizon_months} months."),
        Statement("A prescriber must check and confirm this plan before it is used."),
    )
    return Document("Vitamin B12 treatment plan", preamble, tuple(sections))


def _assessment(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    a = plan.assessment
    rules = a.rules
    shown = {"summary", "status", "neurological", "anaemia", "severe_anaemia", "urgent", "causes", "lifelong"}
    other = [r for key, ids in rules.items() if key not in shown | {"next_tests"} for r in ids]
    blocks: list[Block] = []
    if a.summary:
        blocks.append(Paragraph(cite.say(a.summary, rules.get("summary", []))))
    anaemia = w.yes_no(a.anaemia)
    if a.severe_anaemia:
        anaemia = "yes, severe"
    causes = w.join_words(w.CAUSE_WORDS.get(c, str(c)) for c in a.causes) or "none recorded"
    facts = [
        ("Result", cite.say(w.STATUS_WORDS.get(a.status, str(a.status)), rules.get("status", []), other)),
        ("Nerve (neurological) symptoms", cite.say(w.yes_no(a.neurological), rules.get("neurological", []))),
        ("Anaemia", cite.say(anaemia, rules.get("anaemia", []), rules.get("severe_anaemia", []))),
        ("Needs same-day clinical assessment", cite.say(w.yes_no(a.urgent), rules.get("urgent", []))),
        ("Causes", cite.say(causes, rules.get("causes", []))),
        ("Treatment for life", cite.say(w.yes_no(a.lifelong, "not decided"), rules.get("lifelong", []))),
    ]
    blocks.append(Facts(tuple(Fact(label, value) for label, value in facts)))
    if a.labs:
        rows = tuple(
            Row(
                (
                    w.TEST_WORDS.get(lab.test, str(lab.test)),
                    clean(lab.reported),
                    w.date_words(lab.date) if lab.date else "not given",
                    clean(lab.interpretation or ""),
                ),
                cite.cite(lab.rules),
            )
            for lab in a.labs
        )
        blocks.append(Table("Results used", ("Test", "Result", "Date taken", "Reading"), rows))
    if a.missing:
        blocks.append(Bullets(tuple(Statement(clean(m)) for m in a.missing), "Still missing to decide:"))
    return tuple(blocks)


def _treatment(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    a = plan.assessment
    if plan.regimen is None:
        none = cite.say("No vitamin B12 replacement is recommended now.", a.rules.get("status", []))
        blocks: list[Block] = [Paragraph(none, strong=True)]
        if a.summary:
            blocks.append(Paragraph(Statement(f"Why: {clean(a.summary)}")))
        if a.next_tests:
            tests = w.test_words(a.next_tests)
            blocks.append(Paragraph(cite.say(f"Tests to do next: {tests}.", a.rules.get("next_tests", []))))
        return tuple(blocks)
    return regimen_blocks(plan.regimen, plan, cite)


def _dose_labels(plan: Plan) -> dict[int, str]:
    """A label per dose event (by identity): `loading dose 2 of 6` for injections, `loading, daily` by mouth.

    `of N` only when every phase of the stage has a fixed count. Doses by mouth are not numbered: the plan
    may date only the start of a daily course, so the label says how often instead, when one phase says so.
    """
    phases = plan.regimen.phases if plan.regimen else []
    labels: dict[int, str] = {}
    for stage in Stage:
        stage_phases = [p for p in phases if p.stage == stage]
        injections = [e for e in doses_of(stage, plan.events) if e.kind == EventKind.INJECTION]
        fixed = bool(stage_phases) and all(p.doses is not None for p in stage_phases)
        count = f" of {len(injections)}" if fixed else ""
        for n, event in enumerate(injections, start=1):
            labels[id(event)] = f"{w.STAGE_WORDS[stage]} dose {n}{count}"
        oral = [p for p in stage_phases if p.route == Route.ORAL]
        often = f", {w.every_words(oral[0].interval_days, oral[0].times_per_week)}" if len(oral) == 1 else ""
        for event in doses_of(stage, plan.events):
            if event.kind == EventKind.ORAL:
                labels[id(event)] = f"{w.STAGE_WORDS[stage]}{often}"
    return labels


def _event_rows(events: Iterable[Event], labels: dict[int, str], cite: Citations) -> tuple[Row, ...]:
    rows = []
    for e in events:
        what = w.EVENT_WORDS.get(e.kind, str(e.kind))
        details = ""
        if e.kind in (EventKind.INJECTION, EventKind.ORAL) and e.dose_mcg is not None:
            injected = e.kind == EventKind.INJECTION
            details = w.dose_words(e.dose_mcg, e.volume_ml, e.syringe_units, e.route, injected=injected)
        notes = [labels[id(e)]] if id(e) in labels else []
        if e.provisional:
            notes.append("provisional")
        if notes:
            what += f" ({', '.join(notes)})"
        if e.tests:
            details = w.test_words(e.tests)
        if e.note:
            details = f"{details}. {clean(e.note)}" if details else clean(e.note)
        rows.append(Row((w.date_words(e.date), what, details), cite.cite(e.rules), e.provisional))
    return tuple(rows)


def _calendar(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    if not plan.events:
        return (Paragraph(Statement("No dated events in this plan.")),)
    blocks: list[Block] = []
    if any(e.provisional for e in plan.events):
        note = "Events marked provisional depend on how treatment goes: the prescriber confirms them."
        blocks.append(Paragraph(Statement(note)))
    labels = _dose_labels(plan)
    months: dict[tuple[int, int], list[Event]] = {}
    for event in sorted(plan.events, key=lambda e: e.date):
        months.setdefault((event.date.year, event.date.month), []).append(event)
    for group in months.values():
        month = w.month_words(group[0].date)
        rows = _event_rows(group, labels, cite)
        blocks.append(Table(f"Calendar for {month}", _EVENT_HEADERS, rows, title=month))
    return tuple(blocks)


def _tests(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    a = plan.assessment
    blocks: list[Block] = []
    if a.next_tests:
        tests = w.test_words(a.next_tests)
        blocks.append(Paragraph(cite.say(f"Tests to order now: {tests}.", a.rules.get("next_tests", []))))
    checks = [e for e in plan.events if e.kind in (EventKind.TEST, EventKind.REVIEW)]
    if checks:
        blocks.append(Table("Tests and reviews", _EVENT_HEADERS, _event_rows(checks, {}, cite)))
    return tuple(blocks) or (Paragraph(Statement("No tests or reviews are scheduled in this plan.")),)


def _expectations(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    if not plan.expectations:
        return (Paragraph(Statement("No expected changes are recorded in this plan.")),)
    items = (cite.say(f"{e.after[:1].upper()}{e.after[1:]}: {e.what}", e.rules) for e in plan.expectations)
    return (Bullets(tuple(items)),)


def _red_flags(plan: Plan, cite: Citations) -> tuple[Block, ...]:
    """Patient-facing: what needs same-day help, before the clinical warnings."""
    if not plan.red_flags:
        return ()
    lead = Paragraph(Statement("Get help the same day (urgent care or your GP) if you notice:"), strong=True)
    return (lead, Bullets(tuple(cite.say(flag.message, flag.rules) for flag in plan.red_flags)))


def _alerts(alerts: Sequence[Alert], cite: Citations, empty: str) -> tuple[Block, ...]:
    if not alerts:
        return (Paragraph(Statement(empty)),)
    order = {AlertLevel.CRITICAL: 0, AlertLevel.WARNING: 1, AlertLevel.INFO: 2}
    items = []
    for alert in sorted(alerts, key=lambda a: order.get(a.level, 3)):
        text = f"{w.ALERT_LEVEL_WORDS.get(alert.level, str(alert.level))}: {alert.message}"
        if not alert.rules and alert.source:
            text += f" (source: {alert.source})"
        items.append(cite.say(text, alert.rules))
    return (Bullets(tuple(items)),)


def _confirmation(plan: Plan) -> tuple[Block, ...]:
    note = (
        "This plan was written by b12plan, software that supports a prescriber. It is not a prescription"
        " until a prescriber has checked it against the patient and signed it below."
    )
    return (
        Paragraph(Statement(note), strong=True),
        Signature(("Patient name and date of birth", "Prescriber name", "Signature", "Date")),
        Paragraph(Statement(clean(plan.disclaimer))),
    )
