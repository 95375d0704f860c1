"""The FHIR importer on input that is wrong, censored or unusual: every problem reported (type/id and the
field), nothing read as something it is not, and nothing but a UserError ever raised.

The happy paths over the official-shape fixtures are in test_fhir.py.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b12plan.adapters.fhir import (
    B12Treatment,
    B12Use,
    b12_under_way,
    bundle_to_case,
    bundle_to_cases,
    read_manifest,
    read_resources,
    resources_from_bundle,
    shape_problem,
)
from b12plan.adapters.fhir.codes import load_codes
from b12plan.domain.case import parse_case
from b12plan.errors import UserError
from b12plan.services import validate_document

AS_OF = dt.date(2026, 1, 11)
SCT, LOINC, UCUM = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
ATC, RXNORM = "http://www.whocc.no/atc", "http://www.nlm.nih.gov/research/umls/rxnorm"
JSON = dict[str, Any]


def observation(rid: str = "o1", **fields: Any) -> JSON:
    base: JSON = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/x"},
        "code": {"coding": [{"system": LOINC, "code": "2132-9"}]},
        "effectiveDateTime": "2026-01-05",
        "valueQuantity": {"value": 150, "unit": "pg/mL", "system": UCUM, "code": "pg/mL"},
    }
    return {**base, **fields}


def statement(rid: str, concept: JSON, *, kind: str = "MedicationStatement", **fields: Any) -> JSON:
    return {
        "resourceType": kind,
        "id": rid,
        "status": "active",
        "subject": {"reference": "Patient/x"},
        "medicationCodeableConcept": concept,
        **fields,
    }


def patient(pid: str = "x", birth: str = "1970-05-01") -> JSON:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female"}


# --- a field of the wrong JSON type --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "reported"),
    [
        (observation(code="2132-9"), "Observation/o1: code is a string, not an object"),
        (observation(subject="Patient/x"), "Observation/o1: subject is a string, not an object"),
        (observation(code={"coding": "2132-9"}), "Observation/o1: code.coding is a string, not an array"),
        (observation(code={"coding": [{"system": LOINC, "code": 2132}]}),
         "Observation/o1: code.coding[0].code is a number, not a string"),
        (observation(valueQuantity={"value": "150", "unit": "pg/mL"}),
         "Observation/o1: valueQuantity.value is a string, not a number"),
        (observation(valueQuantity={"value": float("nan"), "unit": "pg/mL"}),
         "Observation/o1: valueQuantity.value is not a finite number"),
        (observation(valueQuantity={"value": 10**400, "unit": "pg/mL"}),
         "Observation/o1: valueQuantity.value is not a finite number"),
        (observation(referenceRange={"high": {"value": 900}}),
         "Observation/o1: referenceRange is an object, not an array"),
        (observation(effectiveDateTime=20260105),
         "Observation/o1: effectiveDateTime is a number, not a string"),
        (statement("m1", {"text": "metformin"}, medicationReference="Medication/a"),
         "MedicationStatement/m1: medicationReference is a string, not an object"),
        (statement("m1", "metformin"),  # type: ignore[arg-type]
         "MedicationStatement/m1: medicationCodeableConcept is a string, not an object"),
        ({"resourceType": "Patient", "id": "x", "birthDate": 19700501},
         "Patient/x: birthDate is a number, not a string"),
        ({"resourceType": "Condition", "id": "c1", "code": ["84027009"]},
         "Condition/c1: code is an array, not an object"),
        ({"resourceType": "AllergyIntolerance", "id": "a1", "code": {"text": "cobalt"}, "reaction": [5]},
         "AllergyIntolerance/a1: reaction[0] is a number, not an object"),
        ({"resourceType": "OperationOutcome", "id": "e1", "issue": "timeout"},
         "OperationOutcome/e1: issue is a string, not an array"),
        ({"resourceType": "Observation", "id": 7}, "Observation/?: id is a number, not a string"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_json_type_is_reported_naming_it(resource: JSON, reported: str) -> None:
    result = bundle_to_case([resource], as_of=AS_OF)
    assert [u for u in result.unknown if u.startswith(reported)] == [
        f"{reported} (not FHIR R4 JSON); not read"
    ], result.unknown
    assert result.case["labs"] == []
    assert result.case["causes"] == result.case["conditions"] == []


def test_a_malformed_resource_leaves_the_others_read() -> None:
    result = bundle_to_case([patient(), observation("bad", code="2132-9"), observation("good")], as_of=AS_OF)
    assert result.case["labs"] == [
        {"test": "b12_total", "value": 150.0, "unit": "pg/mL", "date": "2026-01-05"}
    ]
    assert len(result.unknown) == 1


def test_fields_we_do_not_read_are_not_checked() -> None:
    assert shape_problem(observation(note="free text where FHIR has Annotation[]")) is None
    assert shape_problem(observation(valueQuantity=None)) is None  # null is absent


@pytest.mark.parametrize(
    ("bundle", "field"),
    [
        ({"resourceType": "Bundle", "entry": "x"}, "Bundle.entry"),
        ({"resourceType": "Bundle", "entry": [5]}, "Bundle.entry[0]"),
        ({"resourceType": "Bundle", "entry": [{"resource": "Patient/x"}]}, "Bundle.entry[0].resource"),
    ],
)
def test_a_malformed_bundle_is_a_user_error_naming_the_entry(bundle: JSON, field: str) -> None:
    with pytest.raises(UserError) as raised:
        resources_from_bundle(bundle)
    assert raised.value.problems[0].field == field


def test_entries_without_a_resource_carry_nothing() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"response": {"status": "201"}}, {"resource": patient()}]}
    assert [r["resourceType"] for r in resources_from_bundle(bundle)] == ["Patient"]


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        ({"transactionTime": "x"}, "manifest.output"),
        ({"output": [{"type": "Patient"}]}, "manifest.output[0]"),
        ({"output": [], "error": "x"}, "manifest.error"),
        ({"output": [], "deleted": [{"type": "Bundle", "url": "del.ndjson"}]}, "manifest.deleted"),
    ],
)
def test_a_malformed_manifest_is_a_user_error(manifest: JSON, field: str) -> None:
    with pytest.raises(UserError) as raised:
        read_manifest(manifest)
    assert raised.value.problems[0].field == field


# --- censored values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("comparator", ["<", "<=", ">", ">="])
def test_a_censored_value_is_never_read_as_exact(comparator: str) -> None:
    censored = observation(
        valueQuantity={
            "value": 150,
            "comparator": comparator,
            "unit": "pg/mL",
            "system": UCUM,
            "code": "pg/mL",
        }
    )
    result = bundle_to_case([patient(), censored], as_of=AS_OF)
    assert result.case["labs"] == []
    [reported] = result.unknown
    assert reported.startswith(
        f"Observation/o1 (b12_total): value {comparator}150 pg/mL is censored (comparator {comparator!r}), "
        "not an exact result; not read"
    )


def test_a_censored_ifab_titre_is_still_read_by_its_interpretation() -> None:
    """The qualitative reading does not use the number, so `<1.1 U/mL` flagged N is a clean negative."""
    ifab = observation(
        code={"coding": [{"system": LOINC, "code": "31443-5"}]},
        valueQuantity={"value": 1.1, "comparator": "<", "unit": "U/mL"},
        interpretation=[{"coding": [{"system": load_codes().uris["v3_interpretation"], "code": "N"}]}],
    )
    result = bundle_to_case([ifab], as_of=AS_OF)
    assert result.case["labs"] == [{"test": "ifab", "value": "negative", "date": "2026-01-05"}]


def test_a_reference_range_in_another_unit_is_left_out() -> None:
    pmol = {"value": 500, "unit": "pmol/L", "system": UCUM, "code": "pmol/L"}
    result = bundle_to_case([observation(referenceRange=[{"high": pmol}])], as_of=AS_OF)
    assert "upper_limit" not in result.case["labs"][0]
    assert any("upper_limit left out" in n for n in result.notes)


@pytest.mark.parametrize(
    ("field", "value", "outcome"),
    [
        ("effectiveDateTime", "2026-01-05T23:30:00-05:00", "2026-01-05"),  # the local day of the sample
        ("effectiveDateTime", "2026-01", None),  # partial: date left out, noted
        ("effectiveDateTime", "2026-02-30", "unknown"),
        ("effectiveDateTime", "05/01/2026", "unknown"),
        ("effectiveDateTime", "２０２６-01-05", "unknown"),  # digits that are not ASCII
    ],
)
def test_sample_dates(field: str, value: str, outcome: str | None) -> None:
    result = bundle_to_case([observation(**{field: value})], as_of=AS_OF)
    if outcome == "unknown":
        assert result.case["labs"] == []
        assert result.unknown == [f"Observation/o1 (b12_total): {field} {value!r} is not a FHIR date"]
    elif outcome is None:
        assert "date" not in result.case["labs"][0]
        assert any("is partial" in n for n in result.notes)
    else:
        assert result.case["labs"][0]["date"] == outcome


# --- B12 already begun -------------------------------------------------------------------------------------

CYANO_RXNORM = {"coding": [{"system": RXNORM, "code": "309594"}], "text": "Cyanocobalamin 1 mg/mL"}
HYDROXO_SNOMED = {"coding": [{"system": SCT, "code": "1217427007"}]}
B12_ATC = {"coding": [{"system": ATC, "code": "B03BA03"}]}


def test_b12_statements_and_administrations_give_the_earliest_start() -> None:
    resources = [
        patient(),
        statement("s1", CYANO_RXNORM, effectivePeriod={"start": "2025-12-01"}),
        statement("s2", B12_ATC, status="completed", effectiveDateTime="2025-11-20"),
        statement(
            "a1", HYDROXO_SNOMED, kind="MedicationAdministration", status="completed",
            effectiveDateTime="2025-12-03T09:00:00Z",
        ),
    ]  # fmt: skip
    result = bundle_to_case(resources, as_of=AS_OF)
    assert result.case["treatment_started"] == "2025-11-20"
    assert result.unknown == []
    assert (
        "MedicationStatement/s2: B12 replacement (http://www.whocc.no/atc|B03BA03, completed) from 2025-11-20"
        in (result.notes)
    )
    assert any(n.startswith("treatment_started 2025-11-20: the earliest") for n in result.notes)
    assert parse_case(result.case).treatment_started == dt.date(2025, 11, 20)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"status": "stopped", "effectiveDateTime": "2025-11-20"}, "not set from this status"),
        ({"status": "entered-in-error", "effectiveDateTime": "2025-11-20"}, "not set from this status"),
        ({"status": "intended", "effectiveDateTime": "2025-11-20"}, "not set from this status"),
        ({}, "has no start date"),
        ({"effectiveDateTime": "2025-11"}, "is partial"),
        ({"effectiveDateTime": "2026-02-01"}, "is after 2026-01-11"),
    ],
)
def test_b12_that_gives_no_start_is_noted(fields: JSON, why: str) -> None:
    result = bundle_to_case([statement("s1", CYANO_RXNORM, **fields)], as_of=AS_OF)
    assert "treatment_started" not in result.case
    assert any(why in n for n in result.notes), result.notes
    assert result.unknown == []


def test_every_b12_replacement_read_is_kept_and_active_statements_are_treatment_under_way() -> None:
    """One reading of B12 for the case's `treatment_started` and for the CDS services' `under way`."""
    resources = [
        patient(),
        statement("s1", CYANO_RXNORM, effectivePeriod={"start": "2025-12-01"}),
        statement("s2", B12_ATC, status="completed", effectiveDateTime="2025-11-20"),
        statement("s3", HYDROXO_SNOMED, effectiveDateTime="2026-02-01"),  # after as_of
        statement("s4", HYDROXO_SNOMED, effectiveDateTime="2025-11"),  # partial
        statement("a1", HYDROXO_SNOMED, kind="MedicationAdministration", status="in-progress"),
    ]
    result = bundle_to_case(resources, as_of=AS_OF)
    assert result.b12 == (
        B12Use("MedicationStatement/s1", "active", dt.date(2025, 12, 1)),
        B12Use("MedicationStatement/s2", "completed", dt.date(2025, 11, 20)),
        B12Use("MedicationStatement/s3", "active", dt.date(2026, 2, 1)),
        B12Use("MedicationStatement/s4", "active", None),
        B12Use("MedicationAdministration/a1", "in-progress", None),
    )
    assert result.case["treatment_started"] == "2025-11-20"
    assert b12_under_way(result.b12) == B12Treatment(
        ("MedicationStatement/s1", "MedicationStatement/s3", "MedicationStatement/s4"), dt.date(2025, 12, 1)
    )
    assert b12_under_way(result.b12[1:2]) is None


def test_a_multivitamin_is_not_b12_replacement() -> None:
    result = bundle_to_case(
        [statement("s1", {"text": "Multivitamin with vitamin B12"}, effectiveDateTime="2025-11-20")],
        as_of=AS_OF,
    )
    assert "treatment_started" not in result.case
    assert result.unknown == [
        "MedicationStatement/s1: medication text 'Multivitamin with vitamin B12' is not mapped"
    ]


def test_a_combined_product_means_both_medicines() -> None:
    both = {"text": "Folic acid 400 micrograms / cyanocobalamin 1 mg tablets"}
    result = bundle_to_case([statement("s1", both, effectiveDateTime="2025-11-20")], as_of=AS_OF)
    assert result.case["conditions"] == ["taking_folic_acid"]
    assert result.case["treatment_started"] == "2025-11-20"


def test_nitrous_oxide_given_is_a_cause() -> None:
    n2o = {"coding": [{"system": ATC, "code": "N01AX13"}]}
    given = statement("a1", n2o, kind="MedicationAdministration", status="completed")
    assert bundle_to_case([given], as_of=AS_OF).case["causes"] == ["nitrous_oxide"]


@pytest.mark.parametrize(
    ("code", "meaning"),
    [("6809", ("causes", "metformin")), ("7646", ("causes", "ppi")),
     ("11289", ("conditions", "anticoagulant")), ("4511", ("conditions", "taking_folic_acid"))],
)  # fmt: skip
def test_rxnorm_ingredients_are_read(code: str, meaning: tuple[str, str]) -> None:
    result = bundle_to_case([statement("s1", {"coding": [{"system": RXNORM, "code": code}]})], as_of=AS_OF)
    key, value = meaning
    assert result.case[key] == [value]


# --- allergies ---------------------------------------------------------------------------------------------


def allergy(concept: JSON, **fields: Any) -> JSON:
    return {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/x"},
            "code": concept, **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("concept", "condition"),
    [
        (
            {"coding": [{"system": SCT, "code": "54808007", "display": "Cobalt (substance)"}]},
            "cobalt_allergy",
        ),
        ({"text": "Allergy to cobalt"}, "cobalt_allergy"),
        ({"coding": [{"system": SCT, "code": "419382002"}]}, "b12_hypersensitivity"),
        ({"text": "Hydroxocobalamin - rash"}, "b12_hypersensitivity"),
        ({"text": "Vitamin B12 injection"}, "b12_hypersensitivity"),
    ],
)
def test_allergies_to_cobalt_or_b12(concept: JSON, condition: str) -> None:
    result = bundle_to_case([allergy(concept)], as_of=AS_OF)
    assert result.case["conditions"] == [condition]
    assert result.unknown == []


def test_allergy_statuses() -> None:
    cobalt = {"text": "cobalt"}
    refuted = allergy(cobalt, verificationStatus={"coding": [{"code": "refuted"}]})
    resolved = allergy(cobalt, clinicalStatus={"coding": [{"code": "resolved"}]})
    unconfirmed = allergy(cobalt, verificationStatus={"coding": [{"code": "unconfirmed"}]})
    assert bundle_to_case([refuted], as_of=AS_OF).case["conditions"] == []
    assert bundle_to_case([resolved], as_of=AS_OF).case["conditions"] == []
    kept = bundle_to_case([unconfirmed], as_of=AS_OF)
    assert kept.case["conditions"] == ["cobalt_allergy"]
    assert "unconfirmed; read as present, to be safe" in kept.notes[0]


def test_a_reaction_substance_is_read_and_other_allergies_reported() -> None:
    by_reaction = allergy(
        {"text": "Injection reaction"}, reaction=[{"substance": {"text": "cyanocobalamin"}}]
    )
    assert bundle_to_case([by_reaction], as_of=AS_OF).case["conditions"] == ["b12_hypersensitivity"]
    penicillin = allergy(
        {"coding": [{"system": SCT, "code": "91936005", "display": "Allergy to penicillin"}]}
    )
    result = bundle_to_case([penicillin], as_of=AS_OF)
    assert result.unknown == [
        f"AllergyIntolerance/a1: allergen {SCT}|91936005 (Allergy to penicillin) is not mapped"
    ]


# --- several patients in one file ----------------------------------------------------------------------


def test_each_patient_is_read_on_their_own() -> None:
    other = {**observation("o2"), "subject": {"reference": "Patient/y"}}
    stray = {**observation("o3"), "subject": {"reference": "Group/7"}}
    medication = {"resourceType": "Medication", "id": "m", "code": {"text": "metformin 500 mg"}}
    unused = {"resourceType": "Medication", "id": "n", "code": {"text": "omeprazole"}}
    takes = statement(
        "s1", {}, subject={"reference": "Patient/y"}, medicationReference={"reference": "Medication/m"}
    )
    del takes["medicationCodeableConcept"]
    error = {"resourceType": "OperationOutcome", "id": "e", "issue": [{"diagnostics": "timeout"}]}
    batch = bundle_to_cases(
        [
            patient("x"),
            patient("y", "1950-06"),
            observation(),
            other,
            stray,
            medication,
            unused,
            takes,
            error,
        ],
        as_of=AS_OF,
    )
    assert sorted(batch.patients) == ["x", "y"]
    assert [lab["date"] for lab in batch.patients["x"].case["labs"]] == ["2026-01-05"]
    assert batch.patients["x"].unknown == []  # no noise about the other patient's resources
    assert batch.patients["y"].case["causes"] == ["metformin"]
    assert batch.patients["y"].case["patient"]["age"] == 75
    assert batch.unknown == [
        "Observation/o3: belongs to none of the 2 patients read; not read",
        "OperationOutcome/e: export error: timeout",
        "Medication/n: not referenced by a MedicationStatement; not read",
    ]


def test_one_patient_takes_resources_without_a_subject() -> None:
    loose = {k: v for k, v in observation().items() if k != "subject"}
    batch = bundle_to_cases([patient(), loose], as_of=AS_OF)
    assert len(batch.patients["x"].case["labs"]) == 1


def test_no_patient_at_all_reports_everything() -> None:
    loose = {k: v for k, v in observation().items() if k != "subject"}
    batch = bundle_to_cases([loose], as_of=AS_OF)
    assert batch.patients == {}
    assert batch.unknown == ["Observation/o1: belongs to no patient (no Patient, no subject); not read"]


# --- anything at all: a case or a UserError, never another exception ----------------------------------------

TYPES = [
    "Patient", "Observation", "Condition", "Procedure", "MedicationStatement", "MedicationAdministration",
    "Medication", "AllergyIntolerance", "OperationOutcome", "Encounter", "Bundle",
]  # fmt: skip
KEYS = [
    "resourceType", "id", "status", "code", "coding", "system", "display", "text", "subject", "patient",
    "reference", "valueQuantity", "value", "unit", "comparator", "valueCodeableConcept", "valueString",
    "referenceRange", "low", "high", "effectiveDateTime", "effectivePeriod", "start", "effectiveInstant",
    "birthDate", "gender", "clinicalStatus", "verificationStatus", "medicationCodeableConcept",
    "medicationReference", "contained", "reaction", "substance", "issue", "diagnostics", "interpretation",
    "dataAbsentReason", "entry", "resource", "fullUrl",
]  # fmt: skip
WORDS = [
    *TYPES, "final", "active", "completed", "in-progress", "refuted", "resolved", "unconfirmed", "2132-9",
    "14685-2", "718-7", "31443-5", "6301-6", LOINC, UCUM, SCT, ATC, RXNORM, "pg/mL", "pmol/L", "g/dL", "mg",
    "Patient/x", "Patient/y", "urn:uuid:x", "#med", "Medication/m", "med", "m", "x", "y", "2026-01-05",
    "1950-06", "2026-13-45", "2025-11-20T09:00:00Z", "cyanocobalamin", "cobalt", "metformin", "<", ">=",
    "positive", "H", "female", "419382002", "309594", "B03BA", "",
]  # fmt: skip
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=6)
)
JSONISH = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=25,
)
RANDOM = st.builds(
    lambda kind, fields: {**fields, "resourceType": kind},
    st.sampled_from(TYPES) | JSONISH,
    st.dictionaries(st.sampled_from(KEYS), JSONISH, max_size=8),
)
VALID = [
    patient(),
    observation(referenceRange=[{"low": {"value": 197}, "high": {"value": 771, "code": "pg/mL"}}]),
    observation(code={"coding": [{"system": LOINC, "code": "31443-5"}]}, valueString="positive"),
    statement("s1", CYANO_RXNORM, effectivePeriod={"start": "2025-12-01"}),
    statement("s2", {}, medicationReference={"reference": "#med"},
              contained=[{"resourceType": "Medication", "id": "med", "code": {"text": "warfarin"}}]),
    allergy({"text": "cobalt"}, reaction=[{"substance": {"coding": [{"system": SCT, "code": "419382002"}]}}]),
    {"resourceType": "Condition", "id": "c1", "code": {"coding": [{"system": SCT, "code": "84027009"}]},
     "clinicalStatus": {"coding": [{"code": "active"}]}, "subject": {"reference": "Patient/x"}},
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> JSON:
    """A valid resource with one field, at any depth, replaced by anything JSON can hold."""
    resource: JSON = copy.deepcopy(draw(st.sampled_from(VALID)))
    node: Any = resource
    while isinstance(node, dict | list) and node:
        key = (
            draw(st.sampled_from(sorted(node)))
            if isinstance(node, dict)
            else draw(st.integers(0, len(node) - 1))
        )
        if draw(st.booleans()) or not isinstance(node[key], dict | list) or not node[key]:
            node[key] = draw(JSONISH)
            break
        node = node[key]
    return resource


@given(st.lists(RANDOM | mutated(), max_size=6), st.sampled_from([None, "x", "y"]))
def test_arbitrary_resources_give_a_case_or_a_user_error(resources: list[JSON], pid: str | None) -> None:
    try:
        flat = [r for resource in resources for r in resources_from_bundle(resource)]
        result = bundle_to_case(flat, as_of=AS_OF, patient_id=pid)
        batch = bundle_to_cases(flat, as_of=AS_OF)
    except UserError:
        return
    for case in (result.case, *(r.case for r in batch.patients.values())):
        json.dumps(case, allow_nan=False)  # plain JSON: no NaN, no objects
        with contextlib.suppress(UserError):  # a case refused by the domain is fine; a crash is not
            validate_document({**case, "patient": {"age": 50, **case["patient"]}})


@given(JSONISH)
def test_arbitrary_text_is_read_or_refused(data: Any) -> None:
    try:
        read_resources(json.dumps(data))
        if isinstance(data, dict):
            read_manifest(data)
    except UserError:
        pass
