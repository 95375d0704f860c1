"""Properties of planning over generated cases: whatever the input, a Plan or a UserError (never another
exception), and every plan keeps the guarantees the contract and the outputs rely on."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import jsonschema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from b12plan.domain.codes import Cause, Condition, LabTest, Route, Sex, Symptom, SymptomCourse
from b12plan.domain.schedule import horizon_end
from b12plan.domain.units import accepted_units, convert
from b12plan.errors import UserError
from b12plan.rulebook import load_catalogue, ruleset_ids
from b12plan.schemas import json_schema
from b12plan.services import plan_document

TODAY = dt.date(2026, 11, 30)
PLAN_SCHEMA = jsonschema.Draft202012Validator(json_schema("plan"))
CATALOGUE_IDS = load_catalogue().ids()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------------------------
# Most of what is drawn is valid, so most examples reach a plan; `rarely` slips in what must be refused.

WRONG_UNITS = ["mg", "", " ", "mmol", "g", "IU/L", "G/L", "pmol", "ng/dl"]
RANGES = {  # a clinical range in the test's first accepted unit, across the rule sets' thresholds
    LabTest.B12_TOTAL: (40.0, 1200.0),
    LabTest.HOLOTC: (5.0, 150.0),
    LabTest.MMA: (0.05, 2.0),
    LabTest.HOMOCYSTEINE: (4.0, 80.0),
    LabTest.HB: (50.0, 180.0),
    LabTest.MCV: (70.0, 130.0),
    LabTest.FOLATE: (1.0, 20.0),
    LabTest.POTASSIUM: (2.5, 6.0),
    LabTest.RETICULOCYTES: (0.2, 5.0),
    LabTest.INR: (0.8, 6.0),
}
ABSOLUTE_RETICULOCYTES = (10.0, 300.0)  # x10^9/L: a count, never converted from %
ODD_NUMBERS = st.one_of(
    st.sampled_from([0.0, -1.0, -250.0, 1e-9, 1e9, 1e300, 5e5]),
    st.floats(allow_nan=False, allow_infinity=False),
)
days = st.integers(min_value=-120, max_value=30).map(lambda n: TODAY + dt.timedelta(days=n))


def chance(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in `one_in` draws. The True sits mid-list: Hypothesis favours the ends of a choice."""
    half = one_in // 2
    return st.sampled_from([False] * half + [True] + [False] * (one_in - half - 1))


def rarely(
    usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], one_in: int = 12
) -> st.SearchStrategy[Any]:
    return chance(one_in).flatmap(lambda odd_now: odd if odd_now else usual)


@st.composite
def labs(draw: st.DrawFn, tests: tuple[LabTest, ...] = tuple(LabTest)) -> dict[str, Any]:
    test = draw(st.sampled_from(tests))
    # most results on one day, so that active B12 is checked against total B12
    date = draw(rarely(st.just(dt.date(2026, 11, 1)), days, one_in=6))
    entry: dict[str, Any] = {"test": test.value, "date": date.isoformat()}
    if test is LabTest.IFAB:
        entry["value"] = draw(
            rarely(st.sampled_from(["positive", "negative"]), st.sampled_from([1.0, "weak"]))
        )
        return entry
    units = accepted_units(test)
    unit = draw(rarely(st.sampled_from(units), st.one_of(st.none(), st.sampled_from(WRONG_UNITS))))
    if unit is not None:
        entry["unit"] = unit
    low, high = ABSOLUTE_RETICULOCYTES if unit == "10*9/L" else RANGES[test]
    value = draw(st.floats(min_value=low, max_value=high))
    if unit in units and unit != "10*9/L":  # the same concentration, in the unit drawn
        value = convert(test, value, units[0], unit)
    entry["value"] = draw(rarely(st.just(value), st.one_of(ODD_NUMBERS, st.just("positive"))))
    if draw(chance(5)):
        entry["upper_limit"] = draw(rarely(st.floats(min_value=value, max_value=value * 2), ODD_NUMBERS))
    if draw(chance(5)):
        entry["lower_limit"] = draw(rarely(st.floats(min_value=value / 2, max_value=value), ODD_NUMBERS))
    return entry


def custom_products() -> st.SearchStrategy[dict[str, Any]]:
    injection = st.fixed_dictionaries(
        {
            "formulation": st.sampled_from(["hydroxocobalamin", "cyanocobalamin", "methylcobalamin"]),
            # Strengths and containers stay above pathological sizes: supply counting draws vial by vial.
            "strength_mcg_per_ml": rarely(
                st.sampled_from([100.0, 500.0, 1000.0, 2500.0, 5000.0]),
                st.one_of(st.floats(min_value=5, max_value=200_000), st.just(-1.0)),
                one_in=4,
            ),
        },
        optional={
            "container_ml": st.sampled_from([0.5, 1.0, 2.0, 10.0, 30.0]),
            "multi_dose": st.booleans(),
            "routes": st.lists(st.sampled_from([r.value for r in Route]), max_size=2, unique=True),
            "dead_space_ml": st.floats(min_value=0, max_value=0.5),
        },
    )
    tablet = st.fixed_dictionaries(
        {
            "formulation": st.just("cyanocobalamin"),
            "form": st.just("tablet"),
            "strength_mcg": st.sampled_from([25.0, 50.0, 75.0, 100.0, 150.0, 500.0, 1000.0, 1500.0, 2000.0]),
        }
    )
    return st.one_of(injection, tablet)


def codes(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=4)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    patient: dict[str, Any] = {"age": draw(rarely(st.integers(16, 100), st.integers(-1, 131)))}
    if draw(st.booleans()):
        patient["sex"] = draw(st.sampled_from([s.value for s in Sex]))
    patient["pregnant"] = draw(chance(6))
    patient["breastfeeding"] = draw(chance(8))
    if draw(chance(6)):
        patient["ethnicity"] = draw(st.sampled_from(["black", "Black", "white", "asian"]))
    marker = labs((LabTest.B12_TOTAL, LabTest.B12_TOTAL, LabTest.HOLOTC))
    doc: dict[str, Any] = {
        "ruleset": draw(rarely(st.sampled_from(ruleset_ids()), st.just("nice"))),
        "patient": patient,
        "labs": draw(rarely(marker.map(lambda x: [x]), st.just([]), one_in=6))
        + draw(st.lists(labs(), max_size=4)),
        "symptoms": draw(codes([s.value for s in Symptom])),
        "causes": draw(codes([c.value for c in Cause])),
        "conditions": draw(codes([c.value for c in Condition])),
    }
    if draw(chance(20)):  # now and then a code that must be refused, never ignored
        field, code = draw(
            st.sampled_from([("symptoms", "tiredness"), ("causes", "alcohol"), ("conditions", "gout")])
        )
        doc[field] = [*doc[field], code]
    if draw(st.booleans()):
        recent = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1))
        far = st.dates(min_value=dt.date(9990, 1, 1))  # the calendar would run past 9999-12-31
        doc["start_date"] = draw(rarely(st.one_of(days, recent), far, one_in=15)).isoformat()
    if draw(chance(4)):
        doc["symptom_course"] = draw(st.sampled_from([c.value for c in SymptomCourse]))
    if draw(chance(8)):
        doc["treatment_started"] = draw(days).isoformat()
    catalogue = rarely(st.sampled_from(CATALOGUE_IDS), st.just("no-such-product"))
    product = draw(st.one_of(st.none(), catalogue, custom_products()))
    if product is not None:
        doc["product"] = product
    preferences: dict[str, Any] = {}
    if draw(st.booleans()):
        preferences["route"] = draw(st.sampled_from([r.value for r in Route]))
    if draw(chance(4)):
        usual = st.sampled_from([28, 30, 31, 56, 61, 70, 84, 91, 182])
        preferences["maintenance_interval_days"] = draw(rarely(usual, st.integers(0, 400), one_in=5))
    doc["preferences"] = preferences
    horizon = draw(rarely(st.one_of(st.just(12), st.integers(1, 120)), st.sampled_from([0, 121])))
    return doc, horizon


# -- the properties ---------------------------------------------------------------------------------------


def _plan_or_refusal(doc: dict[str, Any], horizon: int) -> dict[str, Any] | None:
    """The plan's JSON, or None when the case is refused; any other exception fails the test."""
    try:
        plan = plan_document(doc, today=TODAY, horizon_months=horizon)
    except UserError as refused:
        problems = refused.problems
        event("refused")
    else:
        event(f"planned: {plan.assessment.status.value}, {'a' if plan.regimen else 'no'} regimen")
        return plan.to_json_dict()
    assert problems
    assert all(p.problem for p in problems)
    return None


def _rule_ids(p: dict[str, Any]) -> set[str]:
    a = p["assessment"]
    used = {rid for ids in a["rules"].values() for rid in ids}
    used |= {rid for reading in a["labs"] for rid in reading["rules"]}
    if p["regimen"] is not None:
        used |= set(p["regimen"]["rules"])
        used |= {rid for ph in p["regimen"]["phases"] for rid in ph["rules"]}
    for part in ("events", "alerts", "mistakes", "expectations", "red_flags"):
        used |= {rid for item in p.get(part, []) for rid in item["rules"]}
    return used


def _check_calendar(p: dict[str, Any], horizon: int) -> None:
    """Sorted, inside the horizon, never two doses on one day."""
    start = dt.date.fromisoformat(p["generated_for"])
    dates = [e["date"] for e in p["events"]]
    assert dates == sorted(dates)
    end = horizon_end(start, horizon).isoformat()
    assert all(start.isoformat() <= d < end for d in dates)
    doses = [e["date"] for e in p["events"] if e["kind"] in ("injection", "oral")]
    assert len(doses) == len(set(doses))


def _check_doses(p: dict[str, Any]) -> None:
    """Repletion phases then one maintenance; every volume measured from the product in hand."""
    regimen = p["regimen"]
    if regimen is None:
        assert not [e for e in p["events"] if e["kind"] in ("injection", "oral")]
        return
    stages = [ph["stage"] for ph in regimen["phases"]]
    assert stages[-1] == "maintenance"
    assert stages.count("maintenance") == 1
    strength = regimen["product"]["strength_mcg_per_ml"]
    for ph in regimen["phases"]:
        assert ph["dose_mcg"] > 0
        assert ph["interval_days"] > 0
        if ph["route"] == "oral":
            assert (ph["volume_ml"], ph["syringe_units"]) == (None, None)
            continue
        assert math.isclose(ph["volume_ml"], ph["dose_mcg"] / strength, abs_tol=0.005)
        if ph["route"] == "SC":
            assert math.isclose(ph["syringe_units"], ph["volume_ml"] * 100, abs_tol=1e-9)
        else:
            assert ph["syringe_units"] is None
    for e in p["events"]:
        if e["kind"] == "injection":
            assert e["dose_mcg"] > 0
            assert math.isclose(e["volume_ml"], e["dose_mcg"] / strength, abs_tol=0.005)


def _check_reasons(p: dict[str, Any]) -> None:
    """Every phase, event and alert names a rule; every rule used is explained exactly once."""
    phases = p["regimen"]["phases"] if p["regimen"] else []
    for item in [*phases, *p["events"], *p["alerts"]]:
        assert item["rules"], item
    reasons = [r["rule"] for r in p["reasons"]]
    assert len(reasons) == len(set(reasons))
    assert _rule_ids(p) <= set(reasons)
    for reason in p["reasons"]:
        assert reason["source"]
        assert reason["text"]
        assert reason["evidence"] in ("P", "Q", "D")
    codes = [a["code"] for a in p["alerts"]]
    assert len(codes) == len(set(codes))


@SETTINGS
@given(cases())
def test_planning_gives_a_sound_plan_or_a_user_error(drawn: tuple[dict[str, Any], int]) -> None:
    doc, horizon = drawn
    p = _plan_or_refusal(doc, horizon)
    if p is None:
        return
    PLAN_SCHEMA.validate(p)
    _check_calendar(p, horizon)
    _check_doses(p)
    _check_reasons(p)


@settings(max_examples=50, deadline=None)
@given(cases())
def test_planning_is_deterministic(drawn: tuple[dict[str, Any], int]) -> None:
    doc, horizon = drawn
    assert _plan_or_refusal(doc, horizon) == _plan_or_refusal(doc, horizon)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([("ng/L", 1.0), ("pg/mL", 1.0), ("pmol/L", 1 / 1.35537)]),
    st.floats(min_value=20, max_value=2000),
)
def test_the_status_does_not_depend_on_the_unit_reported(unit: tuple[str, float], ng_per_l: float) -> None:
    """The same concentration reported in ng/L, pg/mL or pmol/L reads the same (away from rounding)."""
    name, factor = unit
    if any(math.isclose(ng_per_l, boundary, rel_tol=1e-6) for boundary in (180, 350)):
        return

    def status(value: float, spelling: str) -> str:
        doc = {"patient": {"age": 50}, "labs": [{"test": "b12_total", "value": value, "unit": spelling}]}
        result: str = plan_document(doc, today=TODAY).assessment.status.value
        return result

    assert status(ng_per_l * factor, name) == status(ng_per_l, "ng/L")
