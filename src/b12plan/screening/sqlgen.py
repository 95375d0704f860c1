"""The screening query, generated from a rule set: no threshold, interval or unit factor is written here.

Every number in the SQL comes from the rule set (`dx.threshold`, `dx.functional`, `screen` rules) or from
the unit table (`units_table.py`, built by `domain.units`). The query is written once, in DuckDB's dialect,
and carried to PostgreSQL and Spark SQL by `sqlglot` (`ScreenQueries.to`).

The statements, run in order by an engine (`engines.py`, `service.run_queries`):

1. `state` (materialised as `screen_state`): one row per person with the latest usable result of each B12
   marker, the start of replacement, the status and the result that decided it. The status is the core's
   (`domain.assessment`, rules DX-COMBINE and DX-N2O-FUNCTIONAL) written as one CASE: a property test
   checks the two agree person by person.
2. `facts` and `findings` (`sqlfindings.py`): per-person facts, then one SELECT per `screen` rule.
3. `status`, `rejected` (results not read, with the core's reason) and counts by age band for the report.

Dates: results dated after the screening date (`as_of`) are ignored; undated results count as the oldest.
Constants are typed (`CAST('0.28' AS DOUBLE)`, `DATE '2025-06-30'`) so every engine compares the same
IEEE doubles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

import sqlglot

from b12plan.domain.codes import Cause, Condition, LabTest, Status
from b12plan.domain.rules import RuleSet
from b12plan.screening.layout import B12_CLASS
from b12plan.screening.sqlfindings import findings_sql
from b12plan.screening.sqlparts import (
    FACTS_TABLE,
    FINDINGS_TABLE,
    PLAUSIBLE,
    STATE_TABLE,
    Plan,
    bad_unit_cte,
    day,
    first,
    in_,
    null,
    obs_cte,
    pairs_cte,
    pick,
    q,
    read_plan,
    unit_cte,
)
from b12plan.screening.units_table import MARKERS, UnitTable, screened_tests

__all__ = [
    "AGE_BANDS",
    "DIALECTS",
    "FACTS_TABLE",
    "FINDINGS_TABLE",
    "STATE_TABLE",
    "Meanings",
    "ScreenQueries",
    "build_queries",
    "transpile",
    "unit_pairs_sql",
]

DIALECTS: tuple[str, ...] = ("duckdb", "postgres", "spark")
WRITTEN_IN = "duckdb"

AGE_BANDS: tuple[tuple[str, int], ...] = (("under 40", 0), ("40-59", 40), ("60-74", 60), ("75 and over", 75))
"""Reporting bands (label, lowest age in whole years at the screening date); not a clinical grouping."""


@dataclass(frozen=True)
class Meanings:
    """Medicine classes (`medications.med_class`) that mean a cause or a condition the status reads.

    Built from `data/codes.toml` by the service (e.g. `nitrous_oxide` -> cause nitrous_oxide).
    """

    cause_classes: Mapping[Cause, tuple[str, ...]] = field(default_factory=dict)
    condition_classes: Mapping[Condition, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ScreenQueries:
    """The statements of one screening run, in one dialect, in the order they run."""

    dialect: str
    state: str  # materialised as screen_state
    facts: str  # materialised as screen_facts
    findings: str  # materialised as screen_findings
    findings_out: str
    status: str
    rejected: str
    status_counts: str  # status x age band -> people
    finding_counts: str  # finding x age band -> people

    def to(self, dialect: str) -> ScreenQueries:
        """The same statements in another dialect (`duckdb`, `postgres`, `spark`)."""
        carried = {
            f.name: transpile(getattr(self, f.name), dialect, source=self.dialect)
            for f in fields(self)
            if f.name != "dialect"
        }
        return ScreenQueries(dialect=dialect, **carried)


def transpile(sql: str, dialect: str, *, source: str = WRITTEN_IN) -> str:
    """One statement carried from `source` to `dialect` by sqlglot."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    if dialect == source:
        return sql
    out = sqlglot.transpile(sql, read=source, write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    return out[0]


def unit_pairs_sql(rules: RuleSet) -> str:
    """The distinct (test, unit) spellings of the screened tests, for `units_table.build_unit_table`."""
    tests = in_(t.value for t in screened_tests(rules))
    return f"SELECT DISTINCT test, unit FROM observations WHERE test IN {tests}"


# ---------------------------------------------------------------- statement 1: state --------------------


def _state_sql(rules: RuleSet, plan: Plan, as_of: dt.date, units: UnitTable, meanings: Meanings) -> str:
    today = day(as_of)
    markers = [m.value for m in MARKERS]
    direct = [t.value for t, *_ in plan.direct]
    functional = [t.value for t, _ in plan.functional]
    n2o_classes = meanings.cause_classes.get(Cause.NITROUS_OXIDE, ())
    renal_classes = meanings.condition_classes.get(Condition.RENAL_IMPAIRMENT, ())

    rx_cols = [
        f"MIN(CASE WHEN med_class = {q(B12_CLASS)} THEN start_date END) AS started",
        f"MAX(CASE WHEN med_class IN {in_(n2o_classes)} THEN 1 ELSE 0 END) AS n2o_rx",
        f"MAX(CASE WHEN med_class IN {in_(renal_classes)} THEN 1 ELSE 0 END) AS renal_rx",
    ]
    for i, rule in enumerate(plan.screens):
        if rule.check == "medicine_not_tested":
            rx_cols.append(
                f"MIN(CASE WHEN med_class IN {in_(rule.medicines)} THEN start_date END) AS m{i}_start"
            )
            rx_cols.append(
                f"MAX(CASE WHEN med_class IN {in_(rule.medicines)} "
                f"THEN LEAST(COALESCE(end_date, {today}), {today}) END) AS m{i}_end"
            )
        elif rule.check == "folic_acid_first":
            rx_cols.append(
                f"MIN(CASE WHEN med_class IN {in_(rule.medicines)} THEN start_date END) AS f{i}_start"
            )
    rx_extra = [c.rsplit(" AS ", 1)[1] for c in rx_cols[3:]]

    latest_cols = ["MAX(after_start) AS excluded"]
    for t in markers:
        for col in ("s", "r", "value", "unit", "d", "source"):
            latest_cols.append(
                f"MAX(CASE WHEN test = {q(t)} AND after_start = 0 AND rn = 1 THEN {col} END) AS {t}_{col}"
            )

    def any_of(parts: Iterable[str]) -> str:
        items = list(parts)
        return "(" + " OR ".join(items) + ")" if items else "(1 = 0)"

    def all_of(parts: Iterable[str]) -> str:
        items = list(parts)
        return "(" + " AND ".join(items) + ")" if items else "(1 = 1)"

    any_direct = any_of(f"{t}_s IS NOT NULL" for t in direct)
    has_deficient = any_of(f"{t}_s = 'D'" for t in direct)
    all_unlikely = all_of(f"({t}_s IS NULL OR {t}_s = 'U')" for t in direct)
    any_functional = any_of(f"{t}_value IS NOT NULL" for t in functional)
    any_raised = any_of(f"{t}_r = 1" for t in functional)
    all_normal = f"({any_functional} AND {all_of(f'({t}_value IS NULL OR {t}_r = 0)' for t in functional)})"
    mma = LabTest.MMA.value if LabTest.MMA.value in functional else None
    mma_rules = (
        f"WHEN {mma}_r = 1 AND renal = 0 THEN '{Status.DEFICIENT}' WHEN {mma}_r = 0 THEN '{Status.UNLIKELY}'"
        if mma
        else ""
    )
    status = f"""CASE
      WHEN n2o = 1 AND ({any_raised} OR {any_direct}) THEN CASE
        WHEN {any_raised} THEN '{Status.DEFICIENT}'
        WHEN {has_deficient} THEN '{Status.DEFICIENT}'
        WHEN {all_normal} THEN '{Status.UNLIKELY}'
        ELSE '{Status.INDETERMINATE}' END
      WHEN NOT {any_direct} THEN CASE
        WHEN excluded = 1 THEN '{Status.UNINTERPRETABLE}'
        WHEN {any_functional} THEN '{Status.INDETERMINATE}'
        ELSE '{Status.INSUFFICIENT_DATA}' END
      WHEN {has_deficient} THEN '{Status.DEFICIENT}'
      WHEN {all_unlikely} THEN '{Status.UNLIKELY}'
      {mma_rules}
      ELSE '{Status.INDETERMINATE}' END AS status"""

    # The result that decided the status: the evidence shown on a finding and the date it counts from.
    decide = {
        Status.DEFICIENT: [(f"{t}_s = 'D'", t) for t in direct] + [(f"{t}_r = 1", t) for t in functional],
        Status.INDETERMINATE: [(f"{t}_s = 'I'", t) for t in direct]
        + [(f"{t}_s IS NOT NULL", t) for t in direct]
        + [(f"{t}_value IS NOT NULL", t) for t in functional],
        Status.UNLIKELY: [(f"{t}_s = 'U'", t) for t in direct] + [(f"{t}_r = 0", t) for t in functional],
    }
    item_case = (
        "CASE status "
        + " ".join(f"WHEN '{s}' THEN {first(options)}" for s, options in decide.items())
        + f" ELSE {null('VARCHAR')} END AS dec_item"
    )
    shown = list(dict.fromkeys(direct + functional))
    dec_cols = [
        f"{pick('dec_item', shown, 'value', 'DOUBLE')} AS dec_value",
        f"{pick('dec_item', shown, 'unit', 'VARCHAR')} AS dec_unit",
        f"{pick('dec_item', shown, 'd', 'DATE')} AS dec_d",
        f"{pick('dec_item', shown, 'source', 'VARCHAR')} AS dec_source",
    ]

    marker_cols = ", ".join(f"l.{t}_{c}" for t in markers for c in ("s", "r", "value", "unit", "d", "source"))
    rx_select = "".join(f", rx.{c}" for c in rx_extra)
    nl = ",\n    "
    return f"""WITH
{unit_cte(units)},
{obs_cte(rules, as_of, markers)},
rx AS (
  SELECT patient_id,
    {nl.join(rx_cols)}
  FROM medications
  WHERE start_date IS NOT NULL AND start_date <= {today}
  GROUP BY patient_id
),
cx AS (
  SELECT patient_id,
    MAX(CASE WHEN kind = 'cause' AND code = {q(Cause.NITROUS_OXIDE)} THEN 1 ELSE 0 END) AS n2o_cx,
    MAX(CASE WHEN kind = 'condition' AND code = {q(Condition.RENAL_IMPAIRMENT)} THEN 1 ELSE 0 END)
      AS renal_cx
  FROM conditions
  WHERE onset_date IS NULL OR onset_date <= {today}
  GROUP BY patient_id
),
marker AS (
  SELECT o.patient_id, o.observation_id, o.test, o.s, o.r, o.value, o.unit, o.d, o.source,
    CASE WHEN rx.started IS NOT NULL AND o.d IS NOT NULL AND o.d >= rx.started THEN 1 ELSE 0 END
      AS after_start
  FROM obs AS o
  LEFT JOIN rx ON o.patient_id = rx.patient_id
  WHERE o.test IN {in_(markers)}
),
ranked AS (
  SELECT m.*, ROW_NUMBER() OVER (
    PARTITION BY m.patient_id, m.test, m.after_start ORDER BY m.d DESC NULLS LAST, m.observation_id DESC
  ) AS rn
  FROM marker AS m
),
latest AS (
  SELECT patient_id,
    {nl.join(latest_cols)}
  FROM ranked
  GROUP BY patient_id
),
base AS (
  SELECT p.patient_id, p.birth_date, rx.started{rx_select},
    CASE WHEN COALESCE(rx.n2o_rx, 0) = 1 OR COALESCE(cx.n2o_cx, 0) = 1 THEN 1 ELSE 0 END AS n2o,
    CASE WHEN COALESCE(rx.renal_rx, 0) = 1 OR COALESCE(cx.renal_cx, 0) = 1 THEN 1 ELSE 0 END AS renal,
    COALESCE(l.excluded, 0) AS excluded,
    {marker_cols}
  FROM patients AS p
  LEFT JOIN latest AS l ON p.patient_id = l.patient_id
  LEFT JOIN rx ON p.patient_id = rx.patient_id
  LEFT JOIN cx ON p.patient_id = cx.patient_id
),
decided AS (
  SELECT b.*,
    {status}
  FROM base AS b
),
chosen AS (
  SELECT d.*,
    {item_case}
  FROM decided AS d
)
SELECT c.*,
    {nl.join(dec_cols)}
FROM chosen AS c"""


# ---------------------------------------------------------------- statements 3 and 4 --------------------


def _status_sql() -> str:
    return (
        "SELECT patient_id, status, dec_item AS item, dec_value AS value, dec_unit AS unit, dec_d AS date, "
        f"started AS treatment_started, birth_date FROM {STATE_TABLE} ORDER BY patient_id"
    )


def _years_before(when: dt.date, years: int) -> dt.date:
    try:
        return when.replace(year=when.year - years)
    except ValueError:  # 29 February in a year that has none
        return when.replace(year=when.year - years, day=28)


def _band(as_of: dt.date, column: str) -> str:
    """CASE naming the age band of a birth date at `as_of` (age >= N <=> born on or before as_of - N
    years)."""
    whens = [f"WHEN {column} IS NULL THEN 'unknown'"]
    for label, lowest in sorted(AGE_BANDS, key=lambda b: -b[1]):
        if lowest > 0:
            whens.append(f"WHEN {column} <= {day(_years_before(as_of, lowest))} THEN {q(label)}")
        else:
            whens.append(f"ELSE {q(label)}")
    return "CASE " + " ".join(whens) + " END"


def _counts_sql(as_of: dt.date) -> tuple[str, str]:
    band = _band(as_of, "s.birth_date")
    status = (
        f"SELECT s.status AS code, {band} AS band, COUNT(*) AS people FROM {STATE_TABLE} AS s GROUP BY 1, 2"
    )
    findings = (
        f"SELECT f.finding AS code, {band} AS band, COUNT(*) AS people FROM {FINDINGS_TABLE} AS f "
        f"JOIN {STATE_TABLE} AS s ON f.patient_id = s.patient_id GROUP BY 1, 2"
    )
    return status, findings


def _rejected_sql(rules: RuleSet, as_of: dt.date, units: UnitTable) -> str:
    """Results of the screened tests the screen does not read, with the core's reason: a unit it refuses, a
    value outside the plausible range, a reference limit not above zero, an active-above-total pair.

    One pass over the results, joined to every spelling seen (usable or not); the pair check reads only
    active and total B12."""
    tests = in_(t.value for t in screened_tests(rules))
    limits = "(o.upper_limit IS NULL OR o.upper_limit > 0) AND (o.lower_limit IS NULL OR o.lower_limit > 0)"
    columns = "o.patient_id, o.observation_id, o.test, o.value, o.unit, o.effective_date AS date"
    fraction = rules.find_logic("dx.holotc_fraction")
    pairs = ""
    if fraction is not None:
        pairs = f"""
UNION ALL
SELECT {columns}, 'active B12 above total B12 taken the same day' AS reason,
  {q(fraction.id)} AS rule_id, o.source AS data_source
FROM observations AS o
JOIN implausible AS x ON o.patient_id = x.patient_id AND o.observation_id = x.observation_id"""
    return f"""WITH
{unit_cte(units)},
{bad_unit_cte(units)},
{pairs_cte(rules, as_of)},
spelling AS (
  SELECT test, unit_key, {null("VARCHAR")} AS problem, {null("VARCHAR")} AS rule_id, pmin, pmax, prule
  FROM unit_table
  UNION ALL
  SELECT test, unit_key, problem, rule_id, {null("DOUBLE")} AS pmin, {null("DOUBLE")} AS pmax,
    {null("VARCHAR")} AS prule
  FROM bad_unit
)
SELECT * FROM (
SELECT {columns},
  CASE WHEN u.problem IS NOT NULL THEN u.problem
    WHEN NOT {PLAUSIBLE} THEN 'value outside the plausible range'
    ELSE 'reference limit not above zero' END AS reason,
  CASE WHEN u.problem IS NOT NULL THEN u.rule_id WHEN NOT {PLAUSIBLE} THEN u.prule
    ELSE {null("VARCHAR")} END AS rule_id,
  o.source AS data_source
FROM observations AS o
JOIN spelling AS u ON o.test = u.test AND COALESCE(o.unit, '') = u.unit_key
WHERE o.test IN {tests} AND o.value IS NOT NULL
  AND (o.effective_date IS NULL OR o.effective_date <= {day(as_of)})
  AND (u.problem IS NOT NULL OR NOT ({PLAUSIBLE} AND {limits})){pairs}
) AS rejected
ORDER BY patient_id, observation_id"""


def build_queries(rules: RuleSet, *, as_of: dt.date, units: UnitTable, meanings: Meanings) -> ScreenQueries:
    """The statements of a screening run on `as_of` under `rules`, in DuckDB's dialect."""
    chosen = read_plan(rules)
    facts, findings = findings_sql(rules, chosen, as_of, units)
    status_counts, finding_counts = _counts_sql(as_of)
    return ScreenQueries(
        dialect=WRITTEN_IN,
        state=_state_sql(rules, chosen, as_of, units, meanings),
        facts=facts,
        findings=findings,
        findings_out=f"SELECT * FROM {FINDINGS_TABLE} ORDER BY patient_id, finding",
        status=_status_sql(),
        rejected=_rejected_sql(rules, as_of, units),
        status_counts=status_counts,
        finding_counts=finding_counts,
    )
