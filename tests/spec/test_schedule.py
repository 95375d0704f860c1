"""The dated calendar (REFERENCE 4.1, 4.3, 5): dose spacing, the loading review, maintenance, monitoring,
the horizon. Days are counted from the plan's start (START, a Monday)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from b12plan.domain.rules import LogicRule, MonitorRule, RuleSet
from b12plan.domain.schedule import add_months, horizon_end
from b12plan.errors import CaseError
from casekit import START, TODAY, b12, case, days, lab, plan

AG = {"labs": [b12(120)], "causes": ["autoimmune_gastritis"]}
AG_NEURO = {**AG, "symptoms": ["numbness", "ataxia"]}
AG_US = {"labs": [b12(120, "pg/mL")], "causes": ["autoimmune_gastritis"]}


def events_on(p: dict[str, Any], day: int, kind: str) -> list[dict[str, Any]]:
    date = (dt.date.fromisoformat(p["generated_for"]) + dt.timedelta(days=day)).isoformat()
    return [e for e in p["events"] if e["date"] == date and e["kind"] == kind]


# -- 4.1 three times a week --------------------------------------------------------------------------------


def test_three_times_a_week_is_days_0_2_4(nice: RuleSet) -> None:
    rule = next(r for r in nice.of(LogicRule) if r.role == "schedule.three_weekly")
    assert (rule.id, rule.offsets, rule.evidence) == ("SCHED-THREE-WEEKLY", [0, 2, 4], "D")


def test_bnf_loading_is_mon_wed_fri_for_two_weeks() -> None:
    p = plan(case(**AG))
    assert days(p, stage="repletion") == [0, 2, 4, 7, 9, 11]
    assert {dt.date.fromisoformat(e["date"]).strftime("%a") for e in p["events"] if e.get("stage")} <= {
        "Mon",
        "Wed",
        "Fri",
    }


def test_maintenance_starts_one_interval_after_the_last_loading_dose() -> None:
    p = plan(case(**AG))
    assert days(p, stage="maintenance") == [95, 179, 263, 347]  # 11 + 84, then every 84 days
    first = next(e for e in p["events"] if e.get("stage") == "maintenance")
    assert "SCHED-MAINTENANCE-START" in first["rules"]
    assert first["provisional"] is False


# -- 4.1 neurological involvement: alternate days up to the review, then provisional maintenance [D] -------


def test_neurological_loading_runs_to_the_review_at_day_21() -> None:
    p = plan(case(**AG_NEURO))
    assert days(p, stage="repletion") == list(range(0, 21, 2))
    (review,) = [e for e in p["events"] if e["kind"] == "review" and e.get("stage") == "repletion"]
    assert review["date"] == (START + dt.timedelta(days=21)).isoformat()
    assert "DESIGN-OPEN-LOADING" in review["rules"]
    assert days(p, stage="maintenance") == [76, 132, 188, 244, 300, 356]  # 20 + 56, every 2 months


def test_after_an_open_loading_phase_maintenance_is_provisional() -> None:
    p = plan(case(**AG_NEURO))
    doses = [
        e for e in p["events"] if e.get("stage") in ("repletion", "maintenance") and e["kind"] == "injection"
    ]
    assert {e["provisional"] for e in doses if e["stage"] == "repletion"} == {False}
    assert {e["provisional"] for e in doses if e["stage"] == "maintenance"} == {True}


def test_a_short_horizon_cuts_the_loading_phase_and_its_review() -> None:
    p = plan(case(**AG_NEURO, start_date="2027-01-15"), horizon=1)
    assert days(p, stage="repletion") == list(range(0, 21, 2))
    p = plan(case(**AG_NEURO, start_date="2027-02-10"), horizon=1)  # ends 2027-03-10, day 28
    assert days(p, stage="maintenance") == []
    assert len(events_on(p, 21, "review")) == 1


# -- 4.3 US phases -----------------------------------------------------------------------------------------


def test_fda_label_calendar() -> None:
    p = plan(case(**AG_US), ruleset="us-cyanocobalamin-label")
    loading = days(p, stage="repletion")
    assert loading[:7] == [0, 1, 2, 3, 4, 5, 6]  # daily x7
    assert loading[7:14] == [8, 10, 12, 14, 16, 18, 20]  # alternate days x7
    assert loading[14:] == [23, 26, 29, 32, 35, 38]  # every 3 days x6 [D]
    assert days(p, stage="maintenance")[:3] == [68, 98, 128]  # monthly (30 days [D])


def test_us_common_practice_calendar() -> None:
    p = plan(case(**AG_US), ruleset="us-common-practice")
    assert days(p, stage="repletion") == [0, 1, 2, 3, 4, 5, 6, 13, 20, 27, 34]
    assert days(p, stage="maintenance")[:3] == [64, 94, 124]


def test_us_label_monitoring_days_5_to_7() -> None:
    p = plan(case(**AG_US), ruleset="us-cyanocobalamin-label")
    assert days(p, "test")[:3] == [4, 5, 6]
    assert all({"reticulocytes", "hb"} <= set(e["tests"]) for d in (4, 5, 6) for e in events_on(p, d, "test"))


# -- oral --------------------------------------------------------------------------------------------------


def test_daily_tablets_are_one_start_event() -> None:
    p = plan(case(labs=[b12(120)], causes=["diet_vegan"]))
    assert days(p, stage="repletion") == [0, 2, 4, 6, 8, 10, 12]  # every other day, 7 doses
    assert days(p, "oral") == [13]  # tablets start the day after the last injection
    assert days(p, "injection", "maintenance") == []


# -- 5 monitoring ------------------------------------------------------------------------------------------


def test_the_uk_monitoring_rules(nice: RuleSet) -> None:
    found = {r.id: (r.when, r.after_days, tuple(t.value for t in r.tests)) for r in nice.of(MonitorRule)}
    assert found == {
        "UK-MON-RETIC": ("treated", 7, ("reticulocytes", "hb")),
        "UK-MON-FBC": ("treated", 56, ("hb", "mcv")),
        "UK-MON-POTASSIUM": ("severe_anaemia", 1, ("potassium",)),
        "NG239-MON-REVIEW": ("treated_not_pregnant", 91, ()),
        "NG239-MON-REVIEW-PREGNANT": ("treated_pregnant", 30, ()),
        "UK-MON-NERVES": ("neurological", 91, ()),
        "DESIGN-MON-RESULT": ("not_treated", 14, ()),
    }


@pytest.mark.parametrize(
    ("fields", "tests", "reviews"),
    [
        (AG, [7, 56], [91]),
        (AG_NEURO, [7, 56], [21, 91]),  # one review event on day 91: the 3-month and nerve reviews merged
        ({**AG, "labs": [b12(60), lab("hb", 60, "g/L")]}, [1, 7, 56], [91]),  # potassium on day 1
        ({**AG, "patient": {"age": 30, "sex": "female", "pregnant": True}}, [7, 56], [30]),
        ({**AG, "patient": {"age": 30, "sex": "female", "breastfeeding": True}}, [7, 56], [30]),
        ({"labs": [b12(250)]}, [], [14]),  # not treated yet: review the next result
        ({"labs": [b12(420)]}, [], []),  # unlikely: nothing to follow up
    ],
)
def test_monitoring_days(fields: dict[str, Any], tests: list[int], reviews: list[int]) -> None:
    p = plan(case(**fields))
    assert days(p, "test") == tests
    assert days(p, "review") == reviews


def test_a_test_and_a_review_on_the_same_day_are_merged() -> None:
    p = plan(case(**AG_NEURO))
    (review,) = events_on(p, 91, "review")
    assert {"NG239-MON-REVIEW", "UK-MON-NERVES"} <= set(review["rules"])


def test_severe_anaemia_checks_potassium_within_48_hours() -> None:
    p = plan(case(**{**AG, "labs": [b12(60), lab("hb", 60, "g/L")]}))
    (k,) = events_on(p, 1, "test")
    assert k["tests"] == ["potassium"]


# -- horizon -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("months", "maintenance"), [(1, 0), (3, 0), (6, 2), (12, 4), (24, 8), (120, 43)])
def test_the_horizon_bounds_the_calendar(months: int, maintenance: int) -> None:
    p = plan(case(**AG), horizon=months)
    end = horizon_end(START, months)
    assert p["horizon_months"] == months
    assert all(dt.date.fromisoformat(e["date"]) < end for e in p["events"])
    assert len(days(p, stage="maintenance")) == maintenance
    for e in p["events"]:
        if e.get("stage") == "maintenance":
            assert "SCHED-HORIZON" in e["rules"]


@pytest.mark.parametrize("months", [0, -1, 121])
def test_a_horizon_outside_1_to_120_months_is_refused(months: int) -> None:
    with pytest.raises(CaseError, match="horizon"):
        plan(case(**AG), horizon=months)


def test_a_start_too_close_to_the_end_of_the_calendar_is_refused() -> None:
    with pytest.raises(CaseError) as refused:
        plan(case(**AG, start_date="9999-06-01"))
    assert refused.value.problems[0].field == "start_date"


def test_start_date_defaults_to_today() -> None:
    doc = case(**AG)
    del doc["start_date"]
    p = plan(doc)
    assert p["generated_for"] == TODAY.isoformat()
    assert p["events"][0]["date"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 1, 31), 1, dt.date(2027, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 12, 7), 12, dt.date(2027, 12, 7)),
        (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),
        (dt.date(2026, 12, 7), 0, dt.date(2026, 12, 7)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


def test_add_months_past_the_calendar_overflows() -> None:
    with pytest.raises(OverflowError):
        add_months(dt.date(9999, 12, 1), 1)


# -- guarantees --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ruleset", ["nice-ng239", "us-cyanocobalamin-label", "us-common-practice"])
@pytest.mark.parametrize("fields", [AG, AG_NEURO, {"labs": [b12(120)], "causes": ["diet_vegan"]}])
def test_events_are_sorted_and_never_double_a_dose(ruleset: str, fields: dict[str, Any]) -> None:
    p = plan(case(**fields), ruleset=ruleset)
    dates = [e["date"] for e in p["events"]]
    assert dates == sorted(dates)
    doses = [e["date"] for e in p["events"] if e["kind"] in ("injection", "oral")]
    assert len(doses) == len(set(doses))
    for e in p["events"]:
        assert e["rules"], e
        assert len(e["rules"]) == len(set(e["rules"])), e
