"""Six months of one UK treatment, followed day by day (REFERENCE 4.6 missed doses, 5 monitoring).

Autoimmune gastritis without neurological involvement (BNF: 1 mg IM three times a week for 2 weeks, then
every 2-3 months; b12plan proposes every 12 weeks). What happened:
- loading from Monday 4 January 2027; the 4th dose (due Monday 11th) given 2 days late, on the 13th;
- the first maintenance dose, due 11 April (84 days after the last loading dose, 17 January), missed and
  given 20 days late, on 1 May; a catch-up "due dose" on top of it, on 3 May, is refused;
- reticulocytes on day 8, a blood count on day 56 (with a serum B12 test that should not have been taken);
- a fatigue diary: fatigue comes back about day 60 after each maintenance-length gap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from b12plan.domain.codes import LabTest, Route, Stage, Symptom
from b12plan.domain.followup import (
    Administration,
    LabEntry,
    PlanVersion,
    SymptomEntry,
    TreatmentRecord,
    adherence,
    check_administration,
    detect_mistakes,
    next_due,
    response_checks,
    review,
    suggest_site,
    symptom_cycle,
)
from b12plan.domain.products import Catalogue
from b12plan.domain.rules import RuleSet
from b12plan.rulebook import load_sites
from b12plan.services import plan_document

D = dt.date
START = D(2027, 1, 4)  # a Monday
AMPOULE = "uk-hydroxocobalamin-1mg-1ml-amp"
CASE: dict[str, Any] = {
    "ruleset": "nice-ng239",
    "start_date": START.isoformat(),
    "patient": {"age": 62, "sex": "female"},
    "labs": [
        {"test": "b12_total", "value": 120, "unit": "ng/L", "date": "2026-12-28"},
        {"test": "hb", "value": 98, "unit": "g/L", "date": "2026-12-28"},
        {"test": "mcv", "value": 112, "unit": "fL", "date": "2026-12-28"},
        {"test": "folate", "value": 6.1, "unit": "ug/L", "date": "2026-12-28"},
        {"test": "ifab", "value": "positive", "date": "2026-12-28"},
    ],
    "symptoms": ["fatigue", "glossitis"],
    "causes": ["autoimmune_gastritis"],
    "product": AMPOULE,
    "preferences": {"route": "IM"},
}
PLAN = plan_document(CASE, today=START)
SITES = [s.id for s in load_sites() if s.takes(Route.IM)]
GIVEN = [
    D(2027, 1, 4),
    D(2027, 1, 6),
    D(2027, 1, 8),
    D(2027, 1, 13),
    D(2027, 1, 15),
    D(2027, 1, 17),
    D(2027, 5, 1),
]
FATIGUE = [
    (D(2027, 1, 4), 8),
    (D(2027, 1, 20), 5),
    (D(2027, 2, 10), 2),
    (D(2027, 3, 1), 2),
    (D(2027, 3, 18), 6),  # day 60 after 17 January
    (D(2027, 4, 4), 7),
    (D(2027, 4, 20), 7),
    (D(2027, 5, 8), 3),
    (D(2027, 6, 1), 2),
    (D(2027, 6, 30), 6),  # day 60 after 1 May
]
SIX_MONTHS = D(2027, 7, 4)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour))


def dose(day: dt.date, *, hour: int = 9, volume_ml: float = 1.0, site: str | None = None) -> Administration:
    return Administration(
        at=at(day, hour),
        dose_mcg=1000,
        route=Route.IM,
        volume_ml=volume_ml,
        site=site,
        lot="HX123",
        expiry=D(2028, 6, 30),
        product_id=AMPOULE,
        given_by="practice nurse",
    )


RECORD = TreatmentRecord(
    plan_versions=[PlanVersion(version=1, created_at=at(START, 8), plan=PLAN)],
    administrations=[dose(day, site=SITES[i % len(SITES)]) for i, day in enumerate(GIVEN)],
    labs=[
        LabEntry(date=D(2027, 1, 12), test=LabTest.RETICULOCYTES, value=4.5, unit="%"),
        LabEntry(date=D(2027, 3, 1), test=LabTest.HB, value=128, unit="g/L"),
        LabEntry(date=D(2027, 3, 1), test=LabTest.MCV, value=95, unit="fL"),
        LabEntry(date=D(2027, 3, 1), test=LabTest.B12_TOTAL, value=900, unit="ng/L"),
    ],
    symptoms=[SymptomEntry(date=day, symptom=Symptom.FATIGUE, score=score) for day, score in FATIGUE],
)


def test_the_plan_is_the_uk_three_weekly_loading_then_12_weekly() -> None:
    injections = [e.date for e in PLAN.events if e.kind == "injection"]
    assert injections[:7] == [D(2027, 1, d) for d in (4, 6, 8, 11, 13, 15)] + [D(2027, 4, 9)]


@pytest.mark.parametrize(
    ("on", "due", "number", "stage", "status", "days_late"),
    [
        (D(2027, 1, 4), D(2027, 1, 6), 2, Stage.REPLETION, "upcoming", 0),
        (D(2027, 1, 10), D(2027, 1, 11), 4, Stage.REPLETION, "upcoming", 0),
        (D(2027, 1, 12), D(2027, 1, 11), 4, Stage.REPLETION, "due", 1),  # a day's leeway (FU-LATE)
        (D(2027, 1, 14), D(2027, 1, 15), 5, Stage.REPLETION, "upcoming", 0),  # re-anchored: 13th + 2
        (D(2027, 1, 16), D(2027, 1, 17), 6, Stage.REPLETION, "upcoming", 0),  # the plan said the 15th
        (D(2027, 2, 1), D(2027, 4, 11), 7, Stage.MAINTENANCE, "upcoming", 0),  # 17 Jan + 84 (plan: 9 Apr)
        (D(2027, 4, 12), D(2027, 4, 11), 7, Stage.MAINTENANCE, "due", 1),
        (D(2027, 4, 20), D(2027, 4, 11), 7, Stage.MAINTENANCE, "overdue", 9),
        (D(2027, 4, 30), D(2027, 4, 11), 7, Stage.MAINTENANCE, "overdue", 19),
        (D(2027, 5, 2), D(2027, 7, 24), 8, Stage.MAINTENANCE, "upcoming", 0),  # re-anchored: 1 May + 84
        (SIX_MONTHS, D(2027, 7, 24), 8, Stage.MAINTENANCE, "upcoming", 0),
    ],
)
def test_next_due_counts_from_the_doses_actually_given(
    nice: RuleSet, on: dt.date, due: dt.date, number: int, stage: Stage, status: str, days_late: int
) -> None:
    found = next_due(RECORD, nice, on)
    assert found is not None
    assert (found.due, found.number, found.stage, found.status, found.days_late) == (
        due,
        number,
        stage,
        status,
        days_late,
    )
    assert (found.dose_mcg, found.volume_ml, found.route) == (1000, 1.0, Route.IM)
    assert "FU-REANCHOR" in found.rules
    assert ("FU-NO-DOUBLE" in found.rules) == (status == "overdue")


def test_adherence_after_six_months(nice: RuleSet) -> None:
    report = adherence(RECORD, nice, SIX_MONTHS)
    assert (report.planned, report.given, report.on_time, report.late, report.missed, report.overdue) == (
        7,
        7,
        5,
        2,
        0,
        0,
    )
    assert report.extra == 0
    late = [(d.number, d.due, d.given, d.days_late) for d in report.doses if d.status == "late"]
    assert late == [(4, D(2027, 1, 11), D(2027, 1, 13), 2), (7, D(2027, 4, 11), D(2027, 5, 1), 20)]


def test_adherence_while_the_maintenance_dose_is_overdue(nice: RuleSet) -> None:
    report = adherence(RECORD, nice, D(2027, 4, 20))
    assert (report.planned, report.given, report.overdue, report.missed) == (7, 6, 1, 0)
    assert report.doses[-1].given is None
    assert report.doses[-1].days_late == 9


def test_the_catch_up_dose_on_top_of_the_due_dose_is_refused(nice: RuleSet, catalogue: Catalogue) -> None:
    attempt = dose(D(2027, 5, 3), site="deltoid-right")
    problems = check_administration(
        attempt, RECORD, nice, catalogue, at(D(2027, 5, 3), 12), sites=load_sites()
    )
    assert [p.field for p in problems] == ["at"]
    assert "2 days after the injection on 2027-05-01" in problems[0].problem
    assert "due on 2027-07-24" in problems[0].problem


def test_a_second_injection_the_same_day_is_refused(nice: RuleSet, catalogue: Catalogue) -> None:
    attempt = dose(D(2027, 1, 6), hour=15, site="deltoid-left")
    problems = check_administration(
        attempt, RECORD, nice, catalogue, at(D(2027, 1, 6), 16), sites=load_sites()
    )
    assert [p.field for p in problems] == ["at"]
    assert "same day" in problems[0].problem


def test_the_recorded_doses_were_each_acceptable(nice: RuleSet, catalogue: Catalogue) -> None:
    for i, adm in enumerate(RECORD.administrations):
        before = RECORD.model_copy(update={"administrations": RECORD.administrations[:i]})
        assert check_administration(adm, before, nice, catalogue, at(adm.day, 18), sites=load_sites()) == []


def test_fatigue_comes_back_about_day_60_of_each_cycle(nice: RuleSet) -> None:
    cycle = symptom_cycle(RECORD, nice)
    assert cycle.cycles == 2
    assert [(r.cycle_start, r.day, r.early) for r in cycle.returns] == [
        (D(2027, 1, 17), 60, True),
        (D(2027, 5, 1), 60, True),
    ]
    assert cycle.mean_by_day[Symptom.FATIGUE][60] == 6.0
    assert [f.code for f in cycle.findings] == ["SYMPTOMS_RETURN_EARLY"]
    assert "day 60" in cycle.findings[0].message


def test_response_on_the_timeline(nice: RuleSet) -> None:
    assert [f.code for f in response_checks(RECORD, nice, D(2027, 1, 11))] == ["RETIC_CHECK_DUE"]
    assert response_checks(RECORD, nice, D(2027, 1, 12)) == []  # counted that day
    assert response_checks(RECORD, nice, D(2027, 3, 1)) == []  # Hb 98 -> 128, MCV 112 -> 95: responding
    assert response_checks(RECORD, nice, SIX_MONTHS) == []  # fatigue comes and goes: it does not persist


def test_the_only_mistake_is_the_serum_b12_retest(nice: RuleSet) -> None:
    mistakes = detect_mistakes(RECORD, nice, SIX_MONTHS)
    assert [m.code for m in mistakes] == ["RETEST_DURING_REPLACEMENT"]
    assert mistakes[0].rules == ["MISTAKE-RETEST"]
    assert detect_mistakes(RECORD, nice, D(2027, 2, 28)) == []  # not yet taken


def test_review_when_the_maintenance_dose_is_late_and_fatigue_is_back(nice: RuleSet) -> None:
    result = review(RECORD, nice, D(2027, 4, 28))
    assert [f.code for f in result.findings] == [
        "DOSE_OVERDUE",
        "OVERDUE_REVIEW",
        "RETEST_DURING_REPLACEMENT",
    ]
    overdue_review = result.findings[1]
    assert "fatigue" in overdue_review.message
    assert overdue_review.rules == ["FU-LONG-GAP", "FU-SYMPTOM-CYCLE", "FU-SYMPTOM-SCALE"]
    first = result.next_steps[0]
    assert first.text.startswith("Give dose 7 (1000 micrograms, 1 mL IM) as soon as possible")
    assert "never doubled" in first.text
    assert all(step.rules for step in result.next_steps)


def test_review_after_six_months(nice: RuleSet) -> None:
    result = review(RECORD, nice, SIX_MONTHS)
    assert result.plan_version == 1
    assert result.next_due is not None
    assert result.next_due.due == D(2027, 7, 24)
    assert [f.code for f in result.findings] == ["SYMPTOMS_RETURN_EARLY", "RETEST_DURING_REPLACEMENT"]
    assert result.next_steps[0].text == "Next: dose 8 (1000 micrograms, 1 mL IM) on 2027-07-24."
    assert result.adherence.late == 2
    assert result.vials == []
    cited = {rid for f in result.findings for rid in f.rules} | {
        r for s in result.next_steps for r in s.rules
    }
    assert all(nice.rule(rid) for rid in cited)


def test_sites_rotate_to_the_least_recently_used() -> None:
    # 7 doses over the 6 IM sites: deltoid-left was used first and again last; deltoid-right is the oldest
    assert suggest_site(RECORD, SITES) == "deltoid-right"
    assert suggest_site(RECORD, ["deltoid-left", "abdomen-left"]) == "abdomen-left"  # never used
    fresh = RECORD.model_copy(update={"administrations": []})
    assert suggest_site(fresh, SITES) == SITES[0]
