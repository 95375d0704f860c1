"""The parts of follow-up: the record's own checks, plan versions, the planned course per rule set, vials,
sites and the follow-up rules' grammar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from b12plan.domain.codes import Route, Stage
from b12plan.domain.followup import (
    Administration,
    PlanVersion,
    SymptomEntry,
    TreatmentRecord,
    VialInUse,
    check_administration,
    next_due,
    parse_sites,
    review,
    vial_status,
)
from b12plan.domain.followup.course import build_course
from b12plan.domain.products import Catalogue
from b12plan.domain.rules import RuleSet
from b12plan.errors import DataError
from b12plan.rulebook import load_ruleset, load_sites, parse_ruleset
from b12plan.services import plan_document

START = dt.date(2027, 1, 4)
UK: dict[str, Any] = {
    "start_date": START.isoformat(),
    "patient": {"age": 62, "sex": "female"},
    "labs": [{"test": "b12_total", "value": 120, "unit": "ng/L", "date": "2026-12-28"}],
    "causes": ["autoimmune_gastritis"],
    "product": "uk-hydroxocobalamin-1mg-1ml-amp",
}


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def at(n: int, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour))


def im(n: int, mcg: float = 1000, volume_ml: float | None = 1.0) -> Administration:
    return Administration(at=at(n), dose_mcg=mcg, route=Route.IM, volume_ml=volume_ml)


def version(n: int, case: dict[str, Any], made: int = 0, reason: str | None = None) -> PlanVersion:
    return PlanVersion(
        version=n, created_at=at(made, 8), plan=plan_document(case, today=day(made)), reason=reason
    )


# ---------------------------------------------------------------- the record checks itself ------------------
@pytest.mark.parametrize(
    "bad",
    [
        lambda: SymptomEntry(date=START, symptom="fatigue", score=11),
        lambda: SymptomEntry(date=START, symptom="hiccups", score=3),
        lambda: Administration(at=at(0), dose_mcg=0, route=Route.IM),
        lambda: Administration(at=at(0), dose_mcg=1000, route=Route.IM, volume_ml=-1),
        lambda: VialInUse(id=1, opened=START, volume_ml=10, volume_left_ml=-0.1),
        lambda: TreatmentRecord(plan_versions=[version(1, UK), version(1, UK)]),
    ],
)
def test_impossible_entries_are_refused(bad: Any) -> None:
    with pytest.raises(ValidationError):
        bad()


def test_no_plan_no_due_dose(nice: RuleSet) -> None:
    empty = TreatmentRecord(plan_versions=[])
    assert next_due(empty, nice, START) is None
    result = review(empty, nice, START)
    assert (result.plan_version, result.next_due, result.findings, result.next_steps) == (None, None, [], [])


# ---------------------------------------------------------------- plan versions -----------------------------
def test_a_new_interval_counts_from_the_last_dose_given(nice: RuleSet) -> None:
    loading = [im(n) for n in (0, 2, 4, 7, 9, 11)]
    v1 = version(1, UK)
    v2 = version(
        2, {**UK, "preferences": {"maintenance_interval_days": 56}}, made=30, reason="fatigue by day 60"
    )
    record = TreatmentRecord(plan_versions=[v1, v2], administrations=loading)
    before = next_due(record, nice, day(20))  # version 1 then
    assert before is not None
    assert before.due == day(11 + 84)
    after = next_due(record, nice, day(30))
    assert after is not None
    assert (after.due, after.number) == (day(11 + 56), 7)


def test_a_reload_version_starts_a_new_course(nice: RuleSet) -> None:
    given = [im(n) for n in (0, 2, 4, 7, 9, 11)]
    reload = version(2, {**UK, "start_date": day(200).isoformat()}, made=200, reason="long gap: reload")
    record = TreatmentRecord(plan_versions=[version(1, UK), reload], administrations=given)
    due = next_due(record, nice, day(200))
    assert due is not None
    assert (due.due, due.number, due.stage) == (day(200), 1, Stage.REPLETION)


def test_the_plan_in_force_is_the_latest_made_by_the_day(nice: RuleSet) -> None:
    v1 = version(1, UK)
    v2 = version(2, {**UK, "preferences": {"maintenance_interval_days": 56}}, made=30)
    record = TreatmentRecord(plan_versions=[v2, v1], administrations=[im(0)])
    assert review(record, nice, day(10)).plan_version == 1
    assert review(record, nice, day(30)).plan_version == 2


# ---------------------------------------------------------------- the course per rule set -------------------
@pytest.mark.parametrize(
    ("case", "gaps", "loading"),
    [
        (UK, [0, 2, 2, 3, 2, 2, 84, 84], 6),  # SCHED-THREE-WEEKLY, then every 12 weeks
        (
            {**UK, "symptoms": ["numbness"]},
            [0, *[2] * 10, 56, 56],
            11,
        ),  # alternate days to day 21, then 8-weekly
        ({**UK, "causes": ["gastrectomy"], "labs": []}, [0, 84, 84], 0),  # prophylaxis: maintenance only
        (
            {**UK, "ruleset": "us-cyanocobalamin-label", "product": "us-cyanocobalamin-1000mcg-1ml-sdv"},
            [0, *[1] * 6, *[2] * 7, *[3] * 6, 30, 30],
            20,
        ),
        ({**UK, "ruleset": "us-common-practice", "product": None}, [0, *[1] * 6, *[7] * 4, 30], 11),
    ],
)
def test_the_course_follows_the_plan(case: dict[str, Any], gaps: list[int], loading: int) -> None:
    case = {k: v for k, v in case.items() if v is not None}
    plan = plan_document(case, today=START)
    record = TreatmentRecord(plan_versions=[PlanVersion(version=1, created_at=at(0), plan=plan)])
    course = build_course(record, load_ruleset(plan.ruleset.id))
    slots = [course.slot(i) for i in range(len(gaps))]
    assert [s.gap_days for s in slots if s] == gaps
    assert course.repletion_doses == loading
    assert [s.number for s in slots if s] == list(range(1, len(gaps) + 1))


def test_an_oral_maintenance_is_not_tracked_dose_by_dose(nice: RuleSet) -> None:
    case = {**UK, "causes": ["diet_vegan"], "product": None}
    case = {k: v for k, v in case.items() if v is not None}
    plan = plan_document(case, today=START)
    given = [im(n) for n in range(0, 13, 2)]
    record = TreatmentRecord(
        plan_versions=[PlanVersion(version=1, created_at=at(0), plan=plan)], administrations=given
    )
    assert next_due(record, nice, day(12)) is None
    steps = review(record, nice, day(12)).next_steps
    assert steps[0].text.startswith("Injections are done: continue oral")
    assert steps[0].rules


def test_aware_and_naive_times_mix(nice: RuleSet, catalogue: Catalogue) -> None:
    aware = Administration(at=at(0).replace(tzinfo=dt.UTC), dose_mcg=1000, route=Route.IM, volume_ml=1.0)
    record = TreatmentRecord(plan_versions=[version(1, UK)], administrations=[aware, im(2)])
    due = next_due(record, nice, day(2))
    assert due is not None
    assert due.number == 3
    later = im(4)
    assert check_administration(later, record, nice, catalogue, at(4, 12).replace(tzinfo=dt.UTC)) == []


# ---------------------------------------------------------------- vials -------------------------------------
def test_vial_status(nice: RuleSet) -> None:
    vials = [
        VialInUse(
            id=2, product_id=None, opened=day(10), volume_ml=30, volume_left_ml=29.9, discard_after_days=28
        ),
        VialInUse(
            id=1, product_id=None, opened=day(0), volume_ml=10, volume_left_ml=0, discard_after_days=28
        ),
        VialInUse(id=3, product_id=None, opened=day(40), volume_ml=1, volume_left_ml=1),
    ]
    record = TreatmentRecord(plan_versions=[version(1, UK)], vials=vials)
    status = vial_status(record, day(30), nice)
    assert [(v.id, v.discard_on, v.days_left, v.expired, v.empty) for v in status] == [
        (1, day(28), 0, True, True),
        (2, day(38), 8, False, False),
    ]
    assert all(v.finding is None for v in status)
    expired = vial_status(record, day(38), nice)[1]
    assert expired.finding is not None
    assert expired.finding.code == "VIAL_DISCARD"
    assert expired.finding.rules == ["ALERT-MULTIDOSE"]
    assert vial_status(record, day(38))[1].finding is None  # no rules, no finding
    assert vial_status(record, day(45))[2].discard_on is None


# ---------------------------------------------------------------- sites -------------------------------------
def test_the_shipped_sites() -> None:
    sites = load_sites()
    assert [s.id for s in sites] == [
        "deltoid-left",
        "deltoid-right",
        "thigh-left",
        "thigh-right",
        "ventrogluteal-left",
        "ventrogluteal-right",
        "abdomen-left",
        "abdomen-right",
    ]
    assert {s.id for s in sites if s.takes(Route.SC)} == {
        "thigh-left",
        "thigh-right",
        "abdomen-left",
        "abdomen-right",
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("site = 3", "no [[site]] entries"),
        ("[[site]]\nid = 'arm'\nlabel = 'Arm'\nroutes = []", "site 'arm': routes"),
        ("[[site]]\nid = 'Arm Left'\nlabel = 'Arm'\nroutes = ['IM']", "site 'Arm Left': id"),
        ("[[site]]\nid = 'arm'\nlabel = 'Arm'\nroutes = ['oral']", "oral is not an injection route"),
        ("[[site]]\nid = 'arm'\nlabel = 'Arm'\nroutes = ['IM']\n" * 2, "appears more than once"),
        ("[[site]]\nid = 'arm'\nlabel = 'Arm'\nroutes = ['IM']\nside = 'left'", "site 'arm': side"),
        ("[[site]", "not valid TOML"),
    ],
)
def test_a_broken_sites_file_names_the_site(text: str, says: str) -> None:
    with pytest.raises(DataError, match=r"sites\.toml") as err:
        parse_sites(text)
    assert says in str(err.value)


# ---------------------------------------------------------------- the follow-up rules' grammar -------------
RULESET_HEAD = """
[ruleset]
id = "t"
version = "1"
title = "t"
jurisdiction = "t"
country = "UK"
default_formulation = "hydroxocobalamin"
default_product = "x"
default_oral_product = "y"
"""


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ('role = "followup.long_gap"\ndays = 28', "followup.long_gap needs fraction"),
        ('role = "followup.symptom_cycle"\npoints = 2\ndays = 14', "needs count"),
        ('role = "followup.symptom_scale"\npoints = 11', "points"),
        ('role = "followup.late"\ndays = -1', "days"),
        ('role = "followup.sooner"\ndays = 1', "role"),
    ],
)
def test_a_followup_rule_without_its_numbers_is_refused(rule: str, says: str) -> None:
    text = RULESET_HEAD + f'[[rule]]\nid = "FU-X"\nsource = "design"\nevidence = "D"\ntext = "t"\n{rule}\n'
    with pytest.raises(DataError, match="rule FU-X") as err:
        parse_ruleset(text, origin="t.toml", read_include=lambda name: "")
    assert says in str(err.value)
