"""The `facts` and `findings` statements of a screening run: one SELECT per `screen` rule of the rule set.

`facts` (materialised as `screen_facts`) gathers, per person, what a finding needs beyond the status (a
follow-up test after a result, a test ever done, the current prescription's next dose...); `findings` is
then one filter per rule over `screen_state` and `screen_facts`, joined by UNION ALL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from b12plan.domain.codes import LabTest, Status
from b12plan.domain.rules import RuleSet, ScreenRule
from b12plan.errors import DataError
from b12plan.screening.layout import B12_CLASS, FINDINGS
from b12plan.screening.sqlparts import (
    FACTS_TABLE,
    STATE_TABLE,
    Plan,
    day,
    first,
    in_,
    null,
    obs_cte,
    pick,
    plus_days,
    plus_months,
    q,
    unit_cte,
)
from b12plan.screening.units_table import UnitTable

__all__ = ["findings_sql"]


_COLUMNS = [c.name for c in FINDINGS.columns if c.name != "evidence"]
_TYPES = {c.name: c.type for c in FINDINGS.columns}


def _row(rules: RuleSet, rule: ScreenRule, **values: str) -> str:
    """One finding SELECT list, typed NULL for every column not given."""
    values = {
        "finding": q(rule.finding),
        "rule_id": q(rule.id),
        "rule_source": q(rules.source_url(rule)),
        **values,
    }
    unknown = set(values) - set(_COLUMNS)
    assert not unknown, unknown
    return ", ".join(f"{values.get(c, null(_TYPES[c]))} AS {c}" for c in _COLUMNS)


def _dec(prefix: str = "s.") -> dict[str, str]:
    return {
        "item": f"{prefix}dec_item",
        "value": f"{prefix}dec_value",
        "unit": f"{prefix}dec_unit",
        "date": f"{prefix}dec_d",
        "data_source": f"{prefix}dec_source",
    }


class _Facts:
    """What the findings need beyond the status: per-person facts from results and prescriptions, built by
    one statement (`facts`, materialised as `screen_facts`) so each finding is a plain filter.

    Each fact is its own small CTE that reads only the results (or people) it needs, so no step joins every
    result of the population with every person."""

    def __init__(self, rules: RuleSet, as_of: dt.date) -> None:
        self.rules, self.as_of = rules, as_of
        self.ctes: list[str] = []
        self.columns: list[str] = []
        self.joins: list[str] = []
        self.present: list[str] = []
        self.obs_tests: list[str] = []  # tests whose readable results (`obs`) a fact needs

    def flag(self, name: str, tests: Sequence[LabTest], condition: str = "", people: str = "") -> str:
        """A 0/1 column: has a result of `tests` been recorded (on or before the screening date), where
        `condition` holds (`se.d` the result's date, `s.` the person's status row) for people `people`
        (a condition on `s.`)? Recorded means any value, readable or not: the test was done."""
        scan = f"""(SELECT o.patient_id, o.effective_date AS d FROM observations AS o
    WHERE o.value IS NOT NULL AND o.test IN {in_(t.value for t in tests)}
      AND (o.effective_date IS NULL OR o.effective_date <= {day(self.as_of)}))"""
        join = f"\n  JOIN {STATE_TABLE} AS s ON se.patient_id = s.patient_id AND {people}" if people else ""
        where = f"\n  WHERE {condition}" if condition else ""
        self.ctes.append(
            f"""{name} AS (
  SELECT se.patient_id, 1 AS {name}
  FROM {scan} AS se{join}{where}
  GROUP BY se.patient_id
)"""
        )
        self.joins.append(f"LEFT JOIN {name} ON s.patient_id = {name}.patient_id")
        self.columns.append(f"{name}.{name}")
        self.present.append(f"{name}.patient_id IS NOT NULL")
        return f"COALESCE(f.{name}, 0)"

    def table(self, cte: Sequence[str], alias: str, join_on: str, columns: Sequence[str]) -> None:
        """Facts from a CTE chain whose last CTE is `alias`: one row per person (`join_on` picks it)."""
        self.ctes.extend(cte)
        self.joins.append(f"LEFT JOIN {alias} ON s.patient_id = {alias}.patient_id{join_on}")
        self.columns.extend(f"{alias}.{c} AS {alias}_{c}" for c in columns)
        self.present.append(f"{alias}.patient_id IS NOT NULL")

    def sql(self, units: UnitTable) -> str:
        if not self.present:
            return f"SELECT patient_id FROM {STATE_TABLE} WHERE 1 = 0"
        ctes = [unit_cte(units)]
        if self.obs_tests:
            ctes.append(obs_cte(self.rules, self.as_of, self.obs_tests))
        cols = ", ".join(["s.patient_id", *self.columns])
        return (
            "WITH\n"
            + ",\n".join(ctes + self.ctes)
            + f"\nSELECT {cols}\nFROM {STATE_TABLE} AS s\n"
            + "\n".join(self.joins)
            + "\nWHERE "
            + " OR ".join(self.present)
        )


def findings_sql(rules: RuleSet, plan: Plan, as_of: dt.date, units: UnitTable) -> tuple[str, str]:
    """The `facts` statement and the `findings` statement."""
    today = day(as_of)
    direct = [t.value for t, *_ in plan.direct]
    functional = [t.value for t, _ in plan.functional]
    facts = _Facts(rules, as_of)
    selects: list[str] = []
    for i, rule in enumerate(plan.screens):
        grace = rule.grace_days or 0
        where: str
        values: dict[str, str]
        uses_facts = True
        if rule.check == "deficient_untreated":
            due = plus_days("s.dec_d", grace)
            values = {**_dec(), "due": due}
            where = (
                f"s.status = '{Status.DEFICIENT}' AND s.started IS NULL "
                f"AND (s.dec_d IS NULL OR {due} < {today})"
            )
            uses_facts = False
        elif rule.check == "indeterminate_no_followup":
            due = plus_days("s.dec_d", grace)
            followed = facts.flag(
                f"followup{i}", rule.tests, "se.d > s.dec_d", f"s.status = '{Status.INDETERMINATE}'"
            )
            values = {**_dec(), "since": "s.started", "due": due}
            where = (
                f"s.status = '{Status.INDETERMINATE}' AND {followed} = 0 "
                f"AND (s.dec_d IS NULL OR {due} < {today})"
            )
        elif rule.check == "n2o_pattern":
            raised = first([(f"s.{t}_r = 1", t) for t in functional])
            normal = first([(f"s.{t}_s IS NOT NULL", t) for t in direct])
            values = {
                "item": raised,
                "value": pick(raised, functional, "value", "DOUBLE", "s."),
                "unit": pick(raised, functional, "unit", "VARCHAR", "s."),
                "date": pick(raised, functional, "d", "DATE", "s."),
                "data_source": pick(raised, functional, "source", "VARCHAR", "s."),
                "item_2": normal,
                "value_2": pick(normal, direct, "value", "DOUBLE", "s."),
                "unit_2": pick(normal, direct, "unit", "VARCHAR", "s."),
                "date_2": pick(normal, direct, "d", "DATE", "s."),
            }
            any_raised = " OR ".join(f"s.{t}_r = 1" for t in functional) or "1 = 0"
            any_direct = " OR ".join(f"s.{t}_s IS NOT NULL" for t in direct) or "1 = 0"
            none_low = " AND ".join(f"(s.{t}_s IS NULL OR s.{t}_s <> 'D')" for t in direct) or "1 = 1"
            where = f"({any_raised}) AND ({any_direct}) AND {none_low}"
            uses_facts = False
        elif rule.check == "medicine_not_tested":
            assert rule.min_months is not None
            tested = facts.flag(f"tested{i}", rule.tests)
            since, until = f"s.m{i}_start", f"s.m{i}_end"
            due = plus_months(since, rule.min_months)
            values = {"item": q("/".join(rule.medicines)), "date": until, "since": since, "due": due}
            where = f"{since} IS NOT NULL AND {due} < {until} AND {tested} = 0"
        elif rule.check == "retest_on_replacement":
            r = f"r{i}"
            facts.obs_tests.extend(t.value for t in rule.tests if t.value not in facts.obs_tests)
            facts.table(
                [
                    f"""{r} AS (
  SELECT o.patient_id, o.test, o.value, o.unit, o.d, o.source,
    ROW_NUMBER() OVER (PARTITION BY o.patient_id ORDER BY o.d DESC, o.observation_id DESC) AS rn
  FROM obs AS o
  JOIN {STATE_TABLE} AS s ON o.patient_id = s.patient_id
  WHERE o.test IN {in_(t.value for t in rule.tests)} AND s.started IS NOT NULL
    AND o.d > {plus_days("s.started", grace)}
)"""
                ],
                r,
                f" AND {r}.rn = 1",
                ["test", "value", "unit", "d", "source"],
            )
            values = {
                "item": f"f.{r}_test",
                "value": f"f.{r}_value",
                "unit": f"f.{r}_unit",
                "date": f"f.{r}_d",
                "since": "s.started",
                "data_source": f"f.{r}_source",
            }
            where = f"f.{r}_test IS NOT NULL"
        elif rule.check == "injection_overdue":
            od = f"od{i}"
            facts.table(
                _overdue_ctes(od, as_of), od, "", ["since", "source", "last_given", "interval_days", "due"]
            )
            due = f"f.{od}_due"
            values = {
                "item": q(B12_CLASS),
                "value": f"f.{od}_interval_days",
                "unit": "'d'",
                "date": f"f.{od}_last_given",
                "since": f"f.{od}_since",
                "due": due,
                "data_source": f"f.{od}_source",
            }
            where = f"{due} IS NOT NULL AND {plus_days(due, grace)} < {today}"
        elif rule.check == "no_blood_count":
            assert rule.within_days is not None
            window_end = plus_days("s.started", rule.within_days)
            counted = facts.flag(
                f"count{i}",
                rule.tests,
                f"se.d >= s.started AND se.d <= {window_end}",
                "s.started IS NOT NULL",
            )
            values = {
                "item": q("/".join(t.value for t in rule.tests)),
                "since": "s.started",
                "due": window_end,
            }
            where = f"s.started IS NOT NULL AND {window_end} < {today} AND {counted} = 0"
        elif rule.check == "folic_acid_first":
            start = f"s.f{i}_start"
            values = {
                **_dec(),
                "item_2": q("/".join(rule.medicines)),
                "date_2": start,
                "since": start,
            }
            where = (
                f"s.status = '{Status.DEFICIENT}' AND {start} IS NOT NULL "
                f"AND (s.dec_d IS NULL OR s.dec_d <= {start}) AND (s.started IS NULL OR s.started > {start})"
            )
            uses_facts = False
        else:  # pragma: no cover - the rule model's Literal lists every check
            raise DataError(f"rule {rule.id}: unknown screening check {rule.check!r}")
        source = f"FROM {STATE_TABLE} AS s"
        if uses_facts:
            source += f" LEFT JOIN {FACTS_TABLE} AS f ON s.patient_id = f.patient_id"
        values = {"patient_id": "s.patient_id", **values}
        selects.append(f"SELECT {_row(rules, rule, **values)}\n{source}\nWHERE {where}")
    if not selects:
        selects.append(f"SELECT {', '.join(f'{null(_TYPES[c])} AS {c}' for c in _COLUMNS)} WHERE 1 = 0")
    return facts.sql(units), "\nUNION ALL\n".join(selects)


def _overdue_ctes(alias: str, as_of: dt.date) -> list[str]:
    """The next B12 injection under the current prescription: its phase by the doses given since it began."""
    today = day(as_of)
    b12 = q(B12_CLASS)
    return [
        f"""req_{alias} AS (
  SELECT m.patient_id, m.medication_id, m.start_date, m.end_date, m.status, m.source,
    ROW_NUMBER() OVER (PARTITION BY m.patient_id ORDER BY m.start_date DESC, m.medication_id DESC) AS rn
  FROM medications AS m
  WHERE m.med_class = {b12} AND m.resource_type = 'MedicationRequest' AND m.route = 'injection'
    AND m.start_date IS NOT NULL AND m.start_date <= {today}
)""",
        f"""current_{alias} AS (
  SELECT patient_id, medication_id, start_date, source FROM req_{alias}
  WHERE rn = 1 AND (status IS NULL OR status = 'active') AND (end_date IS NULL OR end_date >= {today})
)""",
        f"""given_{alias} AS (
  SELECT c.patient_id, COUNT(a.medication_id) AS n, MAX(a.start_date) AS last_given
  FROM current_{alias} AS c
  LEFT JOIN medications AS a ON a.patient_id = c.patient_id AND a.med_class = {b12}
    AND a.resource_type = 'MedicationAdministration'
    AND a.start_date >= c.start_date AND a.start_date <= {today}
  GROUP BY c.patient_id
)""",
        f"""phase_{alias} AS (
  SELECT d.patient_id, d.sequence, d.interval_days,
    SUM(COALESCE(d.dose_count, 1000000000)) OVER (
      PARTITION BY d.patient_id ORDER BY d.sequence ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS upto
  FROM dosages AS d
  JOIN current_{alias} AS c ON d.patient_id = c.patient_id AND d.medication_id = c.medication_id
  WHERE d.interval_days IS NOT NULL AND d.interval_days > 0
)""",
        f"""now_{alias} AS (
  SELECT p.patient_id, p.interval_days,
    ROW_NUMBER() OVER (PARTITION BY p.patient_id ORDER BY p.sequence) AS rn
  FROM phase_{alias} AS p
  JOIN given_{alias} AS g ON p.patient_id = g.patient_id
  WHERE p.upto > g.n
)""",
        f"""{alias} AS (
  SELECT c.patient_id, c.start_date AS since, c.source, g.last_given, n.interval_days,
    CASE WHEN g.last_given IS NULL THEN c.start_date
      ELSE g.last_given + CAST(CEIL(n.interval_days) AS INTEGER) END AS due
  FROM current_{alias} AS c
  JOIN given_{alias} AS g ON c.patient_id = g.patient_id
  JOIN now_{alias} AS n ON c.patient_id = n.patient_id AND n.rn = 1
)""",
    ]
