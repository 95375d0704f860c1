"""The product catalogue and dose maths, read as the rules they implement (REFERENCE 4.3-4.6, 6)."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest

from b12plan.domain.case import CustomProduct
from b12plan.domain.codes import Formulation, Route
from b12plan.domain.plan import ProductUse, Supply
from b12plan.domain.products import (
    Catalogue,
    Product,
    check_site_volume,
    containers_per_dose,
    dose_volume_ml,
    is_route_licensed,
    parse_catalogue,
    product_from_custom,
    supply_for,
    syringe_units,
    tablets_per_dose,
    to_product_use,
    waste_per_dose_ml,
)
from b12plan.errors import CaseError, DataError, UnknownProductError

TEXT = resources.files("b12plan").joinpath("data/products.toml").read_text(encoding="utf-8")
CATALOGUE = parse_catalogue(TEXT)
SYRINGE = CATALOGUE.defaults.syringe
LIMITS = CATALOGUE.defaults.site_limits

UK_HYDROXO = CATALOGUE.get("uk-hydroxocobalamin-1mg-1ml-amp")
US_CYANO_SDV = CATALOGUE.get("us-cyanocobalamin-1000mcg-1ml-sdv")
US_CYANO_10 = CATALOGUE.get("us-cyanocobalamin-1000mcg-10ml-mdv")
US_CYANO_30 = CATALOGUE.get("us-cyanocobalamin-1000mcg-30ml-mdv")
US_HYDROXO_30 = CATALOGUE.get("us-hydroxocobalamin-1000mcg-30ml-mdv")
JP_METHYL = CATALOGUE.get("jp-methylcobalamin-500mcg-1ml-amp")


# -- the shipped catalogue ---------------------------------------------------------------------------------

SHIPPED = [
    # id, formulation, form, strength, container_ml, multi_dose, routes, country
    ("uk-hydroxocobalamin-1mg-1ml-amp", "hydroxocobalamin", "injection", 1000, 1, False, ["IM"], "UK"),
    ("us-cyanocobalamin-1000mcg-1ml-sdv", "cyanocobalamin", "injection", 1000, 1, False, ["IM", "SC"], "US"),
    ("us-cyanocobalamin-1000mcg-10ml-mdv", "cyanocobalamin", "injection", 1000, 10, True, ["IM", "SC"], "US"),
    ("us-cyanocobalamin-1000mcg-30ml-mdv", "cyanocobalamin", "injection", 1000, 30, True, ["IM", "SC"], "US"),
    ("us-hydroxocobalamin-1000mcg-30ml-mdv", "hydroxocobalamin", "injection", 1000, 30, True, ["IM"], "US"),
    ("jp-methylcobalamin-500mcg-1ml-amp", "methylcobalamin", "injection", 500, 1, False, ["IM", "IV"], "JP"),
    ("uk-cyanocobalamin-50mcg-tab", "cyanocobalamin", "tablet", 50, None, False, ["oral"], "UK"),
    ("uk-cyanocobalamin-100mcg-tab", "cyanocobalamin", "tablet", 100, None, False, ["oral"], "UK"),
    ("uk-cyanocobalamin-150mcg-tab", "cyanocobalamin", "tablet", 150, None, False, ["oral"], "UK"),
    ("uk-cyanocobalamin-1mg-tab", "cyanocobalamin", "tablet", 1000, None, False, ["oral"], "UK"),
]


@pytest.mark.parametrize(
    ("pid", "formulation", "form", "strength", "container_ml", "multi_dose", "routes", "country"), SHIPPED
)
def test_shipped_product(
    pid: str,
    formulation: str,
    form: str,
    strength: float,
    container_ml: float | None,
    multi_dose: bool,
    routes: list[str],
    country: str,
) -> None:
    p = CATALOGUE.get(pid)
    assert (p.formulation, p.form, p.container_ml, p.multi_dose) == (
        formulation,
        form,
        container_ml,
        multi_dose,
    )
    assert (p.strength_mcg_per_ml if form == "injection" else p.strength_mcg) == strength
    assert [r.value for r in p.routes] == routes
    assert p.country == country
    assert (p.source or "").startswith("https://")
    assert p.evidence in ("P", "Q", "D")


def test_us_multi_dose_vials_are_discarded_after_28_days() -> None:
    for p in CATALOGUE.products:
        assert (p.discard_after_days == 28) if p.multi_dose else (p.discard_after_days is None)


def test_excipients_of_note() -> None:
    assert "benzyl alcohol" in US_CYANO_30.excipients
    assert "parabens" in US_HYDROXO_30.excipients
    assert any("light" in n for n in JP_METHYL.notes)


def test_only_the_1mg_tablet_is_licensed_for_malabsorption() -> None:
    tablets = [p for p in CATALOGUE.products if p.form == "tablet"]
    assert [p.id for p in tablets if "pernicious anaemia" in p.licensed_for] == ["uk-cyanocobalamin-1mg-tab"]


def test_syringe_and_site_limits_come_from_the_data() -> None:
    assert (SYRINGE.units_per_ml, SYRINGE.resolution_ml) == (100, 0.01)
    assert {(s.id, s.max_ml, s.evidence) for s in LIMITS} == {
        ("im-deltoid", 1.0, "P"),
        ("im-large-muscle", 5.0, "P"),
        ("sc", 1.0, "D"),
    }
    assert CATALOGUE.defaults.routes[Formulation.CYANOCOBALAMIN] == (Route.IM, Route.SC)


@pytest.mark.parametrize(
    ("formulation", "country", "form", "expected"),
    [
        ("hydroxocobalamin", "UK", "injection", "uk-hydroxocobalamin-1mg-1ml-amp"),
        ("hydroxocobalamin", "gb", "injection", "uk-hydroxocobalamin-1mg-1ml-amp"),
        ("cyanocobalamin", "US", "injection", "us-cyanocobalamin-1000mcg-1ml-sdv"),
        ("hydroxocobalamin", "US", "injection", "us-hydroxocobalamin-1000mcg-30ml-mdv"),
        ("methylcobalamin", "JP", "injection", "jp-methylcobalamin-500mcg-1ml-amp"),
        ("cyanocobalamin", "UK", "tablet", "uk-cyanocobalamin-1mg-tab"),
        ("methylcobalamin", "UK", "injection", None),
    ],
)
def test_default_for(formulation: str, country: str, form: str, expected: str | None) -> None:
    found = CATALOGUE.default_for(Formulation(formulation), country, form)  # type: ignore[arg-type]
    assert (found.id if found else None) == expected


def test_unknown_id_names_close_matches() -> None:
    with pytest.raises(UnknownProductError) as err:
        CATALOGUE.get("uk-hydroxocobalamin-1mg-amp")
    message = str(err.value)
    assert message.startswith("product: 'uk-hydroxocobalamin-1mg-amp' is not in the catalogue")
    assert "'uk-hydroxocobalamin-1mg-1ml-amp'" in message
    assert message.endswith("run `b12plan products` to list them")
    assert err.value.exit_code == 2


def test_unknown_id_without_close_match() -> None:
    with pytest.raises(UnknownProductError, match=r"^product: 'zzz' is not in the catalogue; run"):
        CATALOGUE.get("zzz")


# -- a bad data file is a DataError naming the product and field -------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("strength_mcg_per_ml = 500.0", "strength_mcg_per_ml = -500.0", "strength_mcg_per_ml"),
        ('routes = ["IM", "IV"]', 'routes = ["IM", "XX"]', "routes[1]"),
        ('country = "JP"', 'country = "JP"\ncolour = "red"', "colour"),
        ('source = "https://medley.life/medicines/prescription/3136403A1140/doc/"', "", "source"),
        (
            'container_ml = 1.0\ncontainer = "ampoule"\nmulti_dose = false\nroutes = ["IM", "IV"]',
            'container = "ampoule"\nmulti_dose = false\nroutes = ["IM", "IV"]',
            "container_ml",
        ),
        (
            'multi_dose = false\nroutes = ["IM", "IV"]',
            'multi_dose = true\nroutes = ["IM", "IV"]',
            "discard_after_days",
        ),
        ("strength_mcg_per_ml = 500.0", "strength_mcg = 500.0", "strength_mcg_per_ml"),
    ],
)
def test_bad_entry_raises_data_error_naming_id_and_field(old: str, new: str, named: str) -> None:
    assert TEXT.count(old) == 1
    with pytest.raises(DataError) as err:
        parse_catalogue(TEXT.replace(old, new))
    assert "product 'jp-methylcobalamin-500mcg-1ml-amp'" in str(err.value)
    assert f": {named}:" in str(err.value)
    assert err.value.exit_code == 3


def test_duplicate_id_is_a_data_error() -> None:
    text = TEXT.replace('id = "uk-cyanocobalamin-100mcg-tab"', 'id = "uk-cyanocobalamin-50mcg-tab"')
    with pytest.raises(DataError, match=r"'uk-cyanocobalamin-50mcg-tab': id: appears more than once"):
        parse_catalogue(text)


def test_two_defaults_for_one_formulation_country_and_form_is_a_data_error() -> None:
    old = 'country = "UK"\nexcipients = []\nnotes = ["For diet-related deficiency: 50-150 micrograms daily."]'
    assert TEXT.count(old) == 1
    with pytest.raises(DataError, match=r"'uk-cyanocobalamin-50mcg-tab': default: another is the default"):
        parse_catalogue(TEXT.replace(old, old.replace('"UK"', '"UK"\ndefault = true')))


def test_bad_defaults_and_bad_toml_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"defaults\.syringe\.resolution_ml"):
        parse_catalogue(TEXT.replace("resolution_ml = 0.01", "resolution_ml = 0"))
    with pytest.raises(DataError, match=r"defaults\.routes: no default routes for methylcobalamin"):
        parse_catalogue(TEXT.replace('methylcobalamin = ["IM", "IV"]', ""))
    with pytest.raises(DataError, match=r"products\.toml"):
        parse_catalogue("[[product]\n")


# -- dose volume and syringe units (REFERENCE 4.3, 4.6) ----------------------------------------------------


@pytest.mark.parametrize(
    ("dose_mcg", "product", "volume_ml", "units"),
    [
        (1000, US_CYANO_SDV, 1.0, 100),
        (100, US_CYANO_30, 0.1, 10),
        (30, US_HYDROXO_30, 0.03, 3),
        (250, UK_HYDROXO, 0.25, 25),
        (500, JP_METHYL, 1.0, 100),
        (1000, JP_METHYL, 2.0, 200),
        (1234, US_CYANO_30, 1.23, 123),
        (1235, US_CYANO_30, 1.24, 124),  # half rounds up
    ],
)
def test_volume_and_units(dose_mcg: float, product: Product, volume_ml: float, units: float) -> None:
    volume = dose_volume_ml(dose_mcg, product, SYRINGE)
    assert volume == volume_ml
    assert syringe_units(volume, SYRINGE) == units


@pytest.mark.parametrize(
    ("dose_mcg", "product", "message"),
    [
        (5, US_CYANO_30, "less than the 0.01 mL"),
        (0, US_CYANO_30, "positive"),
        (-100, UK_HYDROXO, "positive"),
        (float("nan"), UK_HYDROXO, "positive"),
        (1000, CATALOGUE.get("uk-cyanocobalamin-1mg-tab"), "is a tablet"),
    ],
)
def test_volume_refused(dose_mcg: float, product: Product, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dose_volume_ml(dose_mcg, product, SYRINGE)


# -- containers and tablets per dose -----------------------------------------------------------------------


def test_1000mcg_from_500mcg_ampoules_is_two_ampoules_and_too_much_for_the_deltoid() -> None:
    assert containers_per_dose(1000, JP_METHYL, SYRINGE) == 2
    assert waste_per_dose_ml(1000, JP_METHYL, SYRINGE) == 0
    problem = check_site_volume(dose_volume_ml(1000, JP_METHYL, SYRINGE), Route.IM, LIMITS)
    assert problem is not None
    assert problem.startswith("2 mL in one IM injection is more than the 1 mL (at most 2 mL) the deltoid")
    assert problem.endswith(
        "use a large muscle (ventrogluteal or vastus lateralis), up to 5 mL, or split the dose"
    )


def test_single_use_waste_per_dose() -> None:
    assert containers_per_dose(100, US_CYANO_SDV, SYRINGE) == 1
    assert waste_per_dose_ml(100, US_CYANO_SDV, SYRINGE) == pytest.approx(0.9)
    assert containers_per_dose(250, JP_METHYL, SYRINGE) == 1
    assert containers_per_dose(750, JP_METHYL, SYRINGE) == 2
    assert waste_per_dose_ml(750, JP_METHYL, SYRINGE) == pytest.approx(0.5)


def test_containers_per_dose_is_for_single_use_containers() -> None:
    with pytest.raises(ValueError, match="multi-dose"):
        containers_per_dose(100, US_CYANO_30, SYRINGE)


@pytest.mark.parametrize(
    ("dose_mcg", "pid", "tablets"),
    [
        (50, "uk-cyanocobalamin-50mcg-tab", 1),
        (150, "uk-cyanocobalamin-50mcg-tab", 3),
        (2000, "uk-cyanocobalamin-1mg-tab", 2),
        (150, "uk-cyanocobalamin-150mcg-tab", 1),
    ],
)
def test_tablets_per_dose(dose_mcg: float, pid: str, tablets: int) -> None:
    assert tablets_per_dose(dose_mcg, CATALOGUE.get(pid)) == tablets


@pytest.mark.parametrize(
    ("dose_mcg", "pid"),
    [
        (75, "uk-cyanocobalamin-50mcg-tab"),
        (500, "uk-cyanocobalamin-1mg-tab"),
        (0, "uk-cyanocobalamin-50mcg-tab"),
        (float("nan"), "uk-cyanocobalamin-50mcg-tab"),
    ],
)
def test_tablets_must_be_whole(dose_mcg: float, pid: str) -> None:
    with pytest.raises(ValueError, match="not a whole number"):
        tablets_per_dose(dose_mcg, CATALOGUE.get(pid))


# -- site volume (REFERENCE 4.6) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume_ml", "route", "expect"),
    [
        (1.0, Route.IM, None),
        (0.1, Route.SC, None),
        (1.0, Route.SC, None),
        (1.5, Route.IM, "use a large muscle"),
        (5.0, Route.IM, "up to 5 mL"),
        (6.0, Route.IM, "split the dose into 2 injections"),
        (1.2, Route.SC, "split the dose into 2 injections"),
        (3.0, Route.IV, None),
        (3.0, Route.ORAL, None),
    ],
)
def test_site_volume(volume_ml: float, route: Route, expect: str | None) -> None:
    problem = check_site_volume(volume_ml, route, LIMITS)
    if expect is None:
        assert problem is None
    else:
        assert expect in (problem or "")


# -- supply over dated doses -------------------------------------------------------------------------------


def _monthly(day: int, months: range, year: int = 2025) -> list[dt.date]:
    return [dt.date(year, m, day) for m in months]


def test_30ml_vial_monthly_100mcg_for_a_year_is_12_vials() -> None:
    doses = [(d, 100.0) for d in _monthly(1, range(1, 13))]
    supply = supply_for(doses, US_CYANO_30, SYRINGE)
    assert isinstance(supply, Supply)
    assert (supply.containers, supply.doses, supply.total_mcg) == (12, 12, 1200)
    assert supply.drawn_ml == pytest.approx(1.2)
    assert supply.wasted_ml == pytest.approx(12 * 29.9)
    assert supply.notes == [
        "each 30 mL vial is discarded 28 days after first use: 29.9 mL of each is wasted at 0.1 mL a month"
    ]


def test_10ml_vial_weekly_then_monthly() -> None:
    weekly = [dt.date(2025, 1, 1) + dt.timedelta(weeks=w) for w in range(4)]  # Jan 1, 8, 15, 22
    monthly = _monthly(19, range(2, 13))  # Feb 19 .. Dec 19; Feb 19 -> Mar 19 is exactly 28 days
    doses = [(d, 1000.0) for d in weekly + monthly]
    supply = supply_for(doses, US_CYANO_10, SYRINGE)
    # first vial: the 4 weekly doses (4 mL) before its discard day, Jan 29; then one vial per monthly dose
    assert (supply.containers, supply.doses, supply.total_mcg) == (12, 15, 15000)
    assert supply.drawn_ml == pytest.approx(15.0)
    assert supply.wasted_ml == pytest.approx(120 - 15)
    assert supply.notes == [
        "each 10 mL vial is discarded 28 days after first use or when empty: "
        "12 vials, 105 mL left unused in all"
    ]


def test_a_draw_on_the_discard_day_needs_a_new_vial() -> None:
    start = dt.date(2025, 3, 3)
    day27 = supply_for([(start, 1000.0), (start + dt.timedelta(days=27), 1000.0)], US_CYANO_10, SYRINGE)
    day28 = supply_for([(start, 1000.0), (start + dt.timedelta(days=28), 1000.0)], US_CYANO_10, SYRINGE)
    assert (day27.containers, day28.containers) == (1, 2)


def test_a_vial_is_opened_again_when_empty() -> None:
    doses = [(dt.date(2025, 1, 1) + dt.timedelta(days=i), 1000.0) for i in range(12)]
    supply = supply_for(doses, US_CYANO_10, SYRINGE)
    assert (supply.containers, supply.drawn_ml, supply.wasted_ml) == (2, 12.0, 8.0)


def test_dead_space_is_drawn_with_every_dose() -> None:
    doses = [(dt.date(2025, 1, 1) + dt.timedelta(days=i), 1000.0) for i in range(10)]
    assert supply_for(doses, US_CYANO_10, SYRINGE).containers == 1
    supply = supply_for(doses, US_CYANO_10, SYRINGE, dead_space_ml=0.07)
    # 9 draws of 1.07 mL leave 0.37 mL: the 10th opens a second vial (vials are never pooled)
    assert supply.containers == 2
    assert supply.drawn_ml == pytest.approx(10.7)
    assert supply.wasted_ml == pytest.approx(20 - 10.7)
    assert "each draw includes 0.07 mL dead space (0.7 mL in all)" in supply.notes


def test_dead_space_from_a_custom_product() -> None:
    custom = CustomProduct(
        formulation=Formulation.CYANOCOBALAMIN,
        strength_mcg_per_ml=1000,
        container_ml=10,
        multi_dose=True,
        dead_space_ml=0.1,
    )
    product = product_from_custom(custom, CATALOGUE.defaults)
    doses = [(dt.date(2025, 1, 1) + dt.timedelta(days=i), 1000.0) for i in range(10)]
    assert supply_for(doses, product, SYRINGE).drawn_ml == pytest.approx(11.0)
    assert supply_for(doses, product, SYRINGE, dead_space_ml=0).drawn_ml == pytest.approx(10.0)


def test_single_use_supply() -> None:
    doses = [(dt.date(2025, 1, 1) + dt.timedelta(days=2 * i), 1000.0) for i in range(6)]
    supply = supply_for(doses, JP_METHYL, SYRINGE)
    assert (supply.containers, supply.drawn_ml, supply.wasted_ml) == (12, 12.0, 0.0)
    supply = supply_for([(dt.date(2025, 1, 1), 100.0)] * 3, US_CYANO_SDV, SYRINGE)
    assert supply.containers == 3
    assert supply.wasted_ml == pytest.approx(2.7)
    assert supply.notes == ["each 1 mL vial is used for one dose only: 0.9 mL of it is discarded"]


def test_tablet_supply_and_no_doses() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    supply = supply_for([(d, 150.0) for d in days], CATALOGUE.get("uk-cyanocobalamin-50mcg-tab"), SYRINGE)
    assert (supply.containers, supply.doses, supply.total_mcg, supply.drawn_ml) == (90, 30, 4500, None)
    empty = supply_for([], US_CYANO_30, SYRINGE)
    assert (empty.containers, empty.doses, empty.wasted_ml) == (0, 0, 0)


# -- products described in a case --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formulation", "routes"),
    [("hydroxocobalamin", ["IM"]), ("cyanocobalamin", ["IM", "SC"]), ("methylcobalamin", ["IM", "IV"])],
)
def test_custom_product_default_routes(formulation: str, routes: list[str]) -> None:
    custom = CustomProduct(formulation=Formulation(formulation), strength_mcg_per_ml=1000, container_ml=1)
    product = product_from_custom(custom, CATALOGUE.defaults)
    assert [r.value for r in product.routes] == routes
    assert (product.id, product.container, product.multi_dose, product.discard_after_days) == (
        None,
        "ampoule",
        False,
        None,
    )


def test_custom_multi_dose_gets_the_discard_rule_and_given_routes() -> None:
    custom = CustomProduct(
        formulation=Formulation.HYDROXOCOBALAMIN,
        strength_mcg_per_ml=1000,
        container_ml=30,
        multi_dose=True,
        routes=[Route.IM, Route.SC],
        name="Hydroxo 30 mL",
    )
    product = product_from_custom(custom, CATALOGUE.defaults)
    assert (product.container, product.discard_after_days, product.name) == ("vial", 28, "Hydroxo 30 mL")
    assert is_route_licensed(product, Route.SC)


def test_custom_tablet() -> None:
    custom = CustomProduct(formulation=Formulation.CYANOCOBALAMIN, form="tablet", strength_mcg=1000)
    product = product_from_custom(custom, CATALOGUE.defaults)
    assert (product.routes, product.container) == ((Route.ORAL,), "tablet")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"formulation": "hydroxocobalamin", "container_ml": 1}, "product.strength_mcg_per_ml"),
        (
            {"formulation": "cyanocobalamin", "form": "tablet", "strength_mcg_per_ml": 1000},
            "product.strength_mcg",
        ),
        (
            {"formulation": "cyanocobalamin", "strength_mcg_per_ml": 1000, "routes": ["oral"]},
            "product.routes",
        ),
        (
            {"formulation": "cyanocobalamin", "form": "tablet", "strength_mcg": 50, "multi_dose": True},
            "product.multi_dose",
        ),
    ],
)
def test_custom_product_refused(fields: dict[str, object], named: str) -> None:
    with pytest.raises(CaseError) as err:
        product_from_custom(CustomProduct.model_validate(fields), CATALOGUE.defaults)
    assert str(err.value).startswith(f"{named}: ")


def test_custom_without_container_size_has_volumes_but_no_supply() -> None:
    custom = CustomProduct(formulation=Formulation.HYDROXOCOBALAMIN, strength_mcg_per_ml=1000)
    product = product_from_custom(custom, CATALOGUE.defaults)
    assert dose_volume_ml(1000, product, SYRINGE) == 1.0
    with pytest.raises(ValueError, match="container_ml"):
        supply_for([(dt.date(2025, 1, 1), 1000.0)], product, SYRINGE)


# -- licensing and the plan's product section ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "route", "licensed"),
    [
        (UK_HYDROXO, Route.IM, True),
        (UK_HYDROXO, Route.SC, False),
        (US_CYANO_30, Route.SC, True),
        (US_CYANO_30, Route.IV, False),
        (US_HYDROXO_30, Route.SC, False),
        (JP_METHYL, Route.IV, True),
    ],
)
def test_is_route_licensed(product: Product, route: Route, licensed: bool) -> None:
    assert is_route_licensed(product, route) is licensed


def test_to_product_use() -> None:
    use = to_product_use(US_CYANO_30)
    assert isinstance(use, ProductUse)
    assert use.id == "us-cyanocobalamin-1000mcg-30ml-mdv"
    assert (use.strength_mcg_per_ml, use.container_ml, use.multi_dose, use.discard_after_days) == (
        1000,
        30,
        True,
        28,
    )
    assert use.routes == [Route.IM, Route.SC]
    assert "Protect from light." in use.notes


def test_catalogue_is_frozen() -> None:
    assert isinstance(CATALOGUE, Catalogue)
    with pytest.raises(ValueError, match="frozen"):
        UK_HYDROXO.multi_dose = True  # type: ignore[misc]
