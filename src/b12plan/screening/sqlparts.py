"""Pieces of the screening SQL shared by its statements: typed literals, the unit tables, readable results.

Written in DuckDB's dialect, as every statement of `sqlgen.py`; no number is written here (the numbers come
from the rule set, through `units_table.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from b12plan.domain.codes import LabTest
from b12plan.domain.rules import FunctionalRule, RuleSet, ScreenRule
from b12plan.errors import DataError
from b12plan.screening.units_table import UnitTable

__all__ = [
    "FACTS_TABLE",
    "FINDINGS_TABLE",
    "PLAUSIBLE",
    "STATE_TABLE",
    "Plan",
    "bad_unit_cte",
    "checked_cte",
    "day",
    "first",
    "in_",
    "null",
    "num",
    "obs_cte",
    "pairs_cte",
    "pick",
    "plus_days",
    "plus_months",
    "q",
    "read_plan",
    "unit_cte",
    "usable_cte",
    "valid_where",
]

STATE_TABLE = "screen_state"
FACTS_TABLE = "screen_facts"
FINDINGS_TABLE = "screen_findings"


# ---------------------------------------------------------------- literals -------------------------------


def q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def num(value: float) -> str:
    return f"CAST({q(repr(float(value)))} AS DOUBLE)"


def day(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


def plus_days(expr: str, days: int) -> str:
    return f"CAST({expr} + INTERVAL {int(days)} DAY AS DATE)"


def plus_months(expr: str, months: int) -> str:
    return f"CAST({expr} + INTERVAL {int(months)} MONTH AS DATE)"


def in_(values: Iterable[str]) -> str:
    items = list(values)
    return "(" + ", ".join(q(v) for v in items) + ")" if items else "(NULL)"


def null(type_: str) -> str:
    return f"CAST(NULL AS {type_})"


# ---------------------------------------------------------------- building blocks ------------------------


UNIT_COLUMNS = ("test", "unit_key", "unit", "low", "high", "raised", "pmin", "pmax", "prule", "afactor")


def unit_cte(table: UnitTable) -> str:
    """The unit table as VALUES: per unit spelling, the rule set's numbers as cut-offs (units_table.py)."""
    types = ("VARCHAR",) * 3 + ("DOUBLE",) * 5 + ("VARCHAR", "DOUBLE")
    if not table.rows:  # no usable unit: a table with the right columns and no rows
        cols = ", ".join(f"{null(t)} AS {c}" for c, t in zip(UNIT_COLUMNS, types, strict=True))
        return f"unit_table AS (SELECT {cols} WHERE 1 = 0)"

    def cell(value: str | float | None, type_: str) -> str:
        if value is None:
            return null(type_)
        return q(value) if isinstance(value, str) else num(value)

    rows = ",\n    ".join(
        "("
        + ", ".join(
            cell(v, t)
            for v, t in zip(
                (r.test.value, r.key, r.unit, r.low, r.high, r.raised, r.pmin, r.pmax, r.prule, r.afactor),
                types,
                strict=True,
            )
        )
        + ")"
        for r in table.rows
    )
    return f"unit_table ({', '.join(UNIT_COLUMNS)}) AS (VALUES\n    {rows})"


def bad_unit_cte(table: UnitTable) -> str:
    if not table.bad:
        return (
            "bad_unit AS (SELECT CAST(NULL AS VARCHAR) AS test, CAST(NULL AS VARCHAR) AS unit_key, "
            "CAST(NULL AS VARCHAR) AS problem, CAST(NULL AS VARCHAR) AS rule_id WHERE 1 = 0)"
        )
    rows = ",\n    ".join(
        f"({q(b.test.value)}, {q(b.key)}, {q(b.problem)}, {q(b.rule_id) if b.rule_id else null('VARCHAR')})"
        for b in table.bad
    )
    return f"bad_unit (test, unit_key, problem, rule_id) AS (VALUES\n    {rows})"


PLAUSIBLE = "(u.pmin IS NULL OR (o.value >= u.pmin AND o.value < u.pmax))"


def valid_where(as_of: dt.date) -> str:
    """The core's `read_labs` checks, row by row: a number, a usable unit, plausible, limits above zero."""
    return f"""o.value IS NOT NULL
    AND (o.effective_date IS NULL OR o.effective_date <= {day(as_of)})
    AND {PLAUSIBLE}
    AND (o.upper_limit IS NULL OR o.upper_limit > 0)
    AND (o.lower_limit IS NULL OR o.lower_limit > 0)"""


def usable_cte(as_of: dt.date, tests: Iterable[str]) -> str:
    """`usable`: the results of `tests` the core would read (`valid_where`), each with its unit's numbers from
    the unit table. One scan of `observations` for everything a statement reads result by result."""
    return f"""usable AS (
  SELECT o.patient_id, o.observation_id, o.test, o.value, u.unit, o.effective_date AS d, o.upper_limit,
    o.source, u.low, u.high, u.raised, u.afactor
  FROM observations AS o
  JOIN unit_table AS u ON o.test = u.test AND COALESCE(o.unit, '') = u.unit_key
  WHERE o.test IN {in_(tests)} AND {valid_where(as_of)}
)"""


def checked_cte(tests: Iterable[str]) -> str:
    """Results of `tests` the core reads one by one (from `usable`), each read against the rule set's numbers:
    `s` the reading of a direct marker (D deficient, I indeterminate, U unlikely), `r` whether a functional
    marker is raised (against the lab's own upper limit, else the rule set's default; NULL when neither is
    known)."""
    return f"""checked AS (
  SELECT v.patient_id, v.observation_id, v.test, v.value, v.unit, v.d,
    CASE WHEN v.low IS NULL THEN {null("VARCHAR")} WHEN v.value < v.low THEN 'D'
      WHEN v.value >= v.high THEN 'U' ELSE 'I' END AS s,
    CASE WHEN v.upper_limit IS NOT NULL THEN (CASE WHEN v.value > v.upper_limit THEN 1 ELSE 0 END)
      WHEN v.raised IS NULL THEN CAST(NULL AS INTEGER) WHEN v.value >= v.raised THEN 1 ELSE 0 END AS r,
    v.source
  FROM usable AS v
  WHERE v.test IN {in_(tests)}
)"""


def _pair_tests(rules: RuleSet) -> tuple[str, ...]:
    """The tests the active-above-total check reads (none without rule dx.holotc_fraction)."""
    if rules.find_logic("dx.holotc_fraction") is None:
        return ()
    return (LabTest.HOLOTC.value, LabTest.B12_TOTAL.value)


def pairs_cte(rules: RuleSet, as_of: dt.date, *, usable: bool = False) -> str:
    """Active B12 above total B12 taken the same day (both in pmol/L): the core refuses such a case
    (rule dx.holotc_fraction); the screen sets both results aside and lists them as rejected.

    With `usable`, the results are read from the `usable` CTE (which must hold both tests); else from
    `observations`, checked here."""
    if not _pair_tests(rules):
        return (
            "implausible AS (SELECT CAST(NULL AS VARCHAR) AS patient_id, "
            "CAST(NULL AS VARCHAR) AS observation_id WHERE 1 = 0)"
        )
    active, total = q(LabTest.HOLOTC.value), q(LabTest.B12_TOTAL.value)
    if usable:
        read = f"""SELECT v.patient_id, v.observation_id, v.test, v.d, v.value * v.afactor AS pmol
  FROM usable AS v
  WHERE v.test IN ({active}, {total})"""
    else:
        read = f"""SELECT o.patient_id, o.observation_id, o.test, o.effective_date AS d,
    o.value * u.afactor AS pmol
  FROM observations AS o
  JOIN unit_table AS u ON o.test = u.test AND COALESCE(o.unit, '') = u.unit_key
  WHERE o.test IN ({active}, {total}) AND {valid_where(as_of)}"""
    return f"""fraction AS (
  {read}
),
pair AS (
  SELECT a.patient_id, a.observation_id AS active_id, t.observation_id AS total_id
  FROM fraction AS a
  JOIN fraction AS t ON a.patient_id = t.patient_id AND (a.d = t.d OR (a.d IS NULL AND t.d IS NULL))
  WHERE a.test = {active} AND t.test = {total} AND a.pmol > t.pmol
),
implausible AS (
  SELECT patient_id, active_id AS observation_id FROM pair
  UNION
  SELECT patient_id, total_id AS observation_id FROM pair
)"""


def obs_cte(rules: RuleSet, as_of: dt.date, tests: Iterable[str]) -> str:
    """`obs`: the results of `tests` the screen reads (checked, less implausible pairs), from one scan."""
    tests = list(tests)
    read = list(dict.fromkeys([*tests, *_pair_tests(rules)]))
    return f"""{usable_cte(as_of, read)},
{pairs_cte(rules, as_of, usable=True)},
{checked_cte(tests)},
obs AS (
  SELECT c.* FROM checked AS c
  LEFT JOIN implausible AS x ON c.patient_id = x.patient_id AND c.observation_id = x.observation_id
  WHERE x.observation_id IS NULL
)"""


@dataclass(frozen=True)
class Plan:
    """What the generated SQL reads from the rule set, in the order the core reads it."""

    direct: tuple[tuple[LabTest, float, float, str], ...]  # test, deficient_below, unlikely_above, rule id
    functional: tuple[tuple[LabTest, float | None], ...]  # test, default upper limit (last rule per test)
    screens: tuple[ScreenRule, ...]


def read_plan(rules: RuleSet) -> Plan:
    direct = tuple(
        (test, rule.deficient_below, rule.unlikely_above, rule.id)
        for test in (LabTest.B12_TOTAL, LabTest.HOLOTC)
        if (rule := rules.threshold(test)) is not None
    )
    functional: dict[LabTest, float | None] = {}
    for marker in rules.of(FunctionalRule):
        functional[marker.test] = marker.default_upper_limit
    screens = tuple(rules.of(ScreenRule))
    codes = [s.finding for s in screens]
    if len(codes) != len(set(codes)):
        raise DataError(f"rule set {rules.id}: a screening finding code is used twice")
    return Plan(direct, tuple(functional.items()), screens)


def first(options: Sequence[tuple[str, str]]) -> str:
    """CASE picking the first test whose condition holds; NULL when none does."""
    if not options:
        return null("VARCHAR")
    whens = " ".join(f"WHEN {cond} THEN {q(test)}" for cond, test in options)
    return f"CASE {whens} ELSE {null('VARCHAR')} END"


def pick(item: str, tests: Sequence[str], column: str, type_: str, prefix: str = "") -> str:
    """The `column` of the marker named by the `item` expression (`b12_total` -> `b12_total_value`)."""
    if not tests:
        return null(type_)
    whens = " ".join(f"WHEN {q(t)} THEN {prefix}{t}_{column}" for t in tests)
    return f"CASE {item} {whens} ELSE {null(type_)} END"
