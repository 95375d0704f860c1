"""Lab units: the one place where b12plan reads, checks and converts the unit of a lab result.

Values are floats in and floats out; pint does the arithmetic underneath. Every number below is from
REFERENCE.md section 1 (Units), https://labtests.co.in/unit-converter/vitamin-b12-cobalamin-cyanocobalamin :

- total B12: ng/L = pg/mL; 1 pmol/L = 1.35537 ng/L (cyanocobalamin, 1355.37 g/mol), so NICE's pairs
  180 ng/L = 133 pmol/L and 350 ng/L = 258 pmol/L hold to the nearest whole number.
- active B12 (holoTC): pmol/L only. MMA and homocysteine: umol/L or nmol/L (0.28 umol/L = 280 nmol/L).
- Hb: g/L or g/dL. MCV: fL (= um3). Folate: ug/L = ng/mL, or nmol/L (1 ug/L = 2.266 nmol/L, folic acid
  441.4 g/mol). Potassium: mmol/L (mEq/L is the same for the monovalent K+ ion).
- reticulocytes: % of red cells or an absolute count in 10*9/L; two measurements, never converted.
- INR is a ratio (no unit); IFAB is qualitative (positive or negative).

User text never reaches pint's parser: spellings are looked up in a fixed table (pint reads the UCUM code
`10*9/L` as 90 per litre), so an unknown string can only ever raise `UnitProblem`. `G/L` is refused as
ambiguous: all-capitals for g/L, but giga (10*9) per litre for a cell count in French-speaking labs.

Doses and dosing periods are read here too (`dose_micrograms`, `period_unit_days`): SI prefixes and calendar
arithmetic, not clinical content. A calendar month is 28 to 31 days and a year 365 to 366, so "every 3
months" is the span 84-93 days, never one number.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from b12plan.domain.codes import LabTest

if TYPE_CHECKING:
    import pint

__all__ = [
    "CYANOCOBALAMIN_G_PER_MOL",
    "FOLIC_ACID_G_PER_MOL",
    "UnitProblem",
    "accepted_units",
    "check_unit",
    "convert",
    "default_unit",
    "dose_micrograms",
    "format_quantity",
    "normalise_unit",
    "period_unit_days",
    "same_dimension",
]

CYANOCOBALAMIN_G_PER_MOL = 1355.37
"""Molar mass linking total B12 in ng/L and pmol/L (REFERENCE.md section 1)."""

FOLIC_ACID_G_PER_MOL = 441.4
"""Molar mass linking folate in ug/L and nmol/L: 1 ug/L = 2.266 nmol/L (REFERENCE.md section 1)."""


class UnitProblem(ValueError):
    """A unit that cannot be used for a test. The message is plain; the caller adds the field path."""


# Canonical spelling -> (magnitude, pint expression). Only these fixed strings are ever parsed by pint.
_PINT: dict[str, tuple[float, str]] = {
    "ng/L": (1.0, "ng/L"),
    "pg/mL": (1.0, "pg/mL"),
    "pmol/L": (1.0, "pmol/L"),
    "umol/L": (1.0, "umol/L"),
    "nmol/L": (1.0, "nmol/L"),
    "mmol/L": (1.0, "mmol/L"),
    "mEq/L": (1.0, "mmol/L"),  # one equivalent per mole for a monovalent ion (potassium)
    "g/L": (1.0, "g/L"),
    "g/dL": (1.0, "g/dL"),
    "ug/L": (1.0, "ug/L"),
    "ng/mL": (1.0, "ng/mL"),
    "fL": (1.0, "fL"),
    "%": (1.0, "percent"),
    "10*9/L": (1e9, "1/L"),
    "1": (1.0, "dimensionless"),
}

# Lower-case compact spelling -> canonical spelling. Case-insensitive except for `_AMBIGUOUS`.
_ALIASES: dict[str, str] = {
    **{canonical.lower(): canonical for canonical in _PINT},
    "mcmol/l": "umol/L",
    "mcg/l": "ug/L",
    "um3": "fL",
    "um^3": "fL",
    "10^9/l": "10*9/L",
    "x10^9/l": "10*9/L",
    "x10*9/l": "10*9/L",
    "10e9/l": "10*9/L",
    "x10e9/l": "10*9/L",
    "": "1",
    "{inr}": "1",
    "ratio": "1",
    "{ratio}": "1",
}

# Grams per litre in all-capitals reports, giga (10*9) cells per litre in French-speaking labs.
_AMBIGUOUS = frozenset({"G/L", "G/l"})

# Micro signs (U+00B5, U+03BC), the multiplication sign and superscripts as labs print them.
_TRANSLATE = str.maketrans({"µ": "u", "μ": "u", "×": "x", "⁹": "^9", "³": "^3"})

_DISPLAY: dict[str, str] = {"10*9/L": "x10^9/L", "1": ""}


# Mass units a dose may be written in (lower-case, micro signs as `u`) -> pint unit.
_DOSE_MASS: dict[str, str] = {
    "ug": "microgram",
    "mcg": "microgram",
    "microgram": "microgram",
    "micrograms": "microgram",
    "mg": "milligram",
    "milligram": "milligram",
    "milligrams": "milligram",
    "g": "gram",
}

# UCUM units of time (FHIR Timing.repeat.periodUnit) -> pint unit, or the (shortest, longest) days of a
# calendar month or year, which have no one length.
_PERIOD: dict[str, str | tuple[float, float]] = {
    "s": "second",
    "min": "minute",
    "h": "hour",
    "d": "day",
    "wk": "week",
    "mo": (28.0, 31.0),
    "a": (365.0, 366.0),
}


@dataclass(frozen=True)
class _TestUnits:
    """The units of one test: units in one group convert into each other, groups never do."""

    groups: tuple[tuple[str, ...], ...]
    default: str | None
    molar_mass_g_per_mol: float | None = None
    advice: str | None = None  # replaces "use A, B or C" where a list says it badly


_TESTS: dict[LabTest, _TestUnits] = {
    LabTest.B12_TOTAL: _TestUnits((("ng/L", "pg/mL", "pmol/L"),), "ng/L", CYANOCOBALAMIN_G_PER_MOL),
    LabTest.HOLOTC: _TestUnits((("pmol/L",),), "pmol/L"),
    LabTest.MMA: _TestUnits((("umol/L", "nmol/L"),), "umol/L"),
    LabTest.HOMOCYSTEINE: _TestUnits((("umol/L", "nmol/L"),), "umol/L"),
    LabTest.HB: _TestUnits((("g/L", "g/dL"),), "g/L"),
    LabTest.MCV: _TestUnits((("fL",),), "fL"),
    LabTest.FOLATE: _TestUnits((("ug/L", "ng/mL", "nmol/L"),), "ug/L", FOLIC_ACID_G_PER_MOL),
    LabTest.POTASSIUM: _TestUnits((("mmol/L", "mEq/L"),), "mmol/L"),
    LabTest.RETICULOCYTES: _TestUnits((("%",), ("10*9/L",)), "%"),
    LabTest.INR: _TestUnits((("1",),), None, advice="use 1 or leave the unit out (INR is a ratio)"),
    LabTest.IFAB: _TestUnits((), None, advice="it is qualitative (positive or negative) and takes no unit"),
}


@functools.cache
def _registry() -> pint.UnitRegistry[float]:
    """The one pint registry, built on first use (about 0.3 s with pint's import), never at import."""
    import pint

    return pint.UnitRegistry()


@functools.cache
def _factors() -> dict[tuple[LabTest, str], float]:
    """For each test and unit: the value, in the first unit of its group, of 1 of that unit."""
    ureg = _registry()
    factors: dict[tuple[LabTest, str], float] = {}
    for test, spec in _TESTS.items():
        for group in spec.groups:
            base = ureg.Quantity(*_PINT[group[0]])
            for unit in group:
                quantity = ureg.Quantity(*_PINT[unit])
                if spec.molar_mass_g_per_mol is None:
                    converted = quantity.to(base.units)
                else:  # mass <-> amount concentration through pint's chemistry context
                    mw = ureg.Quantity(spec.molar_mass_g_per_mol, "g/mol")
                    converted = quantity.to(base.units, "chemistry", mw=mw)
                factors[test, unit] = float(converted.magnitude) / float(base.magnitude)
    return factors


def _quote(text: str) -> str:
    shown = text.strip()
    return repr(shown if len(shown) <= 40 else shown[:40] + "…")


def _or_join(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


@functools.cache
def _advice(test: LabTest) -> str:
    spec = _TESTS[test]
    return spec.advice or "use " + _or_join(accepted_units(test))


def _lookup(text: str, advice: str = "write g/L or 10*9/L") -> str | None:
    """The canonical spelling of `text`, None if unknown; raises `UnitProblem` if ambiguous."""
    compact = "".join(text.split())
    if compact in _AMBIGUOUS:
        raise UnitProblem(f"{_quote(text)} is ambiguous (grams, or 10*9 cells, per litre); {advice}")
    return _ALIASES.get(compact.lower().translate(_TRANSLATE))  # lower() first: capital mu becomes mu


def normalise_unit(text: str) -> str:
    """The canonical spelling of a unit: `'pmol/l'` -> `'pmol/L'`, `'µmol/L'` -> `'umol/L'`.

    Accepts UCUM codes and common lab spellings, with either micro sign, any case where the case carries
    no meaning and any whitespace. No unit (`''`, `'{INR}'`, `'ratio'`) is UCUM's unity `'1'`.
    Raises `UnitProblem` for text that is not a unit b12plan reads, or that is ambiguous (`G/L`).
    """
    canonical = _lookup(text)
    if canonical is None:
        raise UnitProblem(f"{_quote(text)} is not a unit b12plan reads")
    return canonical


@functools.cache  # asked for every unit checked: the table is fixed, the answer too
def accepted_units(test: LabTest) -> tuple[str, ...]:
    """The canonical spellings accepted for a test, preferred first (for messages and JSON Schema)."""
    return tuple(unit for group in _TESTS[test].groups for unit in group)


def default_unit(test: LabTest) -> str | None:
    """The unit b12plan displays a test in (None for INR and IFAB, which have no unit)."""
    return _TESTS[test].default


def check_unit(test: LabTest, unit: str | None) -> str | None:
    """The canonical spelling of `unit` for `test`, or None for IFAB without a unit.

    Raises `UnitProblem` naming the test and its accepted units, e.g.
    `'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L`. A missing unit is refused for every
    numeric test except INR: a B12 value without a unit is never guessed (REFERENCE.md section 1).
    """
    if unit is None or not unit.strip():
        if test is LabTest.IFAB:
            return None
        if test is LabTest.INR:
            return "1"
        raise UnitProblem(f"a unit is needed for {test}; {_advice(test)}")
    canonical = _lookup(unit, _advice(test))
    if canonical is None or canonical not in accepted_units(test):
        raise UnitProblem(f"{_quote(unit)} is not a unit for {test}; {_advice(test)}")
    return canonical


def _measured(test: LabTest, unit: str | None) -> tuple[str, int]:
    """The canonical spelling of `unit` for `test` and the index of its group of convertible units."""
    canonical = check_unit(test, unit)
    for index, group in enumerate(_TESTS[test].groups):
        if canonical is not None and canonical in group:
            return canonical, index
    raise UnitProblem(f"{test} is qualitative (positive or negative): it has no value in a unit")


def same_dimension(test: LabTest, unit_a: str | None, unit_b: str | None) -> bool:
    """Whether a value of `test` in `unit_a` converts to `unit_b` (for B12 and folate, mass and amount
    concentrations convert through the molar mass). False only for reticulocyte % against 10*9/L.

    Raises `UnitProblem` when either unit is not accepted for the test, or for IFAB.
    """
    return _measured(test, unit_a)[1] == _measured(test, unit_b)[1]


def convert(test: LabTest, value: float, unit: str | None, to: str | None) -> float:
    """`value` of `test` in `unit`, expressed in `to`: `convert(B12_TOTAL, 200, 'pg/mL', 'pmol/L')`
    is 147.56. Total B12 and folate convert between mass and amount by molar mass (module docstring).

    Raises `UnitProblem` when a unit is not accepted for the test, when the two units measure different
    things (reticulocyte % and 10*9/L), and for IFAB, which is qualitative.
    """
    (source, source_group), (target, target_group) = _measured(test, unit), _measured(test, to)
    if source_group != target_group:
        raise UnitProblem(
            f"{test} in {source} cannot be converted to {target}: they measure different things"
        )
    if source == target:
        return float(value)
    factors = _factors()
    converted = float(value) * (factors[test, source] / factors[test, target])
    # Float arithmetic leaves 180 pg/mL as 179.99999999999997 ng/L, below a threshold it is exactly on:
    # 12 significant figures is far more than any lab reports and makes units equal by definition exact.
    return float(f"{converted:.12g}")


def format_quantity(value: float, unit: str | None) -> str:
    """A value and unit for people: three significant figures, whole numbers kept whole, trailing zeros
    dropped (`203 ng/L`, `0.28 umol/L`, `10.5 g/dL`, `1.1` for an INR, `65 x10^9/L`).

    Rounding is for display only: compare thresholds on the unrounded value (179.6 ng/L shows as 180).
    """
    if value == 0 or not math.isfinite(value):
        number = "0" if value == 0 else str(value)
    else:
        decimals = max(0, 2 - math.floor(math.log10(abs(value))))
        number = f"{value:.{decimals}f}"
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        if number == "-0":
            number = "0"
    canonical = "1" if unit is None else normalise_unit(unit)
    shown = _DISPLAY.get(canonical, canonical)
    if not shown:
        return number
    return f"{number}{shown}" if shown == "%" else f"{number} {shown}"


@functools.cache
def _micrograms_per() -> dict[str, float]:
    ureg = _registry()
    return {
        unit: float(ureg.Quantity(1, name).to("microgram").magnitude) for unit, name in _DOSE_MASS.items()
    }


@functools.cache
def _days_per() -> dict[str, tuple[float, float]]:
    ureg = _registry()
    days: dict[str, tuple[float, float]] = {}
    for unit, length in _PERIOD.items():
        if isinstance(length, str):  # 1 / (units in a day): 1 min is exactly 1/1440 day
            day = 1 / float(ureg.Quantity(1, "day").to(length).magnitude)
            length = (day, day)
        days[unit] = length
    return days


def dose_micrograms(value: float, unit: str) -> float:
    """A dose of `value` in `unit`, in micrograms: `dose_micrograms(1, 'mg')` is 1000.0.

    `unit` is a mass as prescriptions write it: `ug`, `mcg`, `µg`, `mg`, `g` or spelt out (`milligrams`),
    in any case. Raises `UnitProblem` for anything else, a volume (`mL`) among them: the strength of the
    product is needed to turn a volume into a dose.
    """
    factor = _micrograms_per().get(unit.strip().lower().translate(_TRANSLATE))
    if factor is None:
        raise UnitProblem(f"{_quote(unit)} is not a mass (micrograms or mg)")
    return float(value) * factor


def period_unit_days(unit: str) -> tuple[float, float]:
    """The (shortest, longest) number of days in one `unit` of time, a UCUM code as FHIR's
    Timing.repeat.periodUnit writes it (`s`, `min`, `h`, `d`, `wk`, `mo`, `a`): `wk` is (7.0, 7.0), `mo`
    (28.0, 31.0), as a calendar month is 28 to 31 days, and `a` (365.0, 366.0).

    Raises `UnitProblem` for any other unit (UCUM's codes are case-sensitive: `MO` is not a month).
    """
    span = _days_per().get(unit)
    if span is None:
        raise UnitProblem(f"{_quote(unit)} is not a unit of time")
    return span
