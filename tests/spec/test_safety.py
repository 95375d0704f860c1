"""Safety alerts (REFERENCE 2.4, 4.6, 6; CONTRACT "Alert codes"): each code the inputs can trigger, when it
fires, when it does not, how serious it is, and where it comes from."""

from __future__ import annotations

from typing import Any

import pytest

from b12plan.domain.rules import AlertRule, RuleSet
from casekit import alert, alert_codes, b12, case, lab, plan

CONTRACT_CODES = {
    "NEURO_URGENT",
    "SEVERE_ANAEMIA",
    "HYPOKALAEMIA_RISK",
    "FOLATE_ALONE_RISK",
    "LEBER_CYANOCOBALAMIN",
    "COBALT_ALLERGY",
    "HYPERSENSITIVITY",
    "ANTICOAGULANT_IM",
    "PREGNANCY",
    "N2O_FUNCTIONAL",
    "CONFOUNDER_RENAL",
    "CONFOUNDER_RECENT_TREATMENT",
    "CONFOUNDER_HORMONAL",
    "CONFOUNDER_BIOTIN",
    "CONFOUNDER_PREGNANCY",
    "CONFOUNDER_MYELOMA_HIV",
    "ETHNICITY_RANGE",
    "METFORMIN_CONTINUE",
    "RAISED_B12",
    "VOLUME_SITE",
    "ROUTE_NOT_LICENSED",
    "MULTIDOSE_DISCARD",
    "NO_RETEST_B12",
    "CAUSE_UNKNOWN",
    "GASTRIC_SURVEILLANCE",
    "DESIGN_RULE",
}
# Codes the core adds beyond the contract ("add more as needed").
EXTRA_CODES = {"FORMULATION_SWITCH", "ORAL_NOT_SUITABLE", "TREAT_BEFORE_RESULTS", "CLINICIAN_INTERVAL"}

DEFICIENT = [b12(120)]
PREGNANT = {"age": 30, "sex": "female", "pregnant": True}

# code: (a case that triggers it, its level, the rule set to plan with)
TRIGGERS: dict[str, tuple[dict[str, Any], str, str]] = {
    "NEURO_URGENT": (case(labs=DEFICIENT, symptoms=["vibration_loss"]), "critical", "nice-ng239"),
    "SEVERE_ANAEMIA": (case(labs=[b12(60), lab("hb", 58, "g/L")]), "critical", "nice-ng239"),
    "HYPOKALAEMIA_RISK": (case(labs=[b12(60), lab("hb", 58, "g/L")]), "warning", "nice-ng239"),
    "FOLATE_ALONE_RISK": (case(labs=[b12(140), lab("folate", 2, "ug/L")]), "warning", "nice-ng239"),
    "LEBER_CYANOCOBALAMIN": (
        case(
            labs=DEFICIENT, conditions=["leber_optic_neuropathy"], product="us-cyanocobalamin-1000mcg-1ml-sdv"
        ),
        "critical",
        "nice-ng239",
    ),
    "COBALT_ALLERGY": (case(labs=DEFICIENT, conditions=["cobalt_allergy"]), "warning", "nice-ng239"),
    "HYPERSENSITIVITY": (case(labs=DEFICIENT, conditions=["b12_hypersensitivity"]), "critical", "nice-ng239"),
    "ANTICOAGULANT_IM": (case(labs=DEFICIENT, conditions=["anticoagulant"]), "warning", "nice-ng239"),
    "PREGNANCY": (case(patient=PREGNANT, labs=[lab("holotc", 20, "pmol/L")]), "warning", "nice-ng239"),
    "N2O_FUNCTIONAL": (case(labs=[b12(300)], causes=["nitrous_oxide"]), "warning", "nice-ng239"),
    "CONFOUNDER_RENAL": (case(labs=DEFICIENT, conditions=["renal_impairment"]), "warning", "nice-ng239"),
    "CONFOUNDER_RECENT_TREATMENT": (
        case(labs=DEFICIENT, treatment_started="2026-11-20"),
        "warning",
        "nice-ng239",
    ),
    "CONFOUNDER_HORMONAL": (case(labs=[b12(200)], conditions=["hrt"]), "info", "nice-ng239"),
    "CONFOUNDER_BIOTIN": (case(labs=[b12(200)], conditions=["biotin"]), "warning", "nice-ng239"),
    "CONFOUNDER_PREGNANCY": (case(patient=PREGNANT, labs=[b12(140)]), "warning", "nice-ng239"),
    "CONFOUNDER_MYELOMA_HIV": (case(labs=[b12(150)], conditions=["myeloma"]), "info", "nice-ng239"),
    "ETHNICITY_RANGE": (
        case(patient={"age": 40, "sex": "female", "ethnicity": "black"}, labs=[b12(250)]),
        "info",
        "nice-ng239",
    ),
    "METFORMIN_CONTINUE": (case(labs=DEFICIENT, causes=["metformin"]), "info", "nice-ng239"),
    "RAISED_B12": (case(labs=[b12(1000)]), "info", "nice-ng239"),
    "VOLUME_SITE": (
        case(labs=DEFICIENT, product={"formulation": "hydroxocobalamin", "strength_mcg_per_ml": 500}),
        "warning",
        "nice-ng239",
    ),
    "ROUTE_NOT_LICENSED": (case(labs=DEFICIENT, preferences={"route": "SC"}), "warning", "nice-ng239"),
    "MULTIDOSE_DISCARD": (
        case(labs=[b12(120, "pg/mL")], product="us-cyanocobalamin-1000mcg-10ml-mdv"),
        "info",
        "us-cyanocobalamin-label",
    ),
    "NO_RETEST_B12": (case(labs=DEFICIENT), "info", "nice-ng239"),
    "CAUSE_UNKNOWN": (case(labs=DEFICIENT, causes=["unknown"]), "info", "nice-ng239"),
    "GASTRIC_SURVEILLANCE": (case(labs=DEFICIENT, causes=["autoimmune_gastritis"]), "info", "nice-ng239"),
    "DESIGN_RULE": (case(labs=DEFICIENT), "info", "nice-ng239"),
    "FORMULATION_SWITCH": (
        case(labs=DEFICIENT, product="jp-methylcobalamin-500mcg-1ml-amp"),
        "warning",
        "nice-ng239",
    ),
    "ORAL_NOT_SUITABLE": (
        case(labs=DEFICIENT, causes=["autoimmune_gastritis"], preferences={"route": "oral"}),
        "warning",
        "nice-ng239",
    ),
    "TREAT_BEFORE_RESULTS": (case(labs=[b12(250)], symptoms=["paraesthesia"]), "warning", "nice-ng239"),
    "CLINICIAN_INTERVAL": (
        case(labs=DEFICIENT, preferences={"maintenance_interval_days": 63}),
        "info",
        "nice-ng239",
    ),
}


def test_every_contract_code_has_a_trigger_here() -> None:
    assert set(TRIGGERS) == CONTRACT_CODES | EXTRA_CODES


@pytest.mark.parametrize("ruleset", ["nice-ng239", "us-cyanocobalamin-label", "us-common-practice"])
def test_every_rule_set_defines_every_code(rulesets: dict[str, RuleSet], ruleset: str) -> None:
    defined = {r.code for r in rulesets[ruleset].of(AlertRule)}
    assert defined >= CONTRACT_CODES | EXTRA_CODES


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_alert_fires(code: str) -> None:
    doc, level, ruleset = TRIGGERS[code]
    p = plan(doc, ruleset=ruleset)
    found = alert(p, code)
    assert found["level"] == level
    assert found["message"]
    assert found["source"].startswith("https://") or found["source"] == "b12plan design rule"
    assert found["rules"]
    assert set(found["rules"]) <= {r["rule"] for r in p["reasons"]}


def test_alerts_come_most_serious_first_one_per_code() -> None:
    doc = case(
        labs=[b12(60), lab("hb", 58, "g/L"), lab("folate", 2, "ug/L")],
        symptoms=["ataxia"],
        causes=["autoimmune_gastritis"],
        conditions=["cobalt_allergy", "renal_impairment"],
    )
    p = plan(doc)
    order = {"critical": 0, "warning": 1, "info": 2}
    levels = [order[a["level"]] for a in p["alerts"]]
    assert levels == sorted(levels)
    assert len(alert_codes(p)) == len(set(alert_codes(p)))
    assert alert_codes(p)[:2] == ["NEURO_URGENT", "SEVERE_ANAEMIA"]


# -- details, and when an alert does not fire ---------------------------------------------------------------


def test_worsening_neurological_symptoms_are_an_emergency() -> None:
    p = plan(case(labs=DEFICIENT, symptoms=["ataxia"], symptom_course="worsening"))
    assert "emergency" in alert(p, "NEURO_URGENT")["message"]


def test_no_neurological_alert_without_neurological_symptoms() -> None:
    p = plan(case(labs=DEFICIENT, symptoms=["fatigue", "glossitis", "breathlessness"]))
    assert "NEURO_URGENT" not in alert_codes(p)
    assert p["assessment"]["urgent"] is False


def test_low_potassium_is_named_in_the_hypokalaemia_alert() -> None:
    p = plan(case(labs=[b12(60), lab("hb", 58, "g/L"), lab("potassium", 3.4, "mmol/L")]))
    assert "3.4 mmol/L" in alert(p, "HYPOKALAEMIA_RISK")["message"]
    p = plan(case(labs=[b12(60), lab("hb", 58, "g/L"), lab("potassium", 3.5, "mmol/L")]))
    assert "Potassium is already low" not in alert(p, "HYPOKALAEMIA_RISK")["message"]


def test_no_potassium_alert_without_severe_anaemia() -> None:
    p = plan(case(labs=[b12(60), lab("hb", 90, "g/L"), lab("potassium", 3.0, "mmol/L")]))
    assert "HYPOKALAEMIA_RISK" not in alert_codes(p)


@pytest.mark.parametrize(
    ("folate", "lower_limit", "fires"),
    [(2.9, None, True), (3, None, False), (4, 4.5, True)],  # below 3 ug/L, or below the lab's own limit
)
def test_low_folate(folate: float, lower_limit: float | None, fires: bool) -> None:
    limits = {} if lower_limit is None else {"lower_limit": lower_limit}
    p = plan(case(labs=[b12(140), lab("folate", folate, "ug/L", **limits)]))
    assert ("FOLATE_ALONE_RISK" in alert_codes(p)) is fires


def test_folic_acid_being_taken_is_a_folate_risk() -> None:
    p = plan(case(labs=DEFICIENT, conditions=["taking_folic_acid"]))
    assert "Folic acid is being taken" in alert(p, "FOLATE_ALONE_RISK")["message"]


def test_inr_above_its_range_makes_the_anticoagulant_alert_critical() -> None:
    p = plan(case(labs=[*DEFICIENT, lab("inr", 4.5, upper_limit=3.0)], conditions=["anticoagulant"]))
    found = alert(p, "ANTICOAGULANT_IM")
    assert found["level"] == "critical"
    assert "INR 4.5" in found["message"]
    assert "no IM injection now" in found["message"]
    p = plan(case(labs=[*DEFICIENT, lab("inr", 2.5, upper_limit=3.0)], conditions=["anticoagulant"]))
    assert alert(p, "ANTICOAGULANT_IM")["level"] == "warning"


def test_no_anticoagulant_alert_for_tablets() -> None:
    p = plan(
        case(
            labs=DEFICIENT,
            causes=["unknown"],
            conditions=["bleeding_disorder"],
            preferences={"route": "oral"},
        )
    )
    assert all(ph["route"] == "oral" for ph in p["regimen"]["phases"])
    assert "ANTICOAGULANT_IM" not in alert_codes(p)


def test_leber_alert_only_when_cyanocobalamin_is_in_play() -> None:
    p = plan(case(labs=DEFICIENT, conditions=["leber_optic_neuropathy"]))
    assert "LEBER_CYANOCOBALAMIN" not in alert_codes(p)
    tablet = {"formulation": "cyanocobalamin", "form": "tablet", "strength_mcg": 1000}
    p = plan(case(labs=DEFICIENT, conditions=["leber_optic_neuropathy"], product=tablet))
    assert "LEBER_CYANOCOBALAMIN" in alert_codes(p)  # tablets too: no cyanocobalamin by any route
    assert p["regimen"]["formulation"] == "hydroxocobalamin"


def test_raised_b12_is_above_914_ng_per_litre() -> None:
    assert "RAISED_B12" not in alert_codes(plan(case(labs=[b12(914)])))
    assert "RAISED_B12" in alert_codes(plan(case(labs=[b12(915)])))
    assert "RAISED_B12" in alert_codes(plan(case(labs=[b12(700, "pmol/L")])))  # 949 ng/L


@pytest.mark.parametrize(
    ("product", "fires"),
    [
        ("uk-hydroxocobalamin-1mg-1ml-amp", False),  # 1 mL: what the deltoid takes
        ({"formulation": "hydroxocobalamin", "strength_mcg_per_ml": 500, "container_ml": 2}, True),  # 2 mL
        ("jp-methylcobalamin-500mcg-1ml-amp", False),  # switched to the rule set's 1 mg/mL product
    ],
)
def test_volume_per_site(product: Any, fires: bool) -> None:
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"], product=product))
    assert ("VOLUME_SITE" in alert_codes(p)) is fires


def test_no_retest_and_cause_alerts_only_with_a_regimen() -> None:
    p = plan(case(labs=[b12(250)], causes=["unknown"]))
    assert p["regimen"] is None
    assert not {"NO_RETEST_B12", "CAUSE_UNKNOWN"} & set(alert_codes(p))


def test_design_rule_alert_when_a_design_rule_is_used() -> None:
    p = plan(case(labs=DEFICIENT))
    design = [r["rule"] for r in p["reasons"] if r["evidence"] == "D"]
    assert design
    assert "DESIGN_RULE" in alert_codes(p)
    assert all(r["source"] == "b12plan design rule" for r in p["reasons"] if r["evidence"] == "D")


# -- what every plan carries --------------------------------------------------------------------------------


def test_every_plan_names_common_mistakes_and_what_to_expect() -> None:
    p = plan(case(labs=DEFICIENT, causes=["autoimmune_gastritis"]))
    mistakes = {m["code"] for m in p["mistakes"]}
    assert {"FOLATE_BEFORE_B12", "STOPPING_MAINTENANCE", "STRENGTH_MISMATCH"} <= mistakes
    assert p["expectations"]
    assert all(e["rules"] for e in p["expectations"])
    untreated = plan(case(labs=[b12(420)]))
    assert untreated["expectations"] == []
    assert {m["code"] for m in untreated["mistakes"]} == {"PROGRESSIVE_NEURO_IGNORED", "FOLATE_BEFORE_B12"}


def test_the_disclaimer_is_on_every_plan() -> None:
    assert "prescriber" in plan(case(labs=[b12(420)]))["disclaimer"]
