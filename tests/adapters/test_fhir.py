"""FHIR R4: export a plan as a Bundle, import resources as a case, and the code checks in between.

Plans are built by hand in fixtures/plan_*.json (the planner is not used here); the FHIR inputs in
fixtures/ are hand-written in the shape of the official R4 examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from b12plan.adapters import fhir
from b12plan.adapters.fhir import (
    AdministrationRecord,
    bundle_to_case,
    check_resources,
    load_codes,
    plan_to_fhir_bundle,
    read_manifest,
    read_resources,
    resources_from_bundle,
    resources_from_ndjson,
)
from b12plan.adapters.fhir.codes import (
    atc_valid,
    parse_codes,
    snomed_id_valid,
    verhoeff_check_digit,
    verhoeff_valid,
)
from b12plan.domain.case import parse_case
from b12plan.domain.codes import EventKind, Route
from b12plan.domain.plan import Plan
from b12plan.errors import DataError, UserError

FIXTURES = Path(__file__).parent / "fixtures"
CODES_TOML = Path(fhir.__file__).parents[2] / "data" / "codes.toml"
SCT, LOINC, UCUM = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
ROUTE_SNOMED = {Route.IM: "78421000", Route.SC: "34206005", Route.ORAL: "26643006", Route.IV: "47625008"}
AS_OF = dt.date(2026, 1, 11)


def load_plan(name: str) -> Plan:
    return Plan.model_validate_json((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def read_bulk(*names: str) -> list[dict[str, Any]]:
    lines: list[str] = []
    for name in names:
        lines += (FIXTURES / "bulk" / name).read_text(encoding="utf-8").splitlines()
    return resources_from_ndjson(lines)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


# --- Verhoeff, SNOMED CT and ATC checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    [("236", "3"), ("12345", "1"), ("142857", "0"), ("123456789012", "0"), ("8473643095483728456789", "2")],
)
def test_verhoeff_vectors(digits: str, check: str) -> None:
    assert verhoeff_check_digit(digits) == check
    assert verhoeff_valid(digits + check)
    assert not verhoeff_valid(digits + str((int(check) + 1) % 10))


@pytest.mark.parametrize("code", ["84027009", "78421000", "34206005", "26643006", "419382002", "1217427007"])
def test_verhoeff_catches_every_single_digit_error_and_adjacent_swap(code: str) -> None:
    assert verhoeff_valid(code)
    assert snomed_id_valid(code)
    for i, digit in enumerate(code):
        for other in "0123456789".replace(digit, ""):
            assert not verhoeff_valid(code[:i] + other + code[i + 1 :])
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            assert not verhoeff_valid(code[:i] + code[i + 1] + code[i] + code[i + 2 :])


@pytest.mark.parametrize("bad", ["", "12a4", "２３６３", "-2363"])
def test_verhoeff_refuses_non_digits(bad: str) -> None:
    assert not verhoeff_valid(bad)


def test_snomed_id_shape() -> None:
    assert not snomed_id_valid("26452001")  # a wrong check digit (seen in the wild for partial gastrectomy)
    assert not snomed_id_valid("2363")  # too short
    assert not snomed_id_valid("084027009")  # leading zero
    assert not snomed_id_valid("100022")  # partition 02: a relationship id, not a concept


@pytest.mark.parametrize(
    ("code", "any_level", "substance"),
    [("B03BA03", True, True), ("B03BA", True, False), ("A02BC", True, False), ("B", True, False),
     ("B03", True, False), ("b03ba03", False, False), ("B03BA3", False, False), ("X03BA03", False, False),
     ("B03BA031", False, False)],
)  # fmt: skip
def test_atc_shape(code: str, any_level: bool, substance: bool) -> None:
    assert atc_valid(code) is any_level
    assert atc_valid(code, substance=True) is substance


def test_every_code_in_codes_toml_passes_our_checks() -> None:
    tables = load_codes()
    codings = list(tables.all_codings())
    assert {c.system for c in codings} >= {"snomed", "atc", "loinc", "ucum", "icd10"}
    for coding in codings:
        assert coding.display, coding
        assert coding.source.startswith("https://"), coding
        if coding.system == "snomed":
            assert snomed_id_valid(coding.code), coding
        if coding.system == "atc":
            assert atc_valid(coding.code), coding


def test_every_snomed_id_in_the_file_text_passes_verhoeff() -> None:
    """Also the ids in comments: a code quoted anywhere in the data file must be a real id. RxNorm ids
    (plain numbers, no check digit) are the only other long numbers in it."""
    text = CODES_TOML.read_text(encoding="utf-8")
    rxnorm = {c.code for c in load_codes().all_codings() if c.system == "rxnorm"}
    ids = set(re.findall(r"(?<![\d.-])\d{6,18}(?![\d.-])", text)) - rxnorm
    assert len(ids) > 20
    assert sorted(i for i in ids if not verhoeff_valid(i)) == []


def test_rxnorm_ids_are_marked_for_checking() -> None:
    """RxNorm ids have no check digit to catch a typo: each stays `verify = true` until checked (RxNav)."""
    rxnorm = [c for c in load_codes().all_codings() if c.system == "rxnorm"]
    assert {c.code for c in rxnorm} >= {"309594", "6809", "7646", "4511", "11289"}
    assert all(c.verify for c in rxnorm), [c.code for c in rxnorm if not c.verify]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('code = "84027009"', 'code = "84027008"', "finding[0]: '84027008' is not a valid SNOMED CT"),
        ('cause = "crohns"', 'cause = "crohn"', "'crohn' is not a Cause code"),
        ('code = "B03BA03"', 'code = "B3BA03"', "not an ATC code"),
        ('code = "2132-9"', 'code = "2132-8"', "not a LOINC alias of b12_total"),
    ],
)
def test_a_bad_code_table_names_the_item(old: str, new: str, message: str) -> None:
    text = CODES_TOML.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(DataError, match=re.escape(message)):
        parse_codes(text.replace(old, new, 1))


# --- Export ------------------------------------------------------------------------------------------------


@pytest.fixture(params=["plan_im_loading", "plan_sc_neuro", "plan_oral"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return load_plan(request.param)


def test_bundle_validates_with_the_r4b_models(plan: Plan) -> None:
    bundle = plan_to_fhir_bundle(plan)
    assert Bundle.model_validate(bundle).type == "collection"
    assert check_resources([e["resource"] for e in bundle["entry"]]) == []
    assert json.loads(json.dumps(bundle)) == bundle


def test_medication_request_phases_match_the_plan_phases(plan: Plan) -> None:
    assert plan.regimen is not None
    [request] = resources(plan_to_fhir_bundle(plan), "MedicationRequest")
    dosages = request["dosageInstruction"]
    assert [d["sequence"] for d in dosages] == list(range(1, len(plan.regimen.phases) + 1))
    for phase, dosage in zip(plan.regimen.phases, dosages, strict=True):
        repeat = dosage["timing"]["repeat"]
        if phase.times_per_week:
            assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (
                phase.times_per_week,
                1,
                "wk",
            )
        else:
            assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (
                1,
                phase.interval_days,
                "d",
            )
        assert repeat.get("count") == phase.doses
        if phase.doses is None and phase.until and not phase.lifelong and phase.review_after_days:
            assert repeat["boundsDuration"]["code"] == "d"
            assert repeat["boundsDuration"]["value"] == phase.review_after_days
        else:
            assert "boundsDuration" not in repeat
        assert dosage["route"]["coding"][0] == {
            "system": SCT,
            "code": ROUTE_SNOMED[phase.route],
            "display": load_codes().routes[phase.route].display,
        }
        assert dosage["doseAndRate"][0]["doseQuantity"] == {
            "value": phase.dose_mcg,
            "unit": "microgram",
            "system": UCUM,
            "code": "ug",
        }
        assert f"{phase.dose_mcg:g} micrograms" in dosage["text"]
        if phase.volume_ml is not None:
            assert f"({phase.volume_ml:g} mL" in dosage["text"]


def test_loading_then_maintenance_shape() -> None:
    """NHS dose-syntax shape: 3 per 1 wk, 6 doses; then 1 per 84 d, for life."""
    [request] = resources(plan_to_fhir_bundle(load_plan("plan_im_loading")), "MedicationRequest")
    first, second = (d["timing"]["repeat"] for d in request["dosageInstruction"])
    assert first == {"frequency": 3, "period": 1, "periodUnit": "wk", "count": 6}
    assert second == {"frequency": 1, "period": 84, "periodUnit": "d"}
    assert request["courseOfTherapyType"]["coding"][0]["code"] == "continuous"
    assert request["medicationCodeableConcept"]["coding"] == [
        {"system": SCT, "code": "1217427007", "display": "Aquacobalamin (substance)"},
        {"system": "http://www.whocc.no/atc", "code": "B03BA03", "display": "hydroxocobalamin"},
    ]


def test_open_ended_phase_is_bounded_by_its_review() -> None:
    plan = load_plan("plan_sc_neuro")
    [request] = resources(plan_to_fhir_bundle(plan), "MedicationRequest")
    repeat = request["dosageInstruction"][0]["timing"]["repeat"]
    review = next(e.date for e in plan.events if e.kind is EventKind.REVIEW)
    days = (review - plan.generated_for).days
    assert repeat["boundsDuration"] == {"value": days, "unit": "day", "system": UCUM, "code": "d"}
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (1, 2, "d")
    assert "100 units on a U-100 syringe" in request["dosageInstruction"][0]["text"]
    assert "until clinical review" in request["dosageInstruction"][0]["text"]


def test_no_bound_is_guessed_without_review_after_days() -> None:
    """A bound guessed from event dates could end maintenance at an unrelated review: none is written."""
    plan = load_plan("plan_sc_neuro")
    assert plan.regimen is not None
    first, *rest = plan.regimen.phases
    phases = [first.model_copy(update={"review_after_days": None}), *rest]
    plan = plan.model_copy(update={"regimen": plan.regimen.model_copy(update={"phases": phases})})
    [request] = resources(plan_to_fhir_bundle(plan), "MedicationRequest")
    assert "boundsDuration" not in request["dosageInstruction"][0]["timing"]["repeat"]
    assert "until clinical review" in request["dosageInstruction"][0]["text"]


def test_oral_daily() -> None:
    [request] = resources(plan_to_fhir_bundle(load_plan("plan_oral")), "MedicationRequest")
    dosage = request["dosageInstruction"][1]
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert dosage["route"]["coding"][0]["code"] == "26643006"
    assert "by mouth every day" in dosage["text"]


def test_care_plan_has_one_activity_per_test_and_review(plan: Plan) -> None:
    bundle = plan_to_fhir_bundle(plan, patient_ref="Patient/p1")
    [care_plan] = resources(bundle, "CarePlan")
    planned = [e for e in plan.events if e.kind in (EventKind.TEST, EventKind.REVIEW)]
    activities = [a["detail"] for a in care_plan["activity"]]
    assert len(activities) == len(planned)
    loinc = load_codes().lab_tests
    for event, detail in zip(planned, activities, strict=True):
        assert detail["scheduledPeriod"] == {"start": event.date.isoformat(), "end": event.date.isoformat()}
        if event.kind is EventKind.TEST:
            assert detail["kind"] == "ServiceRequest"
            assert [c["code"] for c in detail["code"]["coding"]] == [loinc[t].code for t in event.tests or []]
            assert all(c["system"] == LOINC for c in detail["code"]["coding"])
        else:
            assert detail["kind"] == "Appointment"
    [request] = resources(bundle, "MedicationRequest")
    assert request["basedOn"] == [{"reference": f"urn:uuid:{care_plan['id']}"}]
    assert care_plan["subject"] == request["subject"] == {"reference": "Patient/p1"}


def test_ids_are_stable_for_the_same_patient_and_plan() -> None:
    plan = load_plan("plan_im_loading")
    assert plan_to_fhir_bundle(plan) == plan_to_fhir_bundle(plan)
    other = plan_to_fhir_bundle(plan, patient_ref="Patient/other")
    assert other["id"] != plan_to_fhir_bundle(plan)["id"]


def test_status_defaults_to_a_proposal_and_can_be_an_order() -> None:
    plan = load_plan("plan_im_loading")
    [draft] = resources(plan_to_fhir_bundle(plan), "MedicationRequest")
    assert (draft["status"], draft["intent"]) == ("draft", "proposal")
    bundle = plan_to_fhir_bundle(plan, status="active", intent="order")
    [order] = resources(bundle, "MedicationRequest")
    assert (order["status"], order["intent"]) == ("active", "order")
    assert resources(bundle, "CarePlan")[0]["intent"] == "plan"
    with pytest.raises(ValueError, match="status"):
        plan_to_fhir_bundle(plan, status="completed")  # type: ignore[arg-type]


def test_recorded_doses_become_medication_administrations() -> None:
    plan = load_plan("plan_im_loading")
    given = [
        AdministrationRecord(
            dt.datetime(2026, 1, 5, 9, 12, tzinfo=dt.UTC), 1000, Route.IM, "left deltoid", "LOT-7", 1.0
        ),
        AdministrationRecord(dt.datetime(2026, 1, 7, 9, 5, tzinfo=dt.UTC), 1000, Route.IM),
    ]
    bundle = plan_to_fhir_bundle(plan, administrations=given)
    first, second = resources(bundle, "MedicationAdministration")
    [request] = resources(bundle, "MedicationRequest")
    assert first["status"] == "completed"
    assert first["effectiveDateTime"] == "2026-01-05T09:12:00Z"
    assert first["dosage"]["dose"] == {"value": 1000.0, "unit": "microgram", "system": UCUM, "code": "ug"}
    assert first["dosage"]["site"] == {"text": "left deltoid"}
    assert "(1 mL)" in first["dosage"]["text"]
    assert first["contained"][0]["batch"] == {"lotNumber": "LOT-7"}
    assert first["medicationReference"] == {"reference": "#med"}
    assert first["request"] == {"reference": f"urn:uuid:{request['id']}"}
    assert second["medicationCodeableConcept"]["coding"][0]["code"] == "1217427007"
    assert first["id"] != second["id"]
    with pytest.raises(ValueError, match="UTC offset"):
        plan_to_fhir_bundle(
            plan, administrations=[AdministrationRecord(dt.datetime(2026, 1, 5), 1000, Route.IM)]
        )


def test_a_plan_without_a_regimen_still_gives_its_tests() -> None:
    plan = load_plan("plan_oral")
    plan = plan.model_copy(
        update={"regimen": None, "events": [e for e in plan.events if e.kind is not EventKind.ORAL]}
    )
    bundle = plan_to_fhir_bundle(plan)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["CarePlan"]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("status",), "completed", "status 'completed'"),
        (("intent",), "plan", "intent 'plan'"),
        (("route", "coding", 0, "code"), "78421001", "fails the check digit"),
        (("timing", "repeat", "periodUnit"), None, "needs period and periodUnit"),
        (("doseAndRate", 0, "doseQuantity", "code"), "mg", "not in UCUM ug"),
        (("sequence",), 2, "sequences are not 1.."),
    ],
)
def test_our_checks_catch_what_fhir_resources_accepts(
    path: tuple[Any, ...], value: Any, problem: str
) -> None:
    [request] = resources(plan_to_fhir_bundle(load_plan("plan_im_loading")), "MedicationRequest")
    bad = copy.deepcopy(request)
    node = bad if path[0] in ("status", "intent") else bad["dosageInstruction"][0]
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert any(problem in p for p in check_resources([bad])), check_resources([bad])


# --- Official-shape inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["observation-b12.json", "patient-example.json", "bundle-b12-workup.json"])
def test_fixtures_parse_with_the_r4b_models(name: str) -> None:
    data = load_json(name)
    model = get_fhir_model_class(data["resourceType"]).model_validate(data)
    assert model.id == data["id"]


@pytest.mark.parametrize("name", ["Patient.ndjson", "Observation.ndjson", "OperationOutcome.ndjson"])
def test_bulk_fixtures_parse_with_the_r4b_models(name: str) -> None:
    for resource in read_bulk(name):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


# --- Import -----------------------------------------------------------------------------------------------

EXPECTED_CASE = {
    "patient": {"age": 51, "sex": "female"},
    "labs": [
        {"test": "b12_total", "value": 110.0, "unit": "pmol/L", "upper_limit": 569, "lower_limit": 145,
         "date": "2026-01-02"},
        {"test": "holotc", "value": 22.0, "unit": "pmol/L", "lower_limit": 25, "date": "2026-01-02"},
        {"test": "mma", "value": 0.62, "unit": "umol/L", "upper_limit": 0.28, "date": "2026-01-02"},
        {"test": "homocysteine", "value": 21.5, "unit": "umol/L", "upper_limit": 15, "date": "2026-01-02"},
        {"test": "hb", "value": 98.0, "unit": "g/L", "upper_limit": 165, "lower_limit": 115,
         "date": "2026-01-02"},
        {"test": "mcv", "value": 108.0, "unit": "fL", "upper_limit": 100, "lower_limit": 80,
         "date": "2026-01-02"},
        {"test": "folate", "value": 6.1, "unit": "ng/mL", "lower_limit": 3.9, "date": "2026-01-02"},
        {"test": "potassium", "value": 4.1, "unit": "mmol/L", "upper_limit": 5.3, "lower_limit": 3.5,
         "date": "2026-01-02"},
        {"test": "reticulocytes", "value": 0.6, "unit": "%", "upper_limit": 2.5, "lower_limit": 0.5,
         "date": "2026-01-02"},
        {"test": "inr", "value": 1.1, "date": "2026-01-02"},
        {"test": "ifab", "value": "positive", "date": "2026-01-02"},
    ],
    "causes": ["autoimmune_gastritis", "metformin", "ppi"],
    "conditions": ["renal_impairment", "anticoagulant"],
}  # fmt: skip


def test_official_shape_bundle_gives_the_expected_case() -> None:
    result = bundle_to_case(resources_from_bundle(load_json("bundle-b12-workup.json")), as_of=AS_OF)
    assert result.case == EXPECTED_CASE
    case = parse_case(result.case)
    assert case.patient.age == 51
    assert [lab.test.value for lab in case.labs][:2] == ["b12_total", "holotc"]


def test_nothing_is_dropped_silently() -> None:
    result = bundle_to_case(resources_from_bundle(load_json("bundle-b12-workup.json")), as_of=AS_OF)
    assert result.unknown == [
        "Observation/glucose: code http://loinc.org|2345-7 (Glucose [Mass/volume] in Serum or Plasma) "
        "is not a test we read",
        "Condition/hypertension: code http://snomed.info/sct|38341003 (Hypertensive disorder) is not mapped",
        "MedicationStatement/amlodipine: medication http://www.whocc.no/atc|C08CA01 (amlodipine) "
        "is not mapped",
        "Encounter/gp-visit: resource type not read",
    ]
    assert result.notes == [
        "Observation/b12-error (b12_total): status 'entered-in-error'; not read",
        "Condition/pregnancy-2019: Pregnancy is resolved; not read",
    ]


def test_single_observation_in_mass_units() -> None:
    result = bundle_to_case([load_json("observation-b12.json")], as_of=AS_OF)
    assert result.case["labs"] == [
        {"test": "b12_total", "value": 150.0, "unit": "pg/mL", "upper_limit": 771, "lower_limit": 197,
         "date": "2026-01-02"}
    ]  # fmt: skip
    assert result.notes == ["no Patient birthDate: patient.age must be added by hand"]


def obs(**fields: Any) -> dict[str, Any]:
    base = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/x"},
    }
    return {**base, **fields}


def loinc(code: str = "31443-5") -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}]}


V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"valueCodeableConcept": {"coding": [{"system": SCT, "code": "260385009"}]}}, "negative"),
        ({"valueString": "Positive"}, "positive"),
        ({"valueQuantity": {"value": 45, "unit": "U/mL"},
          "interpretation": [{"coding": [{"system": V3, "code": "H"}]}]}, "positive"),
        ({"valueQuantity": {"value": 1.2, "unit": "U/mL"},
          "interpretation": [{"coding": [{"system": V3, "code": "N"}]}]}, "negative"),
    ],
)  # fmt: skip
def test_ifab_reads_coded_text_or_interpretation(fields: dict[str, Any], expected: str) -> None:
    result = bundle_to_case([obs(code=loinc(), **fields)], as_of=AS_OF)
    assert result.case["labs"] == [{"test": "ifab", "value": expected}]
    assert result.unknown == []


def test_ifab_without_a_reading_is_reported() -> None:
    result = bundle_to_case(
        [obs(code=loinc("31444-3"), valueQuantity={"value": 9, "unit": "U/mL"})], as_of=AS_OF
    )
    assert result.case["labs"] == []
    assert result.unknown == ["Observation/o1 (ifab): no value we can read"]


@pytest.mark.parametrize(
    ("fields", "reported"),
    [
        ({"valueQuantity": {"value": 150, "unit": "mg", "system": UCUM, "code": "mg"}},
         "Observation/o1 (b12_total): unit 'mg': 'mg' is not a unit for b12_total"),
        ({"dataAbsentReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                           "code": "error"}]}},
         "Observation/o1 (b12_total): http://terminology.hl7.org/CodeSystem/data-absent-reason|error"),
    ],
)  # fmt: skip
def test_unreadable_values_are_reported(fields: dict[str, Any], reported: str) -> None:
    result = bundle_to_case([obs(code=loinc("2132-9"), **fields)], as_of=AS_OF)
    assert result.case["labs"] == []
    assert len(result.unknown) == 1
    assert result.unknown[0].startswith(reported)


def test_conditions_by_icd10_category_and_medicines_by_name() -> None:
    found = [
        {"resourceType": "Condition", "id": "c1", "code": {"coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K50.012"}]}},
        {"resourceType": "Procedure", "id": "p1", "status": "completed", "code": {"coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z90.3"}]}},
        {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
         "medicationCodeableConcept": {"text": "Apixaban 5mg tablets"}},
        {"resourceType": "MedicationStatement", "id": "m2", "status": "stopped",
         "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "B01AF01"}]}},
        {"resourceType": "MedicationStatement", "id": "m3", "status": "completed",
         "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "A02BC02"}]}},
        {"resourceType": "Condition", "id": "c2", "code": {"coding": [{"system": SCT, "code": "77386006"}]}},
    ]  # fmt: skip
    result = bundle_to_case(found, as_of=AS_OF)
    assert result.case["causes"] == ["crohns", "gastrectomy", "ppi"]
    assert result.case["conditions"] == ["anticoagulant"]
    assert result.case["patient"] == {"pregnant": True}
    assert result.notes[0] == "MedicationStatement/m2: anticoagulant is stopped; not read as current"
    assert result.unknown == []


@pytest.mark.parametrize(
    ("patient", "reported"),
    [
        ({"birthDate": "1990-02-31"}, "Patient/x: birthDate '1990-02-31' is not a date before 2026-01-11"),
        ({"birthDate": "2030-01-01"}, "Patient/x: birthDate '2030-01-01' is not a date before 2026-01-11"),
        ({}, "Patient/x: no birthDate; patient.age must be given"),
    ],
)
def test_unreadable_birth_dates_are_reported(patient: dict[str, str], reported: str) -> None:
    result = bundle_to_case([{"resourceType": "Patient", "id": "x", **patient}], as_of=AS_OF)
    assert result.unknown == [reported]
    assert "age" not in result.case["patient"]


def test_a_missing_referenced_medication_is_reported() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "active",
        "medicationReference": {"reference": "Medication/gone"},
    }
    result = bundle_to_case([statement], as_of=AS_OF)
    assert result.unknown == [
        "MedicationStatement/m1: medicationReference Medication/gone is not in the resources"
    ]


def test_refuted_diagnosis_is_not_read() -> None:
    refuted = {
        "resourceType": "Condition",
        "id": "c1",
        "code": {"coding": [{"system": SCT, "code": "84027009"}]},
        "verificationStatus": {"coding": [{"code": "refuted"}]},
    }
    result = bundle_to_case([refuted], as_of=AS_OF)
    assert result.case["causes"] == []
    assert result.notes[0].startswith("Condition/c1: Pernicious anemia is refuted")


def test_bulk_export_ndjson_and_manifest_with_outcome_or_error() -> None:
    manifest = load_json("bulk/manifest.json")
    files = read_manifest(manifest)
    assert [f.url for f in files.output] == ["Patient.ndjson", "Observation.ndjson"]
    assert [f.url for f in files.errors] == ["OperationOutcome.ndjson"]
    older = {**{k: v for k, v in manifest.items() if k != "outcome"}, "error": manifest["outcome"]}
    assert read_manifest(older) == files
    result = bundle_to_case(read_bulk(*(f.url for f in (*files.output, *files.errors))), as_of=AS_OF)
    assert result.case["patient"] == {"age": 75, "sex": "male"}
    assert result.case["labs"] == [
        {"test": "b12_total", "value": 160.0, "unit": "pg/mL", "upper_limit": 900, "date": "2026-01-05"},
        {"test": "hb", "value": 13.1, "unit": "g/dL", "date": "2026-01-05"},
    ]
    assert result.unknown == ["OperationOutcome/export-1: export error: Condition export failed: timeout"]
    assert result.notes == ["Patient/p2: birthDate 1950-06 is partial; age 75 is the youngest possible"]
    parse_case(result.case)


def test_two_patients_are_never_merged() -> None:
    bulk = read_bulk("Patient.ndjson", "Observation.ndjson")
    mixed = resources_from_bundle(load_json("bundle-b12-workup.json")) + bulk
    with pytest.raises(UserError, match="patient_id"):
        bundle_to_case(mixed, as_of=AS_OF)
    result = bundle_to_case(mixed, as_of=AS_OF, patient_id="p2")
    assert [lab["test"] for lab in result.case["labs"]] == ["b12_total", "hb"]
    assert result.case["causes"] == []
    assert result.case["conditions"] == []
    assert "Patient/example: not the patient read (Patient/p2); not read" in result.unknown
    assert "Observation/hb: belongs to Patient/example, not Patient/p2; not read" in result.unknown


def test_read_resources_takes_a_bundle_a_resource_or_ndjson() -> None:
    bundle_text = (FIXTURES / "bundle-b12-workup.json").read_text(encoding="utf-8")
    assert len(read_resources(bundle_text)) == len(load_json("bundle-b12-workup.json")["entry"])
    assert (
        read_resources((FIXTURES / "observation-b12.json").read_text(encoding="utf-8"))[0]["id"]
        == "b12-serum"
    )
    ndjson = (FIXTURES / "bulk" / "Observation.ndjson").read_text(encoding="utf-8")
    assert [r["id"] for r in read_resources(ndjson)] == ["p2-b12", "p2-hb"]
    with pytest.raises(UserError, match="line 2"):
        resources_from_ndjson(['{"resourceType": "Patient"}', "{not json"])


def test_urn_uuid_full_urls_resolve_the_patient() -> None:
    patient = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    hb = obs(
        code=loinc("718-7"),
        subject={"reference": patient},
        valueQuantity={"value": 12.5, "unit": "g/dL", "system": UCUM, "code": "g/dL"},
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient,
                "resource": {"resourceType": "Patient", "birthDate": "1990-01-11", "gender": "other"},
            },
            {"fullUrl": "urn:uuid:88f151c0-a954-468a-88fd-5cdb5d7a2a86", "resource": hb},
        ],
    }
    result = bundle_to_case(resources_from_bundle(bundle), as_of=AS_OF)
    assert result.case["patient"] == {"age": 36, "sex": "other"}
    assert result.case["labs"] == [{"test": "hb", "value": 12.5, "unit": "g/dL"}]


def test_domain_never_imports_fhir() -> None:
    domain = Path(fhir.__file__).parents[2] / "domain"
    offenders = [
        p.name for p in domain.rglob("*.py") if re.search(r"^\s*(from|import)\s+fhir", p.read_text(), re.M)
    ]
    assert offenders == []


def test_public_surface() -> None:
    assert sorted(fhir.__all__) == sorted(name for name in fhir.__all__ if hasattr(fhir, name))
    assert {"plan_to_fhir_bundle", "bundle_to_case", "AdministrationRecord", "ImportResult"} <= set(
        fhir.__all__
    )
