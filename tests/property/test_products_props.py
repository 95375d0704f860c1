"""Invariants of the dose maths: volumes match doses, units match volumes, supply covers every dose."""

from __future__ import annotations

import datetime as dt
import math
from importlib import resources

from hypothesis import given
from hypothesis import strategies as st

from b12plan.domain.products import (
    Product,
    containers_per_dose,
    dose_volume_ml,
    parse_catalogue,
    supply_for,
    syringe_units,
    tablets_per_dose,
)

CATALOGUE = parse_catalogue(
    resources.files("b12plan").joinpath("data/products.toml").read_text(encoding="utf-8")
)
SYRINGE = CATALOGUE.defaults.syringe
INJECTIONS = [p for p in CATALOGUE.products if p.form == "injection"]
SINGLE_USE = [p for p in INJECTIONS if not p.multi_dose]
TABLETS = [p for p in CATALOGUE.products if p.form == "tablet"]

injections = st.sampled_from(INJECTIONS)
# Doses a syringe can measure from every shipped strength (>= 0.01 mL of 1000 mcg/mL), up to 5 mg.
doses_mcg = st.floats(min_value=10, max_value=5000, allow_nan=False, allow_infinity=False)
days = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31))
dated_doses = st.lists(st.tuples(days, doses_mcg), min_size=1, max_size=40)


@given(doses_mcg, injections)
def test_volume_is_dose_over_strength_to_the_syringe_step(dose: float, product: Product) -> None:
    strength = product.strength_mcg_per_ml
    assert strength is not None
    assert abs(dose_volume_ml(dose, product, SYRINGE) - dose / strength) <= 0.005 + 1e-9


@given(doses_mcg, injections)
def test_syringe_units_are_volume_times_100(dose: float, product: Product) -> None:
    volume = dose_volume_ml(dose, product, SYRINGE)
    units = syringe_units(volume, SYRINGE)
    assert math.isclose(units, volume * 100, rel_tol=1e-12)
    assert math.isclose(units, round(units))  # a measured volume is a whole number of units


@given(st.floats(min_value=0, max_value=50, allow_nan=False))
def test_syringe_units_of_any_volume(volume: float) -> None:
    assert math.isclose(syringe_units(volume, SYRINGE), volume * 100, rel_tol=1e-12, abs_tol=1e-12)


@given(doses_mcg, st.sampled_from(SINGLE_USE))
def test_a_dose_opens_at_least_one_container_and_enough_of_them(dose: float, product: Product) -> None:
    n = containers_per_dose(dose, product, SYRINGE)
    assert product.container_ml is not None
    assert n >= 1
    assert n * product.container_ml >= dose_volume_ml(dose, product, SYRINGE) - 1e-9
    assert (n - 1) * product.container_ml < dose_volume_ml(dose, product, SYRINGE)


@given(dated_doses, injections, st.none() | st.sampled_from([0.0, 0.02, 0.07, 0.1]))
def test_supply_never_uses_fewer_ml_than_the_doses_need(
    doses: list[tuple[dt.date, float]], product: Product, dead: float | None
) -> None:
    supply = supply_for(doses, product, SYRINGE, dead_space_ml=dead)
    needed = sum(dose_volume_ml(mcg, product, SYRINGE) for _, mcg in doses)
    assert product.container_ml is not None
    assert supply.drawn_ml is not None
    assert supply.wasted_ml is not None
    assert supply.containers >= 1
    assert supply.doses == len(doses)
    assert math.isclose(supply.total_mcg, sum(mcg for _, mcg in doses), rel_tol=1e-9)
    assert supply.drawn_ml >= needed - 1e-9
    assert supply.wasted_ml >= -1e-9
    assert math.isclose(
        supply.containers * product.container_ml, supply.drawn_ml + supply.wasted_ml, abs_tol=1e-6
    )


@given(dated_doses, st.sampled_from([p for p in INJECTIONS if p.multi_dose]))
def test_a_multi_dose_vial_is_never_drawn_from_past_its_discard_day(
    doses: list[tuple[dt.date, float]], product: Product
) -> None:
    # A vial serves draws less than `discard_after_days` after its first: the fewest such windows that
    # cover every dose day (taken greedily) is a lower bound on the vials used.
    keep = dt.timedelta(days=product.discard_after_days or 0)
    assert keep.days > 0
    windows, opened = 0, dt.date.min
    for day in sorted(d for d, _ in doses):
        if day >= opened + keep:
            windows, opened = windows + 1, day
    assert supply_for(doses, product, SYRINGE).containers >= windows


@given(st.integers(min_value=1, max_value=20), st.sampled_from(TABLETS))
def test_whole_tablets_round_trip(count: int, product: Product) -> None:
    assert product.strength_mcg is not None
    assert tablets_per_dose(count * product.strength_mcg, product) == count
