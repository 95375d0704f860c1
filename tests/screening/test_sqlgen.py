"""The screening SQL holds no number of its own: every number in it comes from the rule set or from
`domain.units`, and the cut-offs answer exactly as the core's conversion does."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b12plan.domain import units
from b12plan.domain.assessment import _MARKERS as CORE_MARKERS
from b12plan.domain.codes import LabTest
from b12plan.domain.rules import RuleSet, ScreenRule
from b12plan.errors import DataError
from b12plan.rulebook import load_ruleset, ruleset_ids
from b12plan.screening.service import meanings
from b12plan.screening.sqlgen import DIALECTS, build_queries
from b12plan.screening.units_table import MARKERS, build_unit_table, cutoff, screened_tests

AS_OF = dt.date(2025, 6, 30)
PAIRS = [
    ("b12_total", "ng/L"),
    ("b12_total", "pmol/L"),
    ("b12_total", "pg/ml"),
    ("b12_total", None),
    ("b12_total", "mg/dL"),
    ("holotc", "pmol/L"),
    ("mma", "nmol/L"),
    ("mma", "µmol/L"),
    ("homocysteine", "umol/L"),
    ("hb", "g/dL"),
    ("hb", "G/L"),
    ("mcv", "fL"),
    ("potassium", "mmol/L"),  # not screened: no row
]


def test_markers_are_the_cores() -> None:
    assert set(MARKERS) == set(CORE_MARKERS)


def test_unit_table_reads_units_like_the_core(nice: RuleSet) -> None:
    table = build_unit_table(nice, PAIRS)
    keys = {(r.test.value, r.key): r.unit for r in table.rows}
    assert keys == {
        ("b12_total", "ng/L"): "ng/L",
        ("b12_total", "pmol/L"): "pmol/L",
        ("b12_total", "pg/ml"): "pg/mL",
        ("holotc", "pmol/L"): "pmol/L",
        ("mma", "nmol/L"): "nmol/L",
        ("mma", "µmol/L"): "umol/L",
        ("homocysteine", "umol/L"): "umol/L",
        ("hb", "g/dL"): "g/dL",
        ("mcv", "fL"): "fL",
    }
    problems = {(b.test.value, b.key): (b.problem, b.rule_id) for b in table.bad}
    assert problems[("b12_total", "")] == (
        "a unit is needed for b12_total; use ng/L, pg/mL or pmol/L",
        "DX-NO-UNIT-GUESS",
    )
    assert "is not a unit for b12_total" in problems[("b12_total", "mg/dL")][0]
    assert "ambiguous" in problems[("hb", "G/L")][0]


@pytest.mark.parametrize("ruleset", ruleset_ids())
def test_cutoffs_answer_as_the_core_converts(ruleset: str) -> None:
    """Either side of each cut-off, the core's conversion falls either side of the rule's number."""
    rules = load_ruleset(ruleset)
    table = build_unit_table(rules, PAIRS)
    threshold = rules.threshold(LabTest.B12_TOTAL)
    assert threshold is not None
    for row in table.rows:
        if row.test is not LabTest.B12_TOTAL:
            continue
        assert row.low is not None
        assert row.high is not None

        def conv(value: float, unit: str = row.unit) -> float:
            return units.convert(LabTest.B12_TOTAL, value, unit, threshold.unit)

        assert conv(row.low) >= threshold.deficient_below > conv(_previous(row.low))
        assert conv(row.high) > threshold.unlikely_above >= conv(_previous(row.high))


def _previous(x: float) -> float:
    return math.nextafter(x, -math.inf)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(min_value=0.01, max_value=1e4))
def test_cutoff_finds_the_first_double_where_a_monotone_test_holds(number: float, scale: float) -> None:
    def holds(v: float) -> bool:
        return v * scale >= number

    found = cutoff(holds)
    assert holds(found)
    assert not holds(_previous(found))


def test_cutoff_refuses_a_test_that_never_holds() -> None:
    with pytest.raises(DataError):
        cutoff(lambda v: False)


def _numbers(sql: str) -> set[float]:
    """Every number written in the SQL: typed constants, interval lengths and bare literals."""
    found = {float(x) for x in re.findall(r"CAST\('([-0-9.e+]+)' AS DOUBLE\)", sql)}
    found |= {float(x) for x in re.findall(r"INTERVAL (\d+) (?:DAY|MONTH)", sql)}
    bare = re.sub(r"'[^']*'", "''", sql)  # drop string literals (dates, codes)
    bare = re.sub(r"\b[a-z_]+\d+\b", "", bare)  # drop names that end in digits (m3_start, od6)
    found |= {float(x) for x in re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])", bare)}
    return found


@pytest.mark.parametrize("ruleset", ruleset_ids())
def test_every_number_in_the_sql_comes_from_the_rule_set(ruleset: str) -> None:
    rules = load_ruleset(ruleset)
    table = build_unit_table(rules, PAIRS)
    queries = build_queries(rules, as_of=AS_OF, units=table, meanings=meanings())
    sql = "\n".join([queries.state, queries.facts, queries.findings, queries.rejected])
    allowed: set[float] = {0.0, 1.0, 1_000_000_000.0}  # 0/1 flags, "no count" for an open-ended phase
    for row in table.rows:
        allowed |= {
            v for v in (row.low, row.high, row.raised, row.pmin, row.pmax, row.afactor) if v is not None
        }
    for rule in rules.of(ScreenRule):
        allowed |= {float(v) for v in (rule.grace_days, rule.min_months, rule.within_days) if v is not None}
    stray = _numbers(sql) - allowed
    assert not stray, f"numbers in the SQL that are not the rule set's: {sorted(stray)}"


@pytest.mark.parametrize("ruleset", ruleset_ids())
@pytest.mark.parametrize("dialect", DIALECTS)
def test_queries_carry_to_every_dialect(ruleset: str, dialect: str) -> None:
    rules = load_ruleset(ruleset)
    queries = build_queries(rules, as_of=AS_OF, units=build_unit_table(rules, PAIRS), meanings=meanings()).to(
        dialect
    )
    assert queries.dialect == dialect
    assert "screen_state" in queries.findings


def test_screened_tests_include_the_screening_rules_tests(nice: RuleSet) -> None:
    tests = screened_tests(nice)
    assert set(MARKERS) <= set(tests)
    assert {LabTest.HB, LabTest.MCV} <= set(tests)
    assert LabTest.POTASSIUM not in tests
