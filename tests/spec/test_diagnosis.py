"""Diagnosis, read as the guideline tables it implements (REFERENCE 1, 2, 3, 5; NICE NG239, AFP, WHO 2011).

Each table pins the clinical numbers literally; a few tests also read them from the loaded rule set, so a
change to a data file has to change both on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest

from b12plan.domain.codes import LOINC_ALIASES, NEUROLOGICAL_SYMPTOMS, LabTest, Symptom
from b12plan.domain.rules import AnaemiaRule, FunctionalRule, RuleSet
from b12plan.errors import CaseError, UserError
from casekit import alert_codes, b12, case, lab, plan


def status(*labs: dict[str, Any], ruleset: str | None = None, **fields: Any) -> str:
    result: str = plan(case(labs=list(labs), **fields), ruleset=ruleset)["assessment"]["status"]
    return result


# -- 2.1 NICE NG239 thresholds: total B12 ------------------------------------------------------------------


def test_the_rule_set_holds_nice_thresholds(rulesets: dict[str, RuleSet]) -> None:
    total = rulesets["nice-ng239"].threshold(LabTest.B12_TOTAL)
    active = rulesets["nice-ng239"].threshold(LabTest.HOLOTC)
    assert total is not None
    assert active is not None
    assert (total.unit, total.deficient_below, total.unlikely_above) == ("ng/L", 180, 350)
    assert (active.unit, active.deficient_below, active.unlikely_above) == ("pmol/L", 25, 70)
    for us in ("us-cyanocobalamin-label", "us-common-practice"):
        rule = rulesets[us].threshold(LabTest.B12_TOTAL)
        assert rule is not None
        assert (rule.unit, rule.deficient_below, rule.unlikely_above) == ("pg/mL", 180, 350)


TOTAL_B12 = [
    # value, unit, status (NG239: < 180 confirmed; 180-350 inclusive indeterminate [D]; > 350 unlikely)
    (60, "ng/L", "deficient"),
    (179.9, "ng/L", "deficient"),
    (180, "ng/L", "indeterminate"),
    (250, "ng/L", "indeterminate"),
    (350, "ng/L", "indeterminate"),
    (350.1, "ng/L", "unlikely"),
    (1200, "ng/L", "unlikely"),
    (179.9, "pg/mL", "deficient"),  # pg/mL is ng/L
    (180, "pg/mL", "indeterminate"),
    (350, "pg/mL", "indeterminate"),
    (350.1, "pg/mL", "unlikely"),
    # pmol/L: 1 pmol/L = 1.35537 ng/L; NICE's pairs 180 ng/L = 133 pmol/L, 350 ng/L = 258 pmol/L
    (132, "pmol/L", "deficient"),
    (132.8, "pmol/L", "deficient"),  # 179.99 ng/L
    (133, "pmol/L", "indeterminate"),  # 180.3 ng/L
    (150, "pmol/L", "indeterminate"),  # 203 ng/L (shared case v03)
    (258, "pmol/L", "indeterminate"),  # 349.7 ng/L
    (259, "pmol/L", "unlikely"),  # 351.0 ng/L
]


@pytest.mark.parametrize(("value", "unit", "expected"), TOTAL_B12)
def test_total_b12(value: float, unit: str, expected: str) -> None:
    assert status(b12(value, unit)) == expected


@pytest.mark.parametrize(("value", "unit", "expected"), TOTAL_B12)
@pytest.mark.parametrize("ruleset", ["us-cyanocobalamin-label", "us-common-practice"])
def test_total_b12_in_the_us_rule_sets(value: float, unit: str, expected: str, ruleset: str) -> None:
    assert status(b12(value, unit), ruleset=ruleset) == expected


def test_the_threshold_reading_is_shown_with_its_rule() -> None:
    reading = plan(case(labs=[b12(150, "pmol/L")]))["assessment"]["labs"][0]
    assert reading["reported"] == "150 pmol/L"
    assert reading["interpretation"] == "180-350 ng/L: indeterminate"
    assert reading["rules"] == ["NG239-DX-TOTAL"]


# -- 2.1 active B12 (holotranscobalamin) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, "deficient"),
        (24.9, "deficient"),
        (25, "indeterminate"),
        (70, "indeterminate"),
        (70.1, "unlikely"),
    ],
)
def test_active_b12(value: float, expected: str) -> None:
    assert status(lab("holotc", value, "pmol/L")) == expected


@pytest.mark.parametrize(
    ("total", "active", "expected"),
    [
        (400, 20, "deficient"),  # any direct marker in the deficient range confirms (DX-COMBINE)
        (150, 80, "deficient"),
        (400, 80, "unlikely"),  # all in the unlikely range
        (250, 80, "indeterminate"),  # otherwise indeterminate
        (400, 50, "indeterminate"),
    ],
)
def test_total_and_active_combine(total: float, active: float, expected: str) -> None:
    assert status(b12(total), lab("holotc", active, "pmol/L")) == expected


# -- 2.1-2.3 functional markers resolve an indeterminate result ---------------------------------------------


def test_the_rule_sets_hold_documented_default_mma_limits(rulesets: dict[str, RuleSet]) -> None:
    def mma(rid: str) -> tuple[str, float | None]:
        rule = next(r for r in rulesets[rid].of(FunctionalRule) if r.test is LabTest.MMA)
        return rule.unit, rule.default_upper_limit

    assert mma("nice-ng239") == ("umol/L", 0.28)  # BSH: MMA > 280 nmol/L suggestive
    assert mma("us-cyanocobalamin-label") == ("nmol/L", 378)  # one large US lab's limit


@pytest.mark.parametrize(
    ("mma", "expected"),
    [
        (lab("mma", 450, "nmol/L", upper_limit=400), "deficient"),  # above the lab's own limit
        (lab("mma", 0.45, "umol/L", upper_limit=0.40), "deficient"),
        (lab("mma", 350, "nmol/L", upper_limit=400), "unlikely"),  # within the lab's limit
        (lab("mma", 400, "nmol/L", upper_limit=400), "unlikely"),  # at the limit is not above it
        (lab("mma", 0.35, "umol/L", upper_limit=0.40), "unlikely"),  # lab limit beats the 0.28 default
        (lab("mma", 0.29, "umol/L"), "deficient"),  # no lab limit: default 0.28 umol/L
        (lab("mma", 290, "nmol/L"), "deficient"),  # the same, in nmol/L
        (lab("mma", 0.28, "umol/L"), "unlikely"),
    ],
)
def test_mma_resolves_an_indeterminate_total(mma: dict[str, Any], expected: str) -> None:
    assert status(b12(250), mma) == expected


def test_us_default_mma_limit_is_378_nmol_per_litre() -> None:
    us = "us-cyanocobalamin-label"
    assert status(b12(250, "pg/mL"), lab("mma", 379, "nmol/L"), ruleset=us) == "deficient"
    assert status(b12(250, "pg/mL"), lab("mma", 378, "nmol/L"), ruleset=us) == "unlikely"


def test_mma_does_not_override_a_direct_marker() -> None:
    assert status(b12(150), lab("mma", 0.1, "umol/L", upper_limit=0.28)) == "deficient"
    assert status(b12(400), lab("mma", 0.9, "umol/L", upper_limit=0.28)) == "unlikely"


def test_renal_impairment_keeps_a_raised_mma_indeterminate() -> None:
    mma = lab("mma", 450, "nmol/L", upper_limit=400)
    p = plan(case(labs=[b12(250), mma], conditions=["renal_impairment"]))
    assert p["assessment"]["status"] == "indeterminate"
    assert "CONFOUNDER_RENAL" in alert_codes(p)
    normal = lab("mma", 300, "nmol/L", upper_limit=400)
    assert status(b12(250), normal, conditions=["renal_impairment"]) == "unlikely"


def test_homocysteine_alone_does_not_resolve_an_indeterminate_total() -> None:
    assert status(b12(250), lab("homocysteine", 30, "umol/L", upper_limit=15)) == "indeterminate"


def test_only_functional_markers_give_indeterminate() -> None:
    assert status(lab("mma", 0.5, "umol/L")) == "indeterminate"


# -- 2.1, 2.4 nitrous oxide ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labs", "expected"),
    [
        ([b12(400), lab("homocysteine", 55, "umol/L", upper_limit=15)], "deficient"),
        ([b12(400), lab("mma", 0.5, "umol/L", upper_limit=0.28)], "deficient"),
        ([b12(400)], "indeterminate"),  # a normal serum B12 alone does not make it unlikely
        ([b12(150)], "deficient"),
        ([b12(400), lab("homocysteine", 10, "umol/L", upper_limit=15)], "unlikely"),
    ],
)
def test_nitrous_oxide(labs: list[dict[str, Any]], expected: str) -> None:
    p = plan(case(labs=labs, causes=["nitrous_oxide"]))
    assert p["assessment"]["status"] == expected
    assert "N2O_FUNCTIONAL" in alert_codes(p)
    assert "DX-N2O-FUNCTIONAL" in p["assessment"]["rules"]["status"]


def test_nitrous_oxide_without_functional_markers_asks_for_them() -> None:
    p = plan(case(labs=[b12(400)], causes=["nitrous_oxide"]))
    assert {"homocysteine", "mma"} <= set(p["assessment"]["next_tests"])


# -- 2.4 recent treatment, nothing to go on ----------------------------------------------------------------


def test_samples_after_replacement_started_are_uninterpretable() -> None:
    p = plan(case(labs=[b12(900)], treatment_started="2026-11-20"))
    assert p["assessment"]["status"] == "uninterpretable"
    assert "CONFOUNDER_RECENT_TREATMENT" in alert_codes(p)
    assert p["assessment"]["labs"][0]["interpretation"] == "taken after replacement started: not interpreted"


def test_samples_before_replacement_started_are_read() -> None:
    p = plan(case(labs=[b12(120, date="2026-11-01")], treatment_started="2026-11-20"))
    assert p["assessment"]["status"] == "deficient"
    assert "CONFOUNDER_RECENT_TREATMENT" not in alert_codes(p)


@pytest.mark.parametrize("labs", [[], [lab("hb", 120, "g/L")], [lab("folate", 6, "ug/L")]])
def test_no_b12_marker_is_insufficient_data(labs: list[dict[str, Any]]) -> None:
    p = plan(case(labs=labs))
    assert p["assessment"]["status"] == "insufficient_data"
    assert p["assessment"]["next_tests"][0] == "b12_total"
    assert p["regimen"] is None


# -- 3 causes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("causes", "lifelong"),
    [
        (["autoimmune_gastritis"], True),
        (["gastrectomy"], True),
        (["bariatric_surgery"], True),
        (["ileal_resection"], True),
        (["crohns"], True),
        (["diet_vegan"], True),
        (["diet_low_animal"], False),
        (["metformin"], False),
        (["ppi"], False),
        (["nitrous_oxide"], False),
        (["unknown"], None),
        ([], None),
        (["metformin", "autoimmune_gastritis"], True),  # any irreversible cause makes it lifelong
    ],
)
def test_lifelong_by_cause(causes: list[str], lifelong: bool | None) -> None:
    assert plan(case(labs=[b12(120)], causes=causes))["assessment"]["lifelong"] is lifelong


def test_a_positive_ifab_infers_autoimmune_gastritis() -> None:
    p = plan(case(labs=[b12(120), lab("ifab", "positive")], causes=["unknown"]))
    assert p["assessment"]["causes"] == ["autoimmune_gastritis"]  # `unknown` gives way to a known cause
    assert p["assessment"]["lifelong"] is True
    assert "CAUSE-IFAB" in p["assessment"]["rules"]["causes"]


def test_a_negative_ifab_infers_nothing() -> None:
    p = plan(case(labs=[b12(120), lab("ifab", "negative")]))
    assert p["assessment"]["causes"] == []


def test_an_ifab_soon_after_an_injection_is_not_trusted() -> None:
    ifab = lab("ifab", "positive", date="2026-11-25")
    p = plan(case(labs=[b12(120, date="2026-11-01"), ifab], treatment_started="2026-11-20"))
    assert "autoimmune_gastritis" not in p["assessment"]["causes"]
    assert "CONFOUNDER_RECENT_TREATMENT" in alert_codes(p)


# -- 5 anaemia (WHO 2011) ----------------------------------------------------------------------------------


def test_the_rule_sets_hold_who_anaemia_grading(nice: RuleSet) -> None:
    grading = {r.group: (r.unit, r.below, r.severe_below) for r in nice.of(AnaemiaRule)}
    assert grading == {
        "male": ("g/L", 130, 80),
        "female": ("g/L", 120, 80),
        "pregnant": ("g/L", 110, 70),
        "unknown": ("g/L", 130, 80),  # [D] the stricter threshold so anaemia is not missed
    }


@pytest.mark.parametrize(
    ("patient", "hb", "anaemia", "severe"),
    [
        ({"sex": "male"}, 129.9, True, False),
        ({"sex": "male"}, 130, False, False),
        ({"sex": "male"}, 80, True, False),
        ({"sex": "male"}, 79.9, True, True),
        ({"sex": "female"}, 119.9, True, False),
        ({"sex": "female"}, 120, False, False),
        ({"sex": "female"}, 125, False, False),
        ({"sex": "female"}, 79.9, True, True),
        ({"sex": "female", "pregnant": True}, 109.9, True, False),
        ({"sex": "female", "pregnant": True}, 110, False, False),
        ({"sex": "female", "pregnant": True}, 75, True, False),  # severe only below 70 in pregnancy
        ({"sex": "female", "pregnant": True}, 69.9, True, True),
        ({"sex": "other"}, 125, True, False),
        ({}, 125, True, False),
    ],
)
def test_who_anaemia(patient: dict[str, Any], hb: float, anaemia: bool, severe: bool) -> None:
    p = plan(case(patient={"age": 40, **patient}, labs=[b12(150), lab("hb", hb, "g/L")]))
    assert (p["assessment"]["anaemia"], p["assessment"]["severe_anaemia"]) == (anaemia, severe)
    assert p["assessment"]["urgent"] is severe
    assert ("SEVERE_ANAEMIA" in alert_codes(p)) is severe


def test_hb_in_g_per_dl_is_converted() -> None:
    p = plan(case(patient={"age": 70, "sex": "male"}, labs=[b12(150), lab("hb", 7.9, "g/dL")]))
    assert p["assessment"]["severe_anaemia"] is True


def test_the_lab_lower_limit_replaces_who() -> None:
    hb = lab("hb", 115, "g/L", lower_limit=110)
    assert plan(case(labs=[b12(150), hb]))["assessment"]["anaemia"] is False


def test_no_hb_means_anaemia_unknown() -> None:
    a = plan(case(labs=[b12(150)]))["assessment"]
    assert (a["anaemia"], a["severe_anaemia"]) == (None, False)
    assert {"hb", "mcv"} <= set(a["next_tests"])


# -- neurological involvement and urgency (REFERENCE 6, red flags) -----------------------------------------


def test_the_neurological_symptoms_are_the_contracts() -> None:
    assert {s.value for s in NEUROLOGICAL_SYMPTOMS} == {
        "paraesthesia",
        "numbness",
        "ataxia",
        "vibration_loss",
        "proprioception_loss",
        "weakness",
        "cognitive",
        "psychiatric",
        "visual",
    }


@pytest.mark.parametrize("symptom", [s.value for s in Symptom])
def test_each_symptom(symptom: str) -> None:
    neuro = Symptom(symptom) in NEUROLOGICAL_SYMPTOMS
    a = plan(case(labs=[b12(150)], symptoms=[symptom]))["assessment"]
    assert (a["neurological"], a["urgent"]) == (neuro, neuro)


# -- next tests (NG239 as quoted, AFP) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "wanted", "not_wanted"),
    [
        ({"labs": [b12(250)]}, ["mma"], []),
        ({"labs": [b12(120)]}, ["ifab", "hb", "mcv", "folate"], ["mma"]),
        ({"labs": [b12(120), lab("ifab", "negative")]}, [], ["ifab"]),
        ({"labs": [b12(120)], "causes": ["autoimmune_gastritis"]}, ["folate"], ["ifab"]),
        (
            {"labs": [b12(140)], "patient": {"age": 30, "sex": "female", "pregnant": True}},
            ["holotc"],
            [],
        ),
        (
            {
                "labs": [lab("holotc", 20, "pmol/L")],
                "patient": {"age": 30, "sex": "female", "pregnant": True},
            },
            [],
            ["holotc"],
        ),
        ({"labs": [b12(60), lab("hb", 60, "g/L")]}, ["potassium"], []),
        ({"labs": [b12(60), lab("hb", 60, "g/L"), lab("potassium", 4, "mmol/L")]}, [], ["potassium"]),
        ({"labs": [b12(120)], "conditions": ["anticoagulant"]}, ["inr"], []),
        ({"labs": [b12(420)]}, [], ["mma", "hb", "folate"]),  # unlikely: nothing more to order
    ],
)
def test_next_tests(fields: dict[str, Any], wanted: list[str], not_wanted: list[str]) -> None:
    tests = plan(case(**fields))["assessment"]["next_tests"]
    assert set(wanted) <= set(tests)
    assert not set(not_wanted) & set(tests)


# -- 1 units and entry errors: refused, naming the field (and the lab's test) ------------------------------


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        (b12(120, "mg"), "labs[0] (b12_total).unit", ["'mg'", "ng/L"]),
        ({"test": "b12_total", "value": 150}, "labs[0] (b12_total).unit", ["required", "never guesses"]),
        (b12(-5), "labs[0] (b12_total).value", ["plausible"]),
        (b12(0), "labs[0] (b12_total).value", ["plausible"]),
        (b12(200000), "labs[0] (b12_total).value", ["plausible"]),
        (lab("hb", 10, "g/L"), "labs[0] (hb).value", ["plausible"]),
        (lab("hb", 261, "g/L"), "labs[0] (hb).value", ["plausible"]),
        (lab("holotc", 40, "ng/L"), "labs[0] (holotc).unit", ["pmol/L"]),
        (lab("mma", -0.1, "umol/L"), "labs[0] (mma).value", ["plausible"]),
        (lab("reticulocytes", -5, "10*9/L"), "labs[0] (reticulocytes).value", ["plausible"]),
        (lab("ifab", 3), "labs[0] (ifab).value", ["positive or negative"]),
        (b12("positive"), "labs[0] (b12_total).value", ["only for ifab"]),
        (b12(120, upper_limit=-1), "labs[0] (b12_total).upper_limit", ["above zero"]),
        (lab("vitamin_d", 50, "nmol/L"), "labs[0] (vitamin_d).test", ["not a known code"]),
    ],
)
def test_lab_entry_errors_are_refused(entry: dict[str, Any], field: str, words: list[str]) -> None:
    with pytest.raises(CaseError) as refused:
        plan(case(labs=[entry]))
    fields = [p.field for p in refused.value.problems]
    assert field in fields, refused.value.lines
    text = str(refused.value)
    for word in words:
        assert word in text


def test_every_bad_lab_is_named_at_once() -> None:
    with pytest.raises(CaseError) as refused:
        plan(case(labs=[b12(120, "mg"), lab("hb", 98, "g/L"), lab("folate", -1, "ug/L")]))
    assert [p.field for p in refused.value.problems] == [
        "labs[0] (b12_total).unit",
        "labs[2] (folate).value",
    ]


def test_active_above_total_on_the_same_day_is_refused() -> None:
    same_day = [b12(100, "pmol/L"), lab("holotc", 120, "pmol/L")]
    with pytest.raises(CaseError, match=r"labs\[1\] \(holotc\)\.value: active B12"):
        plan(case(labs=same_day))
    other_day = [b12(100, "pmol/L", date="2026-10-01"), lab("holotc", 120, "pmol/L")]
    assert plan(case(labs=other_day))["assessment"]["status"] == "deficient"  # the total confirms


@pytest.mark.parametrize("unit", ["umol/L", "µmol/L", "μmol/L", "UMOL/L", "mcmol/L"])
def test_micro_spellings_are_accepted(unit: str) -> None:
    assert status(b12(250), lab("mma", 0.5, unit, upper_limit=0.28)) == "deficient"


def test_inr_needs_no_unit() -> None:
    p = plan(case(labs=[b12(120), lab("inr", 2.5)], conditions=["anticoagulant"]))
    assert p["assessment"]["labs"][1]["test"] == "inr"


@pytest.mark.parametrize(
    ("code", "test"), sorted(LOINC_ALIASES.items()), ids=lambda v: str(getattr(v, "value", v))
)
def test_loinc_codes_are_aliases(code: str, test: LabTest) -> None:
    entry = {"test": code, "value": "positive" if test is LabTest.IFAB else 1.0}
    if test in (LabTest.IFAB, LabTest.INR):  # no unit needed
        assert plan(case(labs=[entry]))["assessment"]["labs"][0]["test"] == test.value
        return
    with pytest.raises(UserError) as refused:  # a number needs a unit: the refusal names our code
        plan(case(labs=[entry]))
    assert refused.value.problems[0].field == f"labs[0] ({test.value}).unit"


def test_loinc_alias_plans_like_our_code() -> None:
    ours = plan(case(labs=[b12(120), lab("hb", 98, "g/L")]))
    loinc = plan(case(labs=[lab("2132-9", 120, "ng/L"), lab("718-7", 98, "g/L")]))
    assert loinc["assessment"] == ours["assessment"]


# -- 2.4 confounders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"conditions": ["renal_impairment"]}, "CONFOUNDER_RENAL"),
        ({"conditions": ["hormonal_contraception"]}, "CONFOUNDER_HORMONAL"),
        ({"conditions": ["hrt"]}, "CONFOUNDER_HORMONAL"),
        ({"conditions": ["biotin"]}, "CONFOUNDER_BIOTIN"),
        ({"conditions": ["myeloma"]}, "CONFOUNDER_MYELOMA_HIV"),
        ({"conditions": ["hiv"]}, "CONFOUNDER_MYELOMA_HIV"),
        ({"patient": {"age": 30, "sex": "female", "pregnant": True}}, "CONFOUNDER_PREGNANCY"),
        ({"patient": {"age": 30, "sex": "female", "ethnicity": "Black"}}, "ETHNICITY_RANGE"),
    ],
)
def test_confounders_raise_alerts(fields: dict[str, Any], code: str) -> None:
    assert code in alert_codes(plan(case(labs=[b12(250)], **fields)))


def test_ethnicity_alert_only_where_the_cut_off_could_mislead() -> None:
    black = {"age": 30, "sex": "male", "ethnicity": "black"}
    assert "ETHNICITY_RANGE" not in alert_codes(plan(case(patient=black, labs=[b12(120)])))
    assert "ETHNICITY_RANGE" in alert_codes(plan(case(patient=black, labs=[b12(400)])))


def test_pregnancy_with_active_b12_is_not_a_total_b12_confounder() -> None:
    pregnant = {"age": 30, "sex": "female", "pregnant": True}
    codes = alert_codes(plan(case(patient=pregnant, labs=[lab("holotc", 20, "pmol/L")])))
    assert "PREGNANCY" in codes
    assert "CONFOUNDER_PREGNANCY" not in codes
