"""Invariants of follow-up, over any treatment history (Hypothesis).

- next_due never proposes a dose on or before the last injection given, so never two doses on one day;
- adherence accounts for every planned dose due and every injection given;
- every finding, next step and due dose cites rules that exist in the rule set.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from b12plan.domain.codes import LabTest, Route, Symptom
from b12plan.domain.followup import (
    Administration,
    LabEntry,
    PlanVersion,
    SymptomEntry,
    TreatmentRecord,
    VialInUse,
    adherence,
    next_due,
    review,
)
from b12plan.domain.followup.record import injections
from b12plan.domain.plan import Plan
from b12plan.rulebook import load_ruleset
from b12plan.services import plan_document

START = dt.date(2027, 1, 4)
BASE: dict[str, Any] = {
    "start_date": START.isoformat(),
    "patient": {"age": 62, "sex": "female"},
    "labs": [
        {"test": "b12_total", "value": 120, "unit": "ng/L", "date": "2026-12-28"},
        {"test": "hb", "value": 98, "unit": "g/L", "date": "2026-12-28"},
    ],
    "symptoms": ["fatigue"],
    "causes": ["autoimmune_gastritis"],
}
CASES: list[dict[str, Any]] = [
    BASE,  # UK: three times a week for 2 weeks, then every 12 weeks
    {**BASE, "symptoms": ["paraesthesia"]},  # UK: alternate days to a review, then every 8 weeks
    {**BASE, "causes": ["diet_vegan"]},  # UK: alternate days for 2 weeks, then oral
    {**BASE, "causes": ["gastrectomy"], "labs": [], "symptoms": []},  # UK prophylaxis: maintenance only
    {**BASE, "conditions": ["taking_folic_acid"]},
    {**BASE, "ruleset": "us-cyanocobalamin-label", "product": "us-cyanocobalamin-1000mcg-30ml-mdv"},
    {**BASE, "ruleset": "us-common-practice"},
]
PLANS: list[Plan] = [plan_document(case, today=START) for case in CASES]

offsets = st.integers(min_value=-20, max_value=400)


@st.composite
def records(draw: st.DrawFn) -> tuple[TreatmentRecord, dt.date]:
    plan = draw(st.sampled_from(PLANS))
    versions = [PlanVersion(version=1, created_at=dt.datetime.combine(START, dt.time(8)), plan=plan)]
    if draw(st.booleans()):
        other = draw(st.sampled_from([p for p in PLANS if p.ruleset.id == plan.ruleset.id]))
        when = dt.datetime.combine(START + dt.timedelta(days=draw(offsets)), dt.time(8))
        versions.append(
            PlanVersion(version=2, created_at=when, plan=other, reason=draw(st.none() | st.just("x")))
        )
    doses = [
        Administration(
            at=dt.datetime.combine(START + dt.timedelta(days=n), dt.time(draw(st.integers(0, 23)))),
            dose_mcg=draw(st.sampled_from([100.0, 500.0, 1000.0])),
            route=draw(st.sampled_from([Route.IM, Route.SC, Route.ORAL])),
            volume_ml=draw(st.none() | st.sampled_from([0.1, 0.5, 1.0])),
            vial_id=draw(st.none() | st.just(1)),
        )
        for n in draw(st.lists(offsets, max_size=25))
    ]
    labs = [
        LabEntry(date=START + dt.timedelta(days=n), test=test, value=value, unit=unit)
        for n, (test, value, unit) in draw(
            st.lists(
                st.tuples(
                    offsets,
                    st.sampled_from(
                        [
                            (LabTest.HB, 100.0, "g/L"),
                            (LabTest.HB, 13.0, "g/dL"),
                            (LabTest.MCV, 96.0, "fL"),
                            (LabTest.RETICULOCYTES, 3.0, "%"),
                            (LabTest.B12_TOTAL, 600.0, "ng/L"),
                            (LabTest.HB, 120.0, "mg"),  # an unreadable unit is left out
                        ]
                    ),
                ),
                max_size=6,
            )
        )
    ]
    symptoms = [
        SymptomEntry(date=START + dt.timedelta(days=n), symptom=s, score=score)
        for n, s, score in draw(
            st.lists(st.tuples(offsets, st.sampled_from(list(Symptom)), st.integers(0, 10)), max_size=15)
        )
    ]
    vials = [
        VialInUse(id=1, product_id=None, opened=START, volume_ml=30, volume_left_ml=10, discard_after_days=28)
    ]
    record = TreatmentRecord(
        plan_versions=versions, administrations=doses, labs=labs, symptoms=symptoms, vials=vials
    )
    return record, START + dt.timedelta(days=draw(offsets))


@given(records())
def test_next_due_is_after_the_last_injection(case: tuple[TreatmentRecord, dt.date]) -> None:
    record, on = case
    version = max(record.plan_versions, key=lambda v: v.version)
    due = next_due(record, load_ruleset(version.plan.ruleset.id), on)
    given_days = {a.day for a in injections(record, on)}
    if due is None:
        return
    assert due.due not in given_days  # never a second dose on a day that has one
    if given_days:
        assert due.due > max(given_days)  # never on or before the last injection
    assert due.days_late >= 0
    assert (due.status == "upcoming") == (due.due > on)


@given(records())
def test_adherence_accounts_for_every_dose(case: tuple[TreatmentRecord, dt.date]) -> None:
    record, on = case
    rules = load_ruleset(record.plan_versions[0].plan.ruleset.id)
    report = adherence(record, rules, on)
    assert (
        report.on_time + report.late + report.missed + report.overdue == report.planned == len(report.doses)
    )
    assert report.given + report.extra <= len(injections(record, on))
    assert [d.number for d in report.doses] == list(range(1, len(report.doses) + 1))
    assert all(d.given is None or d.given <= on for d in report.doses)


@given(records())
def test_every_finding_cites_rules_of_the_rule_set(case: tuple[TreatmentRecord, dt.date]) -> None:
    record, on = case
    rules = load_ruleset(record.plan_versions[0].plan.ruleset.id)
    result = review(record, rules, on)
    cited = [rid for f in result.findings for rid in f.rules]
    cited += [rid for step in result.next_steps for rid in step.rules]
    cited += result.next_due.rules if result.next_due else []
    cited += result.adherence.rules + result.symptom_cycle.rules
    assert all(f.rules for f in result.findings)
    assert all(step.rules for step in result.next_steps)
    for rule_id in cited:
        rules.rule(rule_id)  # KeyError when it does not exist
