"""The unit table of a screening run: each rule number the query compares with, per unit spelling in the data.

The screening query never converts a result. Before it runs, the engine lists the distinct (test, unit)
spellings in the data (a few dozen). Each goes through `units.check_unit`, as the planning core reads one
lab, and each number of the rule set the test is compared with (`dx.threshold`, the default upper limit of
`dx.functional`, `dx.plausible`) is turned into a cut-off in that unit, using `units.convert` itself:

    the core asks   convert(value, unit, rule unit) < 180 ng/L
    the query asks  value < cut-off,  cut-off = the smallest number whose conversion is not below 180

`convert` is monotone, so the two questions have the same answer for every value, on the boundary too
(the core rounds a conversion to 12 significant figures; a multiplication in SQL would not). The cut-off is
found by bisection over the doubles. A lab's own upper limit is compared in the unit the lab reported it in.

A spelling the core refuses (missing unit, unknown unit, a unit of another test) gets no row, and its
results are listed in the run's `rejected` table with the core's own message.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from b12plan.domain import units
from b12plan.domain.codes import LabTest
from b12plan.domain.rules import FunctionalRule, PlausibleRule, RuleSet, ScreenRule, ThresholdRule
from b12plan.errors import DataError

__all__ = [
    "FRACTION_TESTS",
    "FRACTION_UNIT",
    "MARKERS",
    "BadUnit",
    "UnitRow",
    "UnitTable",
    "build_unit_table",
    "cutoff",
    "screened_tests",
]

MARKERS: tuple[LabTest, ...] = (LabTest.B12_TOTAL, LabTest.HOLOTC, LabTest.MMA, LabTest.HOMOCYSTEINE)
"""The B12 markers: those taken on or after the start of replacement are not read (as in the core)."""

# The active-above-total check (`labs._active_above_total`, rule dx.holotc_fraction) compares in pmol/L.
FRACTION_UNIT = "pmol/L"
FRACTION_TESTS = (LabTest.HOLOTC, LabTest.B12_TOTAL)
_NO_UNIT_TESTS = frozenset({LabTest.INR, LabTest.IFAB})
_TEST_CODES = frozenset(t.value for t in LabTest)


@dataclass(frozen=True)
class UnitRow:
    """A usable spelling of a unit for one test, with the rule set's numbers as cut-offs in that unit.

    deficient: value < `low`; unlikely: value >= `high`; raised against the default upper limit:
    value >= `raised`; plausible: `pmin` <= value < `pmax`. NULL (None) where the rule set has no number.
    """

    test: LabTest
    key: str  # the spelling as stored ('' for none)
    unit: str  # canonical spelling
    low: float | None = None
    high: float | None = None
    raised: float | None = None
    pmin: float | None = None
    pmax: float | None = None
    prule: str | None = None  # id of the plausibility rule
    afactor: float | None = None  # value x afactor = pmol/L, for the active-above-total check


@dataclass(frozen=True)
class BadUnit:
    """A spelling the core refuses for this test, with the core's message."""

    test: LabTest
    key: str
    problem: str
    rule_id: str | None


@dataclass(frozen=True)
class UnitTable:
    rows: tuple[UnitRow, ...]
    bad: tuple[BadUnit, ...]


def screened_tests(rules: RuleSet) -> tuple[LabTest, ...]:
    """The tests a screening run reads values of: the B12 markers and every test a screening rule names."""
    tests = list(MARKERS)
    for rule in rules.of(ScreenRule):
        tests.extend(t for t in rule.tests if t not in tests)
    return tuple(t for t in tests if t not in _NO_UNIT_TESTS)


def _ordered(x: float) -> int:
    """Doubles as integers in the same order (so bisection can walk them)."""
    bits: int = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _double(i: int) -> float:
    bits = i if i >= 0 else (-i) | -0x8000_0000_0000_0000
    value: float = struct.unpack("<d", struct.pack("<q", bits))[0]
    return value


def cutoff(holds: Callable[[float], bool]) -> float:
    """The smallest double for which a monotone test holds (it fails below, holds from there up).

    Raises DataError when it holds nowhere among the finite doubles (a rule number out of range).
    """
    low, high = _ordered(-sys.float_info.max), _ordered(sys.float_info.max)
    if not holds(_double(high)):
        raise DataError("a screening cut-off lies beyond the largest number")
    while low < high:
        middle = (low + high) // 2
        if holds(_double(middle)):
            high = middle
        else:
            low = middle + 1
    return _double(low)


def _rule_numbers(rules: RuleSet, test: LabTest) -> tuple[ThresholdRule | None, FunctionalRule | None]:
    threshold = rules.threshold(test)
    functional = None
    for rule in rules.of(FunctionalRule):
        if rule.test is test:
            functional = rule  # the last rule for a test wins, as in the core's reading
    return threshold, functional


def _plausible(rules: RuleSet, test: LabTest) -> PlausibleRule | None:
    found = [r for r in rules.of(PlausibleRule) if r.test is test]
    if len(found) > 1:
        raise DataError(f"rule set {rules.id}: screening reads one dx.plausible rule per test ({test})")
    return found[0] if found else None


def _row(rules: RuleSet, test: LabTest, key: str, canonical: str) -> UnitRow:
    def at_least(number: float, unit: str) -> float:
        """Smallest value (in `canonical`) whose conversion to `unit` is >= `number`."""
        return cutoff(lambda v: units.convert(test, v, canonical, unit) >= number)

    def above(number: float, unit: str) -> float:
        """Smallest value (in `canonical`) whose conversion to `unit` is > `number`."""
        return cutoff(lambda v: units.convert(test, v, canonical, unit) > number)

    threshold, functional = _rule_numbers(rules, test)
    row = UnitRow(test, key, canonical)
    if threshold is not None:  # deficient: conv < T <=> value < low; unlikely: conv > T <=> value >= high
        row = replace(
            row,
            low=at_least(threshold.deficient_below, threshold.unit),
            high=above(threshold.unlikely_above, threshold.unit),
        )
    if functional is not None and functional.default_upper_limit is not None:
        row = replace(row, raised=above(functional.default_upper_limit, functional.unit))
    plausible = _plausible(rules, test)
    if plausible is not None and units.same_dimension(test, canonical, plausible.unit):
        # plausible: min < conv <= max  <=>  above(min) <= value < above(max)
        row = replace(
            row,
            pmin=above(plausible.min, plausible.unit),
            pmax=above(plausible.max, plausible.unit),
            prule=plausible.id,
        )
    if test in FRACTION_TESTS:
        row = replace(row, afactor=units.convert(test, 1.0, canonical, FRACTION_UNIT))
    return row


def build_unit_table(rules: RuleSet, pairs: Iterable[tuple[str, str | None]]) -> UnitTable:
    """The unit table for the (test, unit) spellings found in the data. Tests not screened are skipped."""
    screened = set(screened_tests(rules))
    no_guess = rules.find_logic("dx.no_unit_guess")
    rows: list[UnitRow] = []
    bad: list[BadUnit] = []
    for raw_test, raw_unit in sorted(set(pairs), key=lambda p: (p[0], p[1] or "")):
        if raw_test not in _TEST_CODES or LabTest(raw_test) not in screened:
            continue
        test, key = LabTest(raw_test), raw_unit or ""
        try:
            canonical = units.check_unit(test, raw_unit)
        except units.UnitProblem as exc:
            missing = not key.strip()
            bad.append(BadUnit(test, key, str(exc), no_guess.id if missing and no_guess else None))
            continue
        assert canonical is not None
        rows.append(_row(rules, test, key, canonical))
    return UnitTable(tuple(rows), tuple(bad))
