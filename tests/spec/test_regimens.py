"""Regimens, read as the dosing tables they implement (REFERENCE 3, 4: BNF/SmPC, NHS, SPS, FDA label, AFP)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from b12plan.domain.rules import RegimenRule, RuleSet
from b12plan.errors import CaseError
from casekit import alert, alert_codes, b12, case, lab, phases, plan, reason_ids

DEFICIENT = [b12(120)]
DEFICIENT_US = [b12(120, "pg/mL")]
AMPOULE = {"formulation": "hydroxocobalamin", "strength_mcg_per_ml": 1000, "container_ml": 1}


def shape(phase: dict[str, Any]) -> tuple[Any, ...]:
    """The clinical numbers of a phase: stage, route, dose, interval, doses, until, lifelong."""
    return (
        phase["stage"],
        phase["route"],
        phase["dose_mcg"],
        phase["interval_days"],
        phase["doses"],
        phase["until"],
        phase["lifelong"],
    )


def regimen_rule(p: dict[str, Any]) -> str:
    rules: list[str] = p["regimen"]["rules"]
    assert len(rules) == 1
    return rules[0]


# -- 4.1 UK: BNF hydroxocobalamin 1 mg/mL IM --------------------------------------------------------------


def test_bnf_without_neurological_involvement() -> None:
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"]))
    assert regimen_rule(p) == "BNF-HYDROXO-NO-NEURO"
    assert p["regimen"]["formulation"] == "hydroxocobalamin"
    repletion, maintenance = phases(p)
    # 1 mg three times a week for 2 weeks (6 doses), then 1 mg every 2-3 months, for life
    assert shape(repletion)[:3] == ("repletion", "IM", 1000)
    assert (repletion["times_per_week"], repletion["doses"]) == (3, 6)
    assert shape(maintenance) == ("maintenance", "IM", 1000, 84, None, "lifelong", True)
    assert maintenance["interval_range_days"] == [56, 91]
    assert [ph["volume_ml"] for ph in (repletion, maintenance)] == [1.0, 1.0]
    assert "DESIGN-UK-MAINT-DEFAULT" in maintenance["rules"]


def test_bnf_with_neurological_involvement() -> None:
    p = plan(case(labs=DEFICIENT, symptoms=["ataxia"], causes=["autoimmune_gastritis"]))
    assert regimen_rule(p) == "BNF-HYDROXO-NEURO"
    repletion, maintenance = phases(p)
    # 1 mg on alternate days until no further improvement (reviewed at 3 weeks [D]), then every 2 months
    assert shape(repletion) == ("repletion", "IM", 1000, 2, None, "no_further_improvement", False)
    assert repletion["review_after_days"] == 21
    assert shape(maintenance) == ("maintenance", "IM", 1000, 56, None, "lifelong", True)
    assert maintenance["interval_range_days"] == [56, 61]


def test_the_uk_regimens_in_the_rule_set(nice: RuleSet) -> None:
    doses = {(r.id, p.stage.value): p.dose_mcg for r in nice.of(RegimenRule) for p in r.phases}
    assert doses[("BNF-HYDROXO-NEURO", "repletion")] == doses[("BNF-HYDROXO-NO-NEURO", "repletion")] == 1000
    assert doses[("NHS-DIET-ORAL", "maintenance")] == 50
    assert doses[("SPS-ORAL-1MG", "maintenance")] == 1000


@pytest.mark.parametrize(
    ("cause", "lifelong", "until"),
    [
        ("autoimmune_gastritis", True, "lifelong"),
        ("gastrectomy", True, "lifelong"),
        ("ileal_resection", True, "lifelong"),
        ("metformin", False, "medicine_stopped_and_review"),
        ("nitrous_oxide", False, "n2o_stopped_and_review"),
        ("unknown", False, "cause_found_and_review"),
    ],
)
def test_maintenance_lasts_as_long_as_the_cause(cause: str, lifelong: bool, until: str) -> None:
    maintenance = phases(plan(case(labs=DEFICIENT, causes=[cause])), "maintenance")[0]
    assert (maintenance["lifelong"], maintenance["until"]) == (lifelong, until)


# -- 3, 4.1, 4.2 UK diet-related deficiency ----------------------------------------------------------------


def test_vegan_diet_injections_then_oral() -> None:
    p = plan(case(labs=DEFICIENT, causes=["diet_vegan"]))
    assert regimen_rule(p) == "NHS-DIET-INJECTION-ORAL"
    repletion, maintenance = phases(p)
    assert shape(repletion) == ("repletion", "IM", 1000, 2, 7, None, False)  # every other day, 2 weeks
    assert shape(maintenance) == ("maintenance", "oral", 50, 1, None, "lifelong", True)
    assert (maintenance["volume_ml"], maintenance["tablets_per_dose"]) == (None, 1)
    assert p["regimen"]["oral_product"]["strength_mcg"] == 50


def test_vegan_diet_with_injections_preferred_is_twice_a_year() -> None:
    p = plan(case(labs=DEFICIENT, causes=["diet_vegan"], preferences={"route": "IM"}))
    assert regimen_rule(p) == "NHS-DIET-INJECTION-IM"
    assert shape(phases(p, "maintenance")[0]) == ("maintenance", "IM", 1000, 182, None, "lifelong", True)


def test_low_animal_diet_is_not_lifelong() -> None:
    maintenance = phases(plan(case(labs=DEFICIENT, causes=["diet_low_animal"])), "maintenance")[0]
    assert (maintenance["lifelong"], maintenance["until"]) == (False, "diet_corrected_and_levels_normal")


# -- oral preference ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "rule", "dose"),
    [
        ("diet_vegan", "NHS-DIET-ORAL", 50),
        ("unknown", "SPS-ORAL-1MG", 1000),
        ("metformin", "SPS-ORAL-1MG", 1000),
    ],
)
def test_oral_preference_where_oral_is_dependable(cause: str, rule: str, dose: float) -> None:
    p = plan(case(labs=DEFICIENT, causes=[cause], preferences={"route": "oral"}))
    assert regimen_rule(p) == rule
    assert [shape(ph)[:4] for ph in phases(p)] == [("maintenance", "oral", dose, 1)]
    assert p["regimen"]["formulation"] == "cyanocobalamin"
    assert "ORAL_NOT_SUITABLE" not in alert_codes(p)
    assert [e["kind"] for e in p["events"] if e.get("stage")] == ["oral"]


@pytest.mark.parametrize(
    "fields",
    [
        {"causes": ["autoimmune_gastritis"]},  # oral not dependable in pernicious anaemia
        {"causes": ["nitrous_oxide"]},
        {"causes": ["unknown"], "symptoms": ["numbness"]},  # neurological involvement
        {"causes": ["diet_vegan"], "conditions": ["leber_optic_neuropathy"]},  # tablets are cyanocobalamin
    ],
)
def test_oral_preference_where_oral_is_not_suitable(fields: dict[str, Any]) -> None:
    p = plan(case(labs=DEFICIENT, preferences={"route": "oral"}, **fields))
    assert "ORAL_NOT_SUITABLE" in alert_codes(p)
    assert all(ph["route"] != "oral" for ph in phases(p))
    assert p["regimen"]["formulation"] == "hydroxocobalamin"


def test_a_tablet_in_hand_counts_as_an_oral_preference() -> None:
    tablet = {"formulation": "cyanocobalamin", "form": "tablet", "strength_mcg": 100}
    p = plan(case(labs=DEFICIENT, causes=["diet_vegan"], product=tablet))
    assert phases(p)[0]["dose_mcg"] == 100  # the tablet in hand is inside the 50-150 microgram range


# -- 3, 4.1 prophylaxis ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", ["gastrectomy", "bariatric_surgery", "ileal_resection", "crohns"])
def test_prophylaxis_after_gut_surgery_with_normal_b12(cause: str) -> None:
    p = plan(case(labs=[b12(420)], causes=[cause]))
    assert p["assessment"]["status"] == "unlikely"
    assert regimen_rule(p) == "SMPC-PROPHYLAXIS"
    assert [shape(ph) for ph in phases(p)] == [("maintenance", "IM", 1000, 84, None, "lifelong", True)]


@pytest.mark.parametrize("cause", ["autoimmune_gastritis", "diet_vegan", "metformin", "unknown"])
def test_no_prophylaxis_for_other_causes(cause: str) -> None:
    p = plan(case(labs=[b12(420)], causes=[cause]))
    assert p["regimen"] is None
    assert p["decision"] == "Deficiency is unlikely: no B12 replacement is recommended."


# -- when to treat -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "treated"),
    [
        ({"labs": [b12(250)]}, False),
        ({"labs": [b12(250)], "symptoms": ["numbness"]}, True),  # treat without waiting for results
        ({"labs": [b12(250), lab("hb", 70, "g/L")]}, True),  # severe anaemia
        ({"labs": [], "symptoms": ["visual"]}, True),
        ({"labs": []}, False),
        ({"labs": [b12(120)], "conditions": ["b12_hypersensitivity"]}, False),
    ],
)
def test_when_replacement_starts(fields: dict[str, Any], treated: bool) -> None:
    p = plan(case(**fields))
    assert (p["regimen"] is not None) is treated
    before_results = p["assessment"]["status"] != "deficient" and treated
    assert ("TREAT_BEFORE_RESULTS" in alert_codes(p)) is before_results


def test_hypersensitivity_withholds_the_regimen() -> None:
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"], conditions=["b12_hypersensitivity"]))
    assert p["regimen"] is None
    assert alert(p, "HYPERSENSITIVITY")["level"] == "critical"
    assert "REGIMEN-WITHHOLD" in reason_ids(p)
    assert not [e for e in p["events"] if e["kind"] == "injection"]


# -- 6 formulation: Leber's, products the rule set holds no regimen for ---------------------------------


def test_leber_never_gets_cyanocobalamin() -> None:
    cyano = {"formulation": "cyanocobalamin", "strength_mcg_per_ml": 1000, "container_ml": 1}
    p = plan(case(labs=DEFICIENT, conditions=["leber_optic_neuropathy"], product=cyano))
    assert p["regimen"]["formulation"] == "hydroxocobalamin"
    assert alert(p, "LEBER_CYANOCOBALAMIN")["level"] == "critical"
    assert "REGIMEN-FORMULATION-SWITCH" in reason_ids(p)


@pytest.mark.parametrize("ruleset", ["nice-ng239", "us-cyanocobalamin-label", "us-common-practice"])
@pytest.mark.parametrize("cause", ["diet_vegan", "unknown", "autoimmune_gastritis"])
def test_leber_plans_hold_no_cyanocobalamin_by_any_route(ruleset: str, cause: str) -> None:
    p = plan(case(labs=DEFICIENT, causes=[cause], conditions=["leber_optic_neuropathy"]), ruleset=ruleset)
    regimen = p["regimen"]
    assert regimen["formulation"] == "hydroxocobalamin"
    assert regimen["oral_product"] is None
    assert all(ph["route"] != "oral" for ph in regimen["phases"])


def test_a_formulation_the_rule_set_does_not_use_is_switched() -> None:
    methyl = {"formulation": "methylcobalamin", "strength_mcg_per_ml": 500, "container_ml": 1}
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"], product=methyl))
    assert p["regimen"]["formulation"] == "hydroxocobalamin"
    assert "FORMULATION_SWITCH" in alert_codes(p)


# -- 4.3 US: FDA cyanocobalamin label ----------------------------------------------------------------------


def test_fda_label_phases() -> None:
    us = plan(case(labs=DEFICIENT_US, causes=["autoimmune_gastritis"]), ruleset="us-cyanocobalamin-label")
    assert regimen_rule(us) == "FDA-CYANO-LABEL"
    assert us["regimen"]["formulation"] == "cyanocobalamin"
    # 100 mcg daily 6-7 days; alternate days x7; every 3-4 days for 2-3 weeks; then monthly for life
    assert [shape(ph) for ph in phases(us)] == [
        ("repletion", "IM", 100, 1, 7, None, False),
        ("repletion", "IM", 100, 2, 7, None, False),
        ("repletion", "IM", 100, 3, 6, None, False),
        ("maintenance", "IM", 100, 30, None, "lifelong", True),
    ]
    assert {ph["volume_ml"] for ph in phases(us)} == {0.1}  # 100 mcg of 1000 mcg/mL is 0.1 mL
    assert phases(us, "maintenance")[0]["interval_range_days"] == [28, 31]


def test_us_hydroxocobalamin_label() -> None:
    hydroxo = "us-hydroxocobalamin-1000mcg-30ml-mdv"
    us = plan(case(labs=DEFICIENT_US, product=hydroxo), ruleset="us-cyanocobalamin-label")
    assert regimen_rule(us) == "US-HYDROXO-LABEL"
    # 30 mcg daily for 5-10 days (7 planned [D]), then 100-200 mcg monthly (100 planned [D])
    assert [shape(ph)[:5] for ph in phases(us)] == [
        ("repletion", "IM", 30, 1, 7),
        ("maintenance", "IM", 100, 30, None),
    ]
    assert phases(us)[0]["volume_ml"] == 0.03


# -- 4.3 US common practice --------------------------------------------------------------------------------


def test_us_common_practice_phases() -> None:
    us = plan(case(labs=DEFICIENT_US, causes=["autoimmune_gastritis"]), ruleset="us-common-practice")
    assert regimen_rule(us) == "AFP-CYANO-1000"
    assert us["regimen"]["formulation"] == "cyanocobalamin"
    # 1000 mcg daily for a week, weekly for 4 weeks, then monthly for life
    assert [shape(ph) for ph in phases(us)] == [
        ("repletion", "IM", 1000, 1, 7, None, False),
        ("repletion", "IM", 1000, 7, 4, None, False),
        ("maintenance", "IM", 1000, 30, None, "lifelong", True),
    ]


@pytest.mark.parametrize("ruleset", ["us-cyanocobalamin-label", "us-common-practice"])
def test_us_rule_sets_use_their_own_formulation_when_no_product_is_named(ruleset: str) -> None:
    p = plan(case(labs=DEFICIENT_US, causes=["unknown"]), ruleset=ruleset)
    assert p["regimen"]["formulation"] == "cyanocobalamin"
    assert p["regimen"]["product"]["id"] == "us-cyanocobalamin-1000mcg-1ml-sdv"


def test_us_oral_preference_is_one_to_two_mg() -> None:
    us = plan(
        case(labs=DEFICIENT_US, causes=["metformin"], preferences={"route": "oral"}),
        ruleset="us-common-practice",
    )
    assert [shape(ph)[:4] for ph in phases(us)] == [("maintenance", "oral", 1000, 1)]
    assert phases(us)[0]["tablets_per_dose"] == 1


def test_us_neurological_involvement_uses_the_same_label_regimen() -> None:
    us = plan(case(labs=DEFICIENT_US, symptoms=["ataxia"]), ruleset="us-cyanocobalamin-label")
    assert regimen_rule(us) == "FDA-CYANO-LABEL"
    assert "NEURO_URGENT" in alert_codes(us)


# -- 4.6 routes, volumes, syringe units --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ruleset", "product", "route", "volume", "units", "unlicensed"),
    [
        ("nice-ng239", "uk-hydroxocobalamin-1mg-1ml-amp", "SC", 1.0, 100, True),
        ("nice-ng239", "uk-hydroxocobalamin-1mg-1ml-amp", "IM", 1.0, None, False),
        ("us-cyanocobalamin-label", "us-cyanocobalamin-1000mcg-1ml-sdv", "SC", 0.1, 10, False),
        ("us-common-practice", "us-cyanocobalamin-1000mcg-10ml-mdv", "SC", 1.0, 100, False),
        ("us-cyanocobalamin-label", "us-hydroxocobalamin-1000mcg-30ml-mdv", "SC", 0.03, 3, True),
    ],
)
def test_route_volume_and_syringe_units(
    ruleset: str, product: str, route: str, volume: float, units: float | None, unlicensed: bool
) -> None:
    p = plan(case(labs=DEFICIENT, product=product, preferences={"route": route}), ruleset=ruleset)
    first = phases(p)[0]
    assert (first["route"], first["volume_ml"], first["syringe_units"]) == (route, volume, units)
    assert ("ROUTE_NOT_LICENSED" in alert_codes(p)) is unlicensed


def test_a_500_microgram_per_ml_product_needs_2_ml() -> None:
    weak = {"formulation": "hydroxocobalamin", "strength_mcg_per_ml": 500, "container_ml": 1}
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"], product=weak))
    first = phases(p)[0]
    assert (first["dose_mcg"], first["volume_ml"], first["containers_per_dose"]) == (1000, 2.0, 2)
    assert "VOLUME_SITE" in alert_codes(p)
    assert "2 mL" in alert(p, "VOLUME_SITE")["message"]


def test_a_product_too_strong_to_measure_is_refused() -> None:
    strong = {"formulation": "cyanocobalamin", "strength_mcg_per_ml": 20000, "container_ml": 1}
    with pytest.raises(CaseError) as refused:
        plan(case(labs=DEFICIENT_US, product=strong), ruleset="us-cyanocobalamin-label")
    assert refused.value.problems[0].field == "product.strength_mcg_per_ml"


def test_a_product_without_its_container_size_has_volumes_but_no_supply() -> None:
    p = plan(case(labs=DEFICIENT, product={"formulation": "hydroxocobalamin", "strength_mcg_per_ml": 1000}))
    assert phases(p)[0]["volume_ml"] == 1.0
    assert phases(p)[0]["containers_per_dose"] is None
    assert p["regimen"]["supply"] is None


# -- 4.3 multi-dose vials and supply -----------------------------------------------------------------------


def test_a_30_ml_vial_is_discarded_after_28_days() -> None:
    vial = "us-cyanocobalamin-1000mcg-30ml-mdv"
    p = plan(
        case(labs=DEFICIENT_US, causes=["autoimmune_gastritis"], product=vial),
        ruleset="us-cyanocobalamin-label",
    )
    assert "MULTIDOSE_DISCARD" in alert_codes(p)
    assert "28 days" in alert(p, "MULTIDOSE_DISCARD")["message"]
    supply = p["regimen"]["supply"]
    # 16 doses in the first vial's 28 days, 4 in the second, then a fresh vial for each monthly dose
    assert (supply["doses"], supply["containers"], supply["total_mcg"]) == (30, 12, 3000)
    assert supply["drawn_ml"] == pytest.approx(3.0)
    assert supply["wasted_ml"] == pytest.approx(12 * 30 - 3.0)


def test_single_use_ampoules_are_counted_one_per_dose() -> None:
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"], product=AMPOULE))
    supply = p["regimen"]["supply"]
    assert supply["containers"] == supply["doses"] == 10  # 6 loading + 4 maintenance in 12 months
    assert "MULTIDOSE_DISCARD" not in alert_codes(p)


# -- NICE: a clinician may choose the maintenance interval inside the range --------------------------------


@pytest.mark.parametrize(
    ("ruleset", "fields", "chosen"),
    [
        ("nice-ng239", {"causes": ["autoimmune_gastritis"]}, 56),
        ("nice-ng239", {"causes": ["autoimmune_gastritis"]}, 70),
        ("nice-ng239", {"causes": ["autoimmune_gastritis"]}, 91),
        ("nice-ng239", {"causes": ["autoimmune_gastritis"], "symptoms": ["ataxia"]}, 61),
        ("us-common-practice", {"causes": ["autoimmune_gastritis"]}, 28),
        ("us-cyanocobalamin-label", {"causes": ["autoimmune_gastritis"]}, 31),
    ],
)
def test_clinician_interval_inside_the_range_is_honoured(
    ruleset: str, fields: dict[str, Any], chosen: int
) -> None:
    labs = DEFICIENT if ruleset == "nice-ng239" else DEFICIENT_US
    doc = case(labs=labs, preferences={"maintenance_interval_days": chosen}, **fields)
    p = plan(doc, ruleset=ruleset)
    assert phases(p, "maintenance")[0]["interval_days"] == chosen
    assert "REGIMEN-CLINICIAN-INTERVAL" in reason_ids(p)
    maintenance = [dt.date.fromisoformat(e["date"]) for e in p["events"] if e.get("stage") == "maintenance"]
    assert len(maintenance) >= 2
    assert {(b - a).days for a, b in itertools.pairwise(maintenance)} == {chosen}


@pytest.mark.parametrize(
    ("ruleset", "fields", "chosen", "allowed"),
    [
        ("nice-ng239", {"causes": ["autoimmune_gastritis"]}, 55, "56-91 days"),
        ("nice-ng239", {"causes": ["autoimmune_gastritis"]}, 92, "56-91 days"),
        ("nice-ng239", {"causes": ["autoimmune_gastritis"], "symptoms": ["ataxia"]}, 84, "56-61 days"),
        ("us-cyanocobalamin-label", {"causes": ["autoimmune_gastritis"]}, 14, "28-31 days"),
        ("nice-ng239", {"causes": ["diet_vegan"]}, 84, "a fixed 1 day"),  # daily tablets
    ],
)
def test_clinician_interval_outside_the_range_is_refused(
    ruleset: str, fields: dict[str, Any], chosen: int, allowed: str
) -> None:
    labs = DEFICIENT if ruleset == "nice-ng239" else DEFICIENT_US
    with pytest.raises(CaseError) as refused:
        plan(case(labs=labs, preferences={"maintenance_interval_days": chosen}, **fields), ruleset=ruleset)
    (problem,) = refused.value.problems
    assert problem.field == "preferences.maintenance_interval_days"
    assert allowed in problem.problem
    assert str(chosen) in problem.problem
