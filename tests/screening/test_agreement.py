"""The screen's status per person equals the planning core's assessment of the same data.

Generated people go the whole way: written as FHIR NDJSON, read by the screen's reader, screened by the
generated SQL on DuckDB; the same people are built as cases (`screening_oracle.case_of`) and assessed by
`b12plan.domain.assessment.assess`. Values are drawn around every threshold of the rule set, in every unit
spelling, exactly on the boundaries too, with missing units, implausible values, undated results, results
after the screening date, treatment, nitrous oxide and renal impairment.

`B12PLAN_AGREEMENT_EXAMPLES=500 pytest tests/screening/test_agreement.py` searches harder.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screening_oracle import core_status
from screenkit import AS_OF, screen_people, status_of

from b12plan.domain import units
from b12plan.domain.codes import Condition, LabTest
from b12plan.domain.rules import FunctionalRule, PlausibleRule, RuleSet, ThresholdRule
from b12plan.rulebook import load_ruleset, ruleset_ids
from b12plan.screening.synth import (
    SynthAdministration,
    SynthCondition,
    SynthLab,
    SynthMedication,
    SynthPatient,
    generate,
)
from b12plan.screening.units_table import MARKERS

SPELLINGS: dict[LabTest, list[str | None]] = {
    LabTest.B12_TOTAL: ["ng/L", "pg/mL", "pmol/L", "pg/ml", "pmol/l", None, "mg/dL"],
    LabTest.HOLOTC: ["pmol/L", "pmol/l", None],
    LabTest.MMA: ["umol/L", "nmol/L", "µmol/L", "nmol/l", "mg/L"],
    LabTest.HOMOCYSTEINE: ["umol/L", "µmol/L", "nmol/L"],
}
_ids = itertools.count(1)


def _boundaries(rules: RuleSet) -> dict[LabTest, list[float]]:
    """Every number the rule set compares a marker with, in every unit the test is reported in."""
    numbers: dict[LabTest, list[tuple[float, str]]] = {t: [] for t in MARKERS}
    for rule in rules.rules:
        if isinstance(rule, ThresholdRule) and rule.test in numbers:
            numbers[rule.test] += [(rule.deficient_below, rule.unit), (rule.unlikely_above, rule.unit)]
        if isinstance(rule, FunctionalRule) and rule.test in numbers and rule.default_upper_limit:
            numbers[rule.test].append((rule.default_upper_limit, rule.unit))
        if isinstance(rule, PlausibleRule) and rule.test in numbers:
            numbers[rule.test] += [(rule.min, rule.unit), (rule.max, rule.unit)]
    out: dict[LabTest, list[float]] = {}
    for test, pairs in numbers.items():
        values = set()
        for value, unit in pairs:
            for target in units.accepted_units(test):
                values.add(units.convert(test, value, unit, target))
        out[test] = sorted(values)
    return out


RULESETS = {rid: load_ruleset(rid) for rid in ruleset_ids()}
BOUNDARIES = {rid: _boundaries(rules) for rid, rules in RULESETS.items()}
DATES = st.one_of(
    st.none(),
    st.dates(AS_OF - dt.timedelta(days=900), AS_OF + dt.timedelta(days=60)),
    st.sampled_from([AS_OF - dt.timedelta(days=100), AS_OF - dt.timedelta(days=200)]),  # same-day pairs
)


@st.composite
def labs(draw: st.DrawFn, ruleset: str) -> SynthLab:
    test = draw(st.sampled_from(MARKERS))
    unit = draw(st.sampled_from(SPELLINGS[test]))
    edges = BOUNDARIES[ruleset][test]
    value = draw(
        st.one_of(
            st.sampled_from(edges or [1.0]),
            st.floats(min_value=0.0, max_value=max(edges or [1.0]) * 1.5, allow_nan=False),
            st.sampled_from([0.0, 0.2, 0.28, 25.0, 133.0, 180.0, 378.0]),
        )
    )
    upper = draw(st.one_of(st.none(), st.sampled_from(edges or [1.0]), st.floats(0.0, 1000.0)))
    status = draw(st.sampled_from(["final", "final", "final", "entered-in-error"]))
    ucum = draw(st.booleans()) and unit in ("ng/L", "pg/mL", "pmol/L", "umol/L", "nmol/L")
    return SynthLab(f"o{next(_ids)}", test, value, unit, ucum, draw(DATES), upper, status)


@st.composite
def people(draw: st.DrawFn, ruleset: str) -> SynthPatient:
    pid = f"p{next(_ids)}"
    medications: list[SynthMedication] = []
    administrations: list[SynthAdministration] = []
    started = draw(
        st.one_of(st.none(), st.dates(AS_OF - dt.timedelta(days=900), AS_OF + dt.timedelta(days=30)))
    )
    if started is not None:
        if draw(st.booleans()):
            medications.append(
                SynthMedication(
                    f"m{next(_ids)}", "MedicationStatement", "b12", "oral", "active", started, None
                )
            )
        else:
            administrations.append(SynthAdministration(f"a{next(_ids)}", started, "none"))
    if draw(st.booleans()):
        start = draw(st.dates(AS_OF - dt.timedelta(days=900), AS_OF + dt.timedelta(days=30)))
        medications.append(
            SynthMedication(
                f"m{next(_ids)}", "MedicationStatement", "nitrous_oxide", "oral", "active", start, None
            )
        )
    conditions = []
    if draw(st.booleans()):
        onset = draw(
            st.one_of(st.none(), st.dates(AS_OF - dt.timedelta(days=900), AS_OF + dt.timedelta(days=30)))
        )
        conditions.append(SynthCondition(f"c{next(_ids)}", Condition.RENAL_IMPAIRMENT, onset))
    return SynthPatient(
        pid,
        dt.date(1970, 1, 1),
        "female",
        tuple(draw(st.lists(labs(ruleset), max_size=6))),
        tuple(medications),
        tuple(administrations),
        tuple(conditions),
        "generated",
    )


@pytest.mark.parametrize("ruleset", sorted(RULESETS))
@settings(
    max_examples=int(os.environ.get("B12PLAN_AGREEMENT_EXAMPLES", "12")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_screen_status_equals_core_assessment(ruleset: str, data: st.DataObject) -> None:
    rules = RULESETS[ruleset]
    group = data.draw(st.lists(people(ruleset), min_size=1, max_size=30))
    screened = status_of(screen_people(group, rules))
    for who in group:
        assert screened[who.id] == core_status(who, AS_OF, rules).value, who


@pytest.mark.parametrize("ruleset", sorted(RULESETS))
def test_synthetic_population_agrees_person_by_person(ruleset: str) -> None:
    """The synthetic population of `b12plan synth` (1500 people), person by person."""
    rules = RULESETS[ruleset]
    group = list(generate(1500, seed=5, as_of=AS_OF))
    screened = status_of(screen_people(group, rules))
    disagree = [who.id for who in group if screened[who.id] != core_status(who, AS_OF, rules).value]
    assert not disagree
    assert len(set(screened.values())) == 5  # every status occurs, so every branch was compared
