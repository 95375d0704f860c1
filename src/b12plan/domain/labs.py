"""Lab results checked and made comparable: units validated, entry errors refused, latest value per test.

`read_labs` turns the case's `labs[]` into `Lab` values or refuses the case with every problem named by its
field (`labs[0] (b12_total).unit: ...`). Plausibility limits come from the rule set (`dx.plausible`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from b12plan.domain import units
from b12plan.domain.case import Case, LabInput
from b12plan.domain.codes import LabTest
from b12plan.domain.rules import LogicRule, PlausibleRule, RuleSet
from b12plan.errors import CaseError, FieldProblem

__all__ = ["Lab", "latest", "read_labs"]

_QUALITATIVE = {LabTest.IFAB}
_UNITLESS = {LabTest.INR, LabTest.IFAB}


@dataclass(frozen=True)
class Lab:
    """One checked lab result. `value` is in `unit` as reported; use `in_unit` to compare with a rule."""

    index: int
    test: LabTest
    value: float | None
    qualitative: str | None
    unit: str | None
    date: dt.date | None
    upper_limit: float | None
    lower_limit: float | None

    def field(self, name: str) -> str:
        return f"labs[{self.index}] ({self.test.value}).{name}"

    def in_unit(self, unit: str | None) -> float:
        assert self.value is not None
        return _convert(self.test, self.value, self.unit, unit)

    def limit_in(self, which: str, unit: str | None) -> float | None:
        limit = self.upper_limit if which == "upper" else self.lower_limit
        return None if limit is None else _convert(self.test, limit, self.unit, unit)

    @property
    def reported(self) -> str:
        if self.qualitative is not None:
            return self.qualitative
        assert self.value is not None
        return units.format_quantity(self.value, self.unit)


def _convert(test: LabTest, value: float, unit: str | None, to: str | None) -> float:
    if test in _UNITLESS:
        return value
    return units.convert(test, value, unit, to)


def _check_one(i: int, raw: LabInput, rules: RuleSet) -> tuple[Lab | None, list[FieldProblem]]:
    test = raw.test
    where = f"labs[{i}] ({test.value})"
    problems: list[FieldProblem] = []
    if isinstance(raw.value, str):
        if test not in _QUALITATIVE:
            return None, [FieldProblem(f"{where}.value", f"{raw.value!r} is only for ifab; give a number")]
        return Lab(i, test, None, raw.value, None, raw.date, None, None), []
    if test in _QUALITATIVE:
        return None, [FieldProblem(f"{where}.value", "ifab is reported as positive or negative")]
    unit: str | None = None
    if raw.unit is None and test not in _UNITLESS:
        no_guess = rules.find_logic("dx.no_unit_guess")
        why = " (b12plan never guesses a unit)" if no_guess else ""
        advice = units.accepted_units(test)
        return None, [
            FieldProblem(f"{where}.unit", f"is required for {test.value}{why}; use {', '.join(advice)}")
        ]
    try:
        unit = None if test in _UNITLESS else units.check_unit(test, raw.unit)
    except units.UnitProblem as exc:
        return None, [FieldProblem(f"{where}.unit", str(exc))]
    for name, limit in (("upper_limit", raw.upper_limit), ("lower_limit", raw.lower_limit)):
        if limit is not None and limit <= 0:
            problems.append(FieldProblem(f"{where}.{name}", f"{limit:g} must be above zero"))
    lab = Lab(i, test, float(raw.value), None, unit, raw.date, raw.upper_limit, raw.lower_limit)
    for limits in rules.of(PlausibleRule):
        if limits.test is not test or not units.same_dimension(test, unit, _rule_unit(test, limits.unit)):
            continue
        v = lab.in_unit(_rule_unit(test, limits.unit))
        if not limits.min < v <= limits.max:
            problems.append(
                FieldProblem(
                    f"{where}.value",
                    f"{lab.reported} is not a plausible {test.value} (must be above {limits.min:g} and at "
                    f"most {limits.max:g} {limits.unit}); check the entry [{limits.id}]",
                )
            )
    return (lab if not problems else None), problems


def _rule_unit(test: LabTest, unit: str) -> str | None:
    return None if test in _UNITLESS else unit


def read_labs(case: Case, rules: RuleSet) -> list[Lab]:
    """Check every lab of the case; refuse the case naming every bad field."""
    labs: list[Lab] = []
    problems: list[FieldProblem] = []
    for i, raw in enumerate(case.labs):
        lab, found = _check_one(i, raw, rules)
        problems.extend(found)
        if lab is not None:
            labs.append(lab)
    if not problems:
        problems.extend(_active_above_total(labs, rules))
    if problems:
        raise CaseError(problems)
    return labs


def _active_above_total(labs: Sequence[Lab], rules: RuleSet) -> Iterable[FieldProblem]:
    """Active B12 above total B12 (same day, both in pmol/L) is implausible: refuse."""
    rule: LogicRule | None = rules.find_logic("dx.holotc_fraction")
    if rule is None:
        return
    totals = [lab for lab in labs if lab.test is LabTest.B12_TOTAL]
    for active in (lab for lab in labs if lab.test is LabTest.HOLOTC):
        for total in totals:
            if active.date == total.date and active.in_unit("pmol/L") > total.in_unit("pmol/L"):
                yield FieldProblem(
                    active.field("value"),
                    f"active B12 {active.reported} is above total B12 {total.reported} "
                    f"(labs[{total.index}]), which is not plausible; check both entries [{rule.id}]",
                )


def latest(labs: Iterable[Lab], test: LabTest) -> Lab | None:
    """The most recent result of one test; undated results count as older than dated ones."""
    best: Lab | None = None
    for lab in labs:
        if lab.test is not test:
            continue
        if best is None or (lab.date or dt.date.min) >= (best.date or dt.date.min):
            best = lab
    return best
