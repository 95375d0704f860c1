"""Spec tests for lab units (REFERENCE.md section 1, Units): each row reads as a rule."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from b12plan.domain import units
from b12plan.domain.codes import LabTest
from b12plan.domain.units import (
    UnitProblem,
    accepted_units,
    check_unit,
    convert,
    default_unit,
    format_quantity,
    normalise_unit,
    same_dimension,
)

B12 = LabTest.B12_TOTAL


# --- conversions: value in one unit, expected value in another, rounded as the source states it ---------


@pytest.mark.parametrize(
    ("test", "value", "unit", "to", "expected", "digits"),
    [
        # NICE NG239 pairs (180 ng/L = 133 pmol/L, 350 ng/L = 258 pmol/L), both ways, to the whole number
        (B12, 180, "ng/L", "pmol/L", 133, 0),
        (B12, 350, "ng/L", "pmol/L", 258, 0),
        (B12, 133, "pmol/L", "ng/L", 180, 0),
        (B12, 258, "pmol/L", "ng/L", 350, 0),
        # 1 pg/mL = 0.738 pmol/L; 1 pmol/L = 1.355 pg/mL (cyanocobalamin 1355.37 g/mol)
        (B12, 200, "pg/mL", "pmol/L", 147.56, 2),
        (B12, 150, "pmol/L", "ng/L", 203, 0),
        (B12, 1, "pmol/L", "pg/mL", 1.35537, 5),
        (B12, 1, "pg/mL", "pmol/L", 0.738, 3),
        (B12, 203, "ng/L", "pg/mL", 203, 9),
        # MMA and homocysteine: 0.28 umol/L = 280 nmol/L
        (LabTest.MMA, 0.28, "umol/L", "nmol/L", 280, 9),
        (LabTest.MMA, 378, "nmol/L", "umol/L", 0.378, 9),
        (LabTest.HOMOCYSTEINE, 20, "umol/L", "nmol/L", 20_000, 9),
        # Hb: g/dL x 10 = g/L
        (LabTest.HB, 10.5, "g/dL", "g/L", 105, 9),
        (LabTest.HB, 80, "g/L", "g/dL", 8, 9),
        # MCV: 1 fL = 1 um3
        (LabTest.MCV, 98, "um3", "fL", 98, 9),
        # folate: ug/L = ng/mL; 1 ug/L = 2.266 nmol/L (folic acid 441.4 g/mol)
        (LabTest.FOLATE, 1, "ug/L", "nmol/L", 2.266, 3),
        (LabTest.FOLATE, 3, "ng/mL", "nmol/L", 6.80, 2),
        (LabTest.FOLATE, 10, "nmol/L", "ug/L", 4.41, 2),
        (LabTest.FOLATE, 4.4, "ug/L", "ng/mL", 4.4, 9),
        # potassium: mEq/L = mmol/L for K+
        (LabTest.POTASSIUM, 3.4, "mEq/L", "mmol/L", 3.4, 9),
        # same unit: the value comes back untouched
        (LabTest.HOLOTC, 37, "pmol/L", "pmol/L", 37, 9),
        (LabTest.RETICULOCYTES, 1.5, "%", "%", 1.5, 9),
        (LabTest.RETICULOCYTES, 65, "x10^9/L", "10*9/L", 65, 9),
        # INR is a ratio: no unit, 1, {INR} and ratio are all the same
        (LabTest.INR, 1.1, None, None, 1.1, 9),
        (LabTest.INR, 1.1, "", "1", 1.1, 9),
        (LabTest.INR, 2.5, "{INR}", "ratio", 2.5, 9),
    ],
)
def test_convert(test: LabTest, value: float, unit: str | None, to: str | None, expected: float, digits: int):
    assert round(convert(test, value, unit, to), digits) == pytest.approx(expected, rel=1e-12)


def test_convert_takes_any_accepted_spelling():
    assert convert(B12, 200, " PG / ML ", "pmol/l") == convert(B12, 200, "pg/mL", "pmol/L")
    assert convert(LabTest.MMA, 0.28, "µmol/L", "nmol/L") == pytest.approx(280)
    assert convert(LabTest.MMA, 0.28, "μmol/L", "nmol/L") == pytest.approx(280)
    assert convert(LabTest.MMA, 0.28, "mcmol/L", "nmol/L") == pytest.approx(280)


# --- refusals: the message names the test and the units it takes ----------------------------------------


@pytest.mark.parametrize(
    ("test", "unit", "message"),
    [
        (B12, "mg", "'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, "mmol/L", "'mmol/L' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, "ng/mL", "'ng/mL' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, "{INR}", "'{INR}' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, " mg ", "'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, None, "a unit is needed for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, "  ", "a unit is needed for b12_total; use ng/L, pg/mL or pmol/L"),
        (B12, "G/L", "'G/L' is ambiguous (grams, or 10*9 cells, per litre); use ng/L, pg/mL or pmol/L"),
        (LabTest.HOLOTC, "ng/L", "'ng/L' is not a unit for holotc; use pmol/L"),
        (LabTest.MMA, "mg/L", "'mg/L' is not a unit for mma; use umol/L or nmol/L"),
        (LabTest.MMA, "ug/L", "'ug/L' is not a unit for mma; use umol/L or nmol/L"),
        (LabTest.HB, "mmol/L", "'mmol/L' is not a unit for hb; use g/L or g/dL"),
        (LabTest.HB, "G/L", "'G/L' is ambiguous (grams, or 10*9 cells, per litre); use g/L or g/dL"),
        (LabTest.MCV, "pL", "'pL' is not a unit for mcv; use fL"),
        (LabTest.FOLATE, "pg/mL", "'pg/mL' is not a unit for folate; use ug/L, ng/mL or nmol/L"),
        (LabTest.POTASSIUM, "mg/dL", "'mg/dL' is not a unit for potassium; use mmol/L or mEq/L"),
        (LabTest.RETICULOCYTES, "g/L", "'g/L' is not a unit for reticulocytes; use % or 10*9/L"),
        (LabTest.INR, "s", "'s' is not a unit for inr; use 1 or leave the unit out (INR is a ratio)"),
        (
            LabTest.IFAB,
            "U/mL",
            "'U/mL' is not a unit for ifab; it is qualitative (positive or negative) and takes no unit",
        ),
    ],
)
def test_refused_unit(test: LabTest, unit: str | None, message: str):
    with pytest.raises(UnitProblem) as refused:
        convert(test, 1.0, unit, default_unit(test))
    assert str(refused.value) == message
    with pytest.raises(UnitProblem) as refused:
        check_unit(test, unit)
    assert str(refused.value) == message


def test_refused_target_unit_names_it():
    with pytest.raises(
        UnitProblem, match=re.escape("'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L")
    ):
        convert(B12, 200, "ng/L", "mg")


def test_reticulocyte_fraction_and_count_never_convert():
    with pytest.raises(UnitProblem, match="cannot be converted"):
        convert(LabTest.RETICULOCYTES, 1.5, "%", "10*9/L")
    with pytest.raises(UnitProblem, match="cannot be converted"):
        convert(LabTest.RETICULOCYTES, 65, "10^9/L", "%")


def test_ifab_has_nothing_to_convert():
    assert check_unit(LabTest.IFAB, None) is None
    with pytest.raises(UnitProblem, match=r"^ifab is qualitative"):
        convert(LabTest.IFAB, 1.0, None, None)


def test_unit_problem_is_a_plain_value_error_not_a_user_error():
    from b12plan.errors import B12planError

    assert issubclass(UnitProblem, ValueError)
    assert not issubclass(UnitProblem, B12planError)


# --- spellings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ng/L", "ng/L"),
        ("NG/L", "ng/L"),
        ("ng / l", "ng/L"),
        (" ng/L\t", "ng/L"),
        ("pg/mL", "pg/mL"),
        ("pg/ml", "pg/mL"),
        ("PG/ML", "pg/mL"),
        ("pmol/L", "pmol/L"),
        ("pmol/l", "pmol/L"),
        ("PMOL/L", "pmol/L"),
        ("umol/L", "umol/L"),
        ("\u00b5mol/L", "umol/L"),
        ("\u03bcmol/L", "umol/L"),
        ("mcmol/L", "umol/L"),
        ("nmol/L", "nmol/L"),
        ("mmol/L", "mmol/L"),
        ("MMOL/L", "mmol/L"),
        ("mEq/L", "mEq/L"),
        ("meq/l", "mEq/L"),
        ("g/L", "g/L"),
        ("g/l", "g/L"),
        ("g/dL", "g/dL"),
        ("G/DL", "g/dL"),
        ("g/dl", "g/dL"),
        ("fL", "fL"),
        ("fl", "fL"),
        ("FL", "fL"),
        ("um3", "fL"),
        ("µm³", "fL"),
        ("um^3", "fL"),
        ("ug/L", "ug/L"),
        ("µg/L", "ug/L"),
        ("mcg/L", "ug/L"),
        ("ng/mL", "ng/mL"),
        ("NG/ML", "ng/mL"),
        ("%", "%"),
        (" % ", "%"),
        ("10*9/L", "10*9/L"),
        ("10^9/L", "10*9/L"),
        ("x10^9/L", "10*9/L"),
        ("X10^9/L", "10*9/L"),
        ("×10⁹/L", "10*9/L"),
        ("x 10^9 / L", "10*9/L"),
        ("10E9/L", "10*9/L"),
        ("", "1"),
        ("1", "1"),
        ("{INR}", "1"),
        ("{inr}", "1"),
        ("ratio", "1"),
    ],
)
def test_normalise_unit(text: str, canonical: str):
    assert normalise_unit(text) == canonical
    assert normalise_unit(canonical) == canonical


@pytest.mark.parametrize(
    "text", ["mg", "furlong", "10*9", "109/L", "ng", "mol/L", "ng/L/L", "1e9/L", "10**9/L"]
)
def test_normalise_unit_refuses_unknown_text(text: str):
    with pytest.raises(UnitProblem, match=r"is not a unit b12plan reads$"):
        normalise_unit(text)


@pytest.mark.parametrize("text", ["G/L", "G/l", " G / L "])
def test_giga_per_litre_is_ambiguous(text: str):
    with pytest.raises(UnitProblem, match="ambiguous"):
        normalise_unit(text)


def test_long_text_is_shortened_in_messages():
    with pytest.raises(UnitProblem) as refused:
        normalise_unit("x" * 500)
    assert len(str(refused.value)) < 80


# --- per-test tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "accepted", "default"),
    [
        (LabTest.B12_TOTAL, ("ng/L", "pg/mL", "pmol/L"), "ng/L"),
        (LabTest.HOLOTC, ("pmol/L",), "pmol/L"),
        (LabTest.MMA, ("umol/L", "nmol/L"), "umol/L"),
        (LabTest.HOMOCYSTEINE, ("umol/L", "nmol/L"), "umol/L"),
        (LabTest.HB, ("g/L", "g/dL"), "g/L"),
        (LabTest.MCV, ("fL",), "fL"),
        (LabTest.FOLATE, ("ug/L", "ng/mL", "nmol/L"), "ug/L"),
        (LabTest.POTASSIUM, ("mmol/L", "mEq/L"), "mmol/L"),
        (LabTest.RETICULOCYTES, ("%", "10*9/L"), "%"),
        (LabTest.INR, ("1",), None),
        (LabTest.IFAB, (), None),
    ],
)
def test_accepted_and_default_units(test: LabTest, accepted: tuple[str, ...], default: str | None):
    assert accepted_units(test) == accepted
    assert default_unit(test) == default
    assert default is None or default in accepted


def test_every_lab_test_has_units():
    for test in LabTest:
        accepted_units(test)
        default_unit(test)


@pytest.mark.parametrize(
    ("test", "unit_a", "unit_b", "same"),
    [
        (B12, "ng/L", "pmol/L", True),  # through the molar mass
        (B12, "pg/mL", "NG/L", True),
        (LabTest.FOLATE, "ng/mL", "nmol/L", True),
        (LabTest.HB, "g/dL", "g/L", True),
        (LabTest.RETICULOCYTES, "%", "10^9/L", False),
        (LabTest.INR, None, "{INR}", True),
    ],
)
def test_same_dimension(test: LabTest, unit_a: str | None, unit_b: str | None, same: bool):
    assert same_dimension(test, unit_a, unit_b) is same


def test_same_dimension_refuses_a_unit_the_test_does_not_take():
    with pytest.raises(UnitProblem, match="not a unit for holotc"):
        same_dimension(LabTest.HOLOTC, "pmol/L", "ng/L")


# --- display --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (203.3055, "ng/L", "203 ng/L"),
        (147.56118, "pmol/L", "148 pmol/L"),
        (1234.5, "ng/L", "1234 ng/L"),
        (0.28, "umol/L", "0.28 umol/L"),
        (0.28, "µmol/L", "0.28 umol/L"),
        (0.2834, "umol/L", "0.283 umol/L"),
        (10.5, "g/dL", "10.5 g/dL"),
        (105.0, "g/L", "105 g/L"),
        (4.20, "mmol/L", "4.2 mmol/L"),
        (9.996, "mmol/L", "10 mmol/L"),
        (1.5, "%", "1.5%"),
        (65, "10*9/L", "65 x10^9/L"),
        (1.1, None, "1.1"),
        (1.1, "{INR}", "1.1"),
        (0.0, "ng/L", "0 ng/L"),
    ],
)
def test_format_quantity(value: float, unit: str | None, text: str):
    assert format_quantity(value, unit) == text


# --- module shape ---------------------------------------------------------------------------------------


def test_public_surface():
    for name in units.__all__:
        assert hasattr(units, name), name


def test_import_builds_no_registry():
    """Importing the module must stay cheap: pint is imported and its registry built on first use."""
    code = (
        "import sys; import b12plan.domain.units as u; assert 'pint' not in sys.modules;"
        "u.convert(u.LabTest.B12_TOTAL, 200, 'pg/mL', 'pmol/L'); assert 'pint' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- doses and dosing periods (SI prefixes and calendar arithmetic) -----------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "micrograms"),
    [
        (1000, "ug", 1000.0),
        (1000, "mcg", 1000.0),
        (1000, "µg", 1000.0),
        (1000, "μg", 1000.0),
        (500, "Micrograms", 500.0),
        (1, "mg", 1000.0),
        (1, " MG ", 1000.0),
        (0.5, "milligrams", 500.0),
        (0.001, "g", 1000.0),
    ],
)
def test_dose_micrograms(value: float, unit: str, micrograms: float):
    assert units.dose_micrograms(value, unit) == pytest.approx(micrograms, rel=1e-12)


@pytest.mark.parametrize("unit", ["mL", "units", "{tbl}", "", "kg/L"])
def test_dose_micrograms_refuses_what_is_not_a_mass(unit: str):
    with pytest.raises(UnitProblem, match="is not a mass"):
        units.dose_micrograms(1, unit)


@pytest.mark.parametrize(
    ("unit", "span"),
    [
        ("d", (1.0, 1.0)),
        ("wk", (7.0, 7.0)),
        ("h", (1 / 24, 1 / 24)),
        ("min", (1 / 1440, 1 / 1440)),
        ("s", (1 / 86400, 1 / 86400)),
        ("mo", (28.0, 31.0)),  # a calendar month: "every 3 months" is 84 to 93 days
        ("a", (365.0, 366.0)),
    ],
)
def test_period_unit_days(unit: str, span: tuple[float, float]):
    assert units.period_unit_days(unit) == span


@pytest.mark.parametrize("unit", ["MO", "month", "", "mL"])
def test_period_unit_days_refuses_what_is_not_a_ucum_unit_of_time(unit: str):
    with pytest.raises(UnitProblem, match="is not a unit of time"):
        units.period_unit_days(unit)
