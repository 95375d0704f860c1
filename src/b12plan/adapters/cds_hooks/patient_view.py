"""patient-view cards: B12 status, what to test next, an injection due or overdue, and the suggested plan.

Every card shows what the plan already holds; nothing here decides a status, a test, a dose or a date.
Critical plan alerts (neurological symptoms, severe anaemia, IM with the INR above range) get cards of their
own; the others are listed on the plan card. Whether an injection is overdue is decided by the follow-up
core from the stored record (`domain.followup.next_due`), which the web app passes in as `due`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from b12plan.adapters.cds_hooks.cards import CardKit
from b12plan.adapters.cds_hooks.models import Action, Card, Indicator, Link
from b12plan.adapters.cds_hooks.record import Record
from b12plan.adapters.render._words import (
    ALERT_LEVEL_WORDS,
    CAUSE_WORDS,
    FORMULATION_WORDS,
    STAGE_WORDS,
    TEST_WORDS,
    date_words,
    dose_words,
    every_words,
    join_words,
    number,
    test_words,
    until_words,
)
from b12plan.domain.codes import AlertLevel, LabTest, Route, Status
from b12plan.domain.plan import Phase, Plan
from b12plan.domain.rules import FollowupRule, NextTestRule

__all__ = ["DueInfo", "patient_view_cards"]

JSON = dict[str, Any]


class DueInfo(Protocol):
    """The next planned injection as the follow-up core reports it (`domain.followup.DueDose` fits).

    `status` is `upcoming`, `due` (within the FU-LATE grace) or `overdue`; `rules` are the ids behind it.
    """

    @property
    def due(self) -> dt.date: ...
    @property
    def status(self) -> str: ...
    @property
    def days_late(self) -> int: ...
    @property
    def dose_mcg(self) -> float: ...
    @property
    def volume_ml(self) -> float | None: ...
    @property
    def route(self) -> Route: ...
    @property
    def rules(self) -> Sequence[str]: ...


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + ("." if dot else "")


def _alert_cards(kit: CardKit, plan: Plan) -> list[Card]:
    return [
        kit.card(
            f"alert|{alert.code}",
            summary=_first_sentence(alert.message),
            indicator="critical",
            topic="safety",
            rule_ids=alert.rules,
            paragraphs=[alert.message],
        )
        for alert in plan.alerts
        if alert.level is AlertLevel.CRITICAL
    ]


def _due_card(kit: CardKit, due: DueInfo, today: dt.date) -> Card | None:
    dose = dose_words(due.dose_mcg, due.volume_ml, None, due.route, injected=due.route is not Route.ORAL)
    if due.status == "overdue":
        days = f"{due.days_late} day{'s' if due.days_late != 1 else ''}"
        no_double = any(
            r.role == "followup.no_double" for r in kit.rules.of(FollowupRule) if r.id in due.rules
        )
        once = ", once" if no_double else ""
        summary = (
            f"B12 injection overdue by {days} (due {date_words(due.due)}): give it as soon as possible{once}"
        )
        indicator: Indicator = "warning"
    elif due.status == "due":
        when = "today" if due.due == today else f"since {date_words(due.due)}"
        summary = f"B12 injection due {when}: {number(due.dose_mcg)} micrograms {due.route.value}"
        indicator = "info"
    else:
        return None
    return kit.card(
        "due-dose",
        summary=summary,
        indicator=indicator,
        topic="due-dose",
        rule_ids=list(due.rules),
        paragraphs=[f"Dose: {dose}.", "\n".join(kit.rule_texts(due.rules))],
    )


def _assessment_card(kit: CardKit, record: Record, plan: Plan, link: Link | None) -> Card:
    a = plan.assessment
    summary = a.summary or a.status.value.replace("_", " ").capitalize()
    indicator: Indicator = "info"
    if a.status in (Status.DEFICIENT, Status.UNINTERPRETABLE):
        indicator = "warning"
    if a.urgent:
        summary, indicator = f"{summary} Same-day clinical assessment needed.", "critical"
    labs = [
        f"- {TEST_WORDS.get(lab.test, lab.test.value)} {lab.reported}"
        + (f" ({lab.date.isoformat()})" if lab.date else "")
        + (f": {lab.interpretation}" if lab.interpretation else "")
        for lab in a.labs
    ]
    unread = [u for u in record.imported.unknown if u.startswith("Observation/")] + record.imported.notes
    paragraphs = [
        "Results read from the record:\n" + "\n".join(labs)
        if labs
        else "No B12-related results in the record.",
        f"Cause: {join_words(CAUSE_WORDS.get(c, c.value) for c in a.causes)}." if a.causes else "",
        "Missing to decide: " + "; ".join(a.missing) + "." if a.missing else "",
        "Not read from the record:\n" + "\n".join(f"- {u}" for u in unread) if unread else "",
    ]
    if record.treatment is not None:
        started, refs = record.treatment.started, ", ".join(record.treatment.references)
        paragraphs.append(
            f"The record shows B12 treatment under way since {date_words(started)} ({refs}): results taken "
            "after it started are not used."
            if started
            else f"The record shows B12 treatment under way ({refs}) with no start date: results taken on "
            "treatment cannot be told apart, so read them with care."
        )
    rule_ids = [*a.rules.get("status", []), *(r for ids in a.rules.values() for r in ids)]
    rule_ids += [r for lab in a.labs for r in lab.rules]
    return kit.card(
        "assessment",
        summary=summary,
        indicator=indicator,
        topic="assessment",
        rule_ids=rule_ids,
        paragraphs=paragraphs,
        links=[link] if link else (),
    )


def _test_request(kit: CardKit, record: Record, test: LabTest, reason: str) -> JSON:
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": [record.codes.lab_tests[test].to_fhir()], "text": TEST_WORDS[test]},
        "subject": {"reference": f"Patient/{record.patient_id}"},
        "note": [{"text": f"Suggested by {kit.label}: {reason}"}],
    }


def _next_tests_card(kit: CardKit, record: Record, plan: Plan) -> Card | None:
    tests = plan.assessment.next_tests
    if not tests:
        return None
    rule_ids = plan.assessment.rules.get("next_tests", [])
    reasons = [r for r in record.rules.of(NextTestRule) if r.id in rule_ids]
    suggestions = []
    for test in tests:
        reason = " ".join(r.text for r in reasons if test in r.tests)
        action = Action(
            type="create",
            description=f"Order {TEST_WORDS[test]} (a draft request for the clinician to sign)",
            resource=_test_request(kit, record, test, reason or "a next test in the plan"),
        )
        suggestions.append(
            kit.suggestion(f"test|{test.value}", f"Order {TEST_WORDS[test]}", [action], recommended=True)
        )
    texts = kit.rule_texts(rule_ids)
    return kit.card(
        "next-tests",
        summary=f"Order next: {test_words(tests)}",
        indicator="info",
        topic="next-tests",
        rule_ids=rule_ids,
        paragraphs=["\n".join(texts)],
        suggestions=suggestions,
        selection="any",
    )


def _phase_line(phase: Phase) -> str:
    dose = dose_words(
        phase.dose_mcg,
        phase.volume_ml,
        phase.syringe_units,
        phase.route,
        injected=phase.route is not Route.ORAL,
        tablets=phase.tablets_per_dose,
    )
    every = every_words(phase.interval_days, phase.times_per_week)
    line = f"- {STAGE_WORDS[phase.stage].capitalize()}: {dose}, {every}"
    if phase.doses is not None:
        line += f", {phase.doses} doses"
    elif phase.until:
        line += f", {until_words(phase.until)}"
    return line


def _plan_card(kit: CardKit, record: Record, plan: Plan, link: Link | None) -> Card | None:
    regimen = plan.regimen
    if regimen is None:
        return None
    first, last = regimen.phases[0], regimen.phases[-1]
    words = (
        f"{FORMULATION_WORDS[regimen.formulation]} {number(first.dose_mcg)} micrograms {first.route.value} "
        f"{every_words(first.interval_days, first.times_per_week)}"
    )
    if last is not first:
        every = every_words(last.interval_days, last.times_per_week)
        same = last.dose_mcg == first.dose_mcg and last.route is first.route
        dose = "" if same else f"{number(last.dose_mcg)} micrograms {last.route.value} "
        words += f", then {dose}{every}"
    lead = "B12 under way; rule-set regimen" if record.on_b12 else "Suggested plan"
    others = [a for a in plan.alerts if a.level is not AlertLevel.CRITICAL]
    paragraphs = [
        plan.decision,
        "\n".join(_phase_line(p) for p in regimen.phases),
        "\n".join(f"- **{ALERT_LEVEL_WORDS[a.level]}**: {a.message}" for a in others),
        plan.disclaimer,
    ]
    rule_ids = [
        *regimen.rules,
        *(r for p in regimen.phases for r in p.rules),
        *(r for a in others for r in a.rules),
    ]
    return kit.card(
        "plan",
        summary=f"{lead}: {words}",
        indicator="info",
        topic="plan",
        rule_ids=rule_ids,
        paragraphs=paragraphs,
        links=[link] if link else (),
    )


def patient_view_cards(
    kit: CardKit, record: Record, *, due: DueInfo | None, plan_url: str | None
) -> list[Card]:
    """The patient-view cards for a planned record (critical alerts, due dose, status, tests, plan).

    The link to the plan page goes on the plan card, or on the status card when no regimen is suggested.
    """
    cards: list[Card] = []
    plan = record.plan
    if plan is not None:
        cards += _alert_cards(kit, plan)
    if due is not None and (card := _due_card(kit, due, record.today)) is not None:
        cards.append(card)
    if plan is None:
        return cards
    link = Link(label="Open the b12plan plan", url=plan_url, type="absolute") if plan_url else None
    cards.append(_assessment_card(kit, record, plan, None if plan.regimen else link))
    cards += [c for c in (_next_tests_card(kit, record, plan), _plan_card(kit, record, plan, link)) if c]
    return cards
