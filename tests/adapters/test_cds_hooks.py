"""CDS Hooks 2.0: discovery, every card the three services return, request validation, and the router.

Requests are hand-written R4 JSON in fixtures/cds/ (Patient, Observations by LOINC, Conditions and
MedicationStatements as prefetch; draft MedicationRequests as `context.draftOrders`). Variants are made by
changing a copy in the test, so each test says what it changes. Every response is checked against the
specification's rules (`assert_spec`): summary under 140 characters, selectionBehavior with suggestions,
source label and rule ids on every card.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from b12plan.adapters import cds_hooks
from b12plan.adapters.cds_hooks import (
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    SERVICE_IDS,
    UnknownServiceError,
    discovery,
    handle,
)
from b12plan.adapters.cds_hooks.cards import short
from b12plan.adapters.cds_hooks.models import Action, Card, CdsResponse, DiscoveryResponse, Source, Suggestion
from b12plan.adapters.cds_hooks.router import make_router
from b12plan.domain.codes import Route, Stage
from b12plan.domain.followup.dosing import DueDose
from b12plan.errors import UnknownPatientError, UnknownRulesetError, UserError

FIXTURES = Path(__file__).parent / "fixtures" / "cds"
TODAY = dt.date(2026, 3, 2)
SCT, LOINC, ATC = "http://snomed.info/sct", "http://loinc.org", "http://www.whocc.no/atc"
PLAN_URL = "https://b12plan.example/patients/pat-1/plan"
JSON = dict[str, Any]


def load(name: str) -> JSON:
    data: JSON = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def assert_spec(response: JSON) -> None:
    """What CDS Hooks 2.0 requires of every response, plus b12plan's own card rules."""
    CdsResponse.model_validate(response)  # strict models: a broken card fails here
    uuids = [c["uuid"] for c in response["cards"]]
    assert len(uuids) == len(set(uuids))
    for card in response["cards"]:
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"] == "b12plan (nice-ng239)"
        assert "Rules:" in card["detail"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
            for suggestion in card["suggestions"]:
                assert suggestion["label"]
                assert suggestion["uuid"]
                assert suggestion["actions"]
        else:
            assert "selectionBehavior" not in card
        for key in ("suggestions", "links", "overrideReasons"):
            assert card.get(key, None) != []  # optional arrays are omitted, never empty
        for reason in card.get("overrideReasons", []):
            assert reason["display"]


def call(service: str, request: JSON, **kwargs: Any) -> JSON:
    response = handle(service, request, today=TODAY, **kwargs)
    assert_spec(response)
    return response


def topic(response: JSON, name: str) -> list[JSON]:
    return [c for c in response["cards"] if c["source"]["topic"]["code"] == name]


def only(response: JSON, name: str) -> JSON:
    found = topic(response, name)
    assert len(found) == 1, [c["summary"] for c in response["cards"]]
    return found[0]


def rule_ids(card: JSON) -> str:
    return card["detail"].rsplit("Rules:", 1)[1]


def draft(request: JSON) -> list[JSON]:
    return [e["resource"] for e in request["context"]["draftOrders"]["entry"]]


def observation(request: JSON, observation_id: str) -> JSON:
    return next(
        e["resource"]
        for e in request["prefetch"]["observations"]["entry"]
        if e["resource"]["id"] == observation_id
    )


def b12_statement(patient: str, start: str = "2025-11-03") -> JSON:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": "ms-b12",
                    "status": "active",
                    "medicationCodeableConcept": {
                        "coding": [{"system": ATC, "code": "B03BA03", "display": "hydroxocobalamin"}],
                        "text": "Hydroxocobalamin 1 mg/1 mL injection",
                    },
                    "subject": {"reference": f"Patient/{patient}"},
                    "effectivePeriod": {"start": start},
                }
            }
        ],
    }


def due_dose(status: str, due: dt.date, days_late: int) -> DueDose:
    """What the follow-up core reports for the next dose (domain.followup.next_due)."""
    return DueDose(
        due=due,
        stage=Stage.MAINTENANCE,
        dose_mcg=1000,
        volume_ml=1.0,
        route=Route.IM,
        days_late=days_late,
        status=status,  # type: ignore[arg-type]
        rules=["BNF-HYDROXO-NO-NEURO", "FU-REANCHOR", "FU-LATE", "FU-NO-DOUBLE"],
        number=9,
    )


# -- discovery ---------------------------------------------------------------------------------------------


def test_discovery_offers_three_services_with_prefetch_templates() -> None:
    body = discovery("nice-ng239")
    DiscoveryResponse.model_validate(body)
    services = {s["id"]: s for s in body["services"]}
    assert list(services) == [PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN] == list(SERVICE_IDS)
    assert {sid: s["hook"] for sid, s in services.items()} == {
        PATIENT_VIEW: "patient-view",
        ORDER_SELECT: "order-select",
        ORDER_SIGN: "order-sign",
    }
    for service in services.values():
        assert service["title"]
        assert service["description"]
        assert "nice-ng239" in service["usageRequirements"]
        prefetch = service["prefetch"]
        assert set(prefetch) == {"patient", "observations", "conditions", "procedures", "medications"}
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
        assert prefetch["medications"] == "MedicationStatement?patient={{context.patientId}}"
        observations = prefetch["observations"]
        assert observations.startswith(
            "Observation?patient={{context.patientId}}&code=http://loinc.org|2132-9,"
        )
        for code in ("14685-2", "72160-5", "13964-2", "718-7", "2284-8", "6301-6", "34714-6"):
            assert f"http://loinc.org|{code}" in observations


def test_discovery_names_the_rule_set_and_refuses_an_unknown_one() -> None:
    assert (
        "us-cyanocobalamin-label" in discovery("us-cyanocobalamin-label")["services"][0]["usageRequirements"]
    )
    with pytest.raises(UnknownRulesetError):
        discovery("no-such-rules")


# -- patient-view ------------------------------------------------------------------------------------------


def test_patient_view_status_card_reads_the_prefetched_result() -> None:
    card = only(call(PATIENT_VIEW, load("patient-view"), plan_url=PLAN_URL), "assessment")
    assert card["summary"] == "Vitamin B12 deficiency is confirmed."
    assert card["indicator"] == "warning"
    assert card["source"]["url"] == "https://www.bmj.com/content/385/bmj.q1019"
    assert "total vitamin B12 130 pg/mL (2026-02-20): below 180 ng/L: deficient" in card["detail"]
    assert "`NG239-DX-TOTAL` [Q]" in rule_ids(card)
    assert "links" not in card  # the plan page is linked from the plan card


def test_patient_view_next_tests_card_suggests_draft_service_requests() -> None:
    card = only(call(PATIENT_VIEW, load("patient-view")), "next-tests")
    assert card["indicator"] == "info"
    assert card["summary"] == "Order next: intrinsic factor antibody, haemoglobin, MCV and folate"
    assert card["selectionBehavior"] == "any"
    requests = [s["actions"][0]["resource"] for s in card["suggestions"]]
    assert [r["code"]["coding"][0]["code"] for r in requests] == ["31443-5", "718-7", "787-2", "2284-8"]
    for suggestion, request in zip(card["suggestions"], requests, strict=True):
        assert suggestion["actions"][0]["type"] == "create"
        assert request["resourceType"] == "ServiceRequest"
        assert (request["status"], request["intent"]) == ("draft", "proposal")
        assert request["subject"] == {"reference": "Patient/pat-1"}
        assert request["code"]["coding"][0]["system"] == LOINC
    assert "intrinsic-factor antibody" in requests[0]["note"][0]["text"]
    assert "full blood count" in requests[1]["note"][0]["text"]
    assert "`NG239-NEXT-IFAB` [Q]" in rule_ids(card)


def test_patient_view_plan_card_summarises_the_regimen_and_links_the_plan_page() -> None:
    card = only(call(PATIENT_VIEW, load("patient-view"), plan_url=PLAN_URL), "plan")
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Suggested plan: hydroxocobalamin 1000 micrograms IM three times a week, "
        "then every 12 weeks (84 days)"
    )
    assert card["links"] == [{"label": "Open the b12plan plan", "url": PLAN_URL, "type": "absolute"}]
    assert card["source"]["url"] == "https://pernicious-anaemia-society.org/treatment/"
    assert (
        "- Loading: 1000 micrograms (1 mg) = 1 mL by intramuscular injection, three times a week"
        in card["detail"]
    )
    assert "`BNF-HYDROXO-NO-NEURO` [P]" in rule_ids(card)
    assert "`DESIGN-UK-MAINT-DEFAULT` [D]" in rule_ids(card)


def test_patient_view_without_a_regimen_links_the_plan_page_from_the_status_card() -> None:
    request = load("patient-view")
    observation(request, "b12-1")["valueQuantity"]["value"] = 520
    response = call(PATIENT_VIEW, request, plan_url=PLAN_URL)
    card = only(response, "assessment")
    assert card["summary"] == "Vitamin B12 deficiency is unlikely."
    assert card["indicator"] == "info"
    assert card["links"][0]["url"] == PLAN_URL
    assert topic(response, "plan") == []
    assert topic(response, "next-tests") == []


def test_patient_view_critical_alert_gets_its_own_card() -> None:
    response = call(PATIENT_VIEW, load("patient-view-severe-anaemia"))
    alert = response["cards"][0]
    assert alert["indicator"] == "critical"
    assert alert["source"]["topic"]["code"] == "safety"
    assert alert["summary"].startswith("Severe anaemia: same-day clinical assessment")
    assert "`ALERT-SEVERE-ANAEMIA` [P]" in rule_ids(alert)
    status = only(response, "assessment")
    assert status["indicator"] == "critical"
    assert "Same-day clinical assessment needed." in status["summary"]
    assert "`DX-URGENT` [P]" in rule_ids(status)
    # warnings stay on the plan card rather than each taking a card
    assert (
        "**Warning**: Treating severe megaloblastic anaemia can drop potassium"
        in only(response, "plan")["detail"]
    )


def test_patient_view_overdue_injection_card() -> None:
    due = due_dose("overdue", dt.date(2026, 2, 21), 9)
    card = only(call(PATIENT_VIEW, load("patient-view"), due=due), "due-dose")
    assert card["indicator"] == "warning"
    assert (
        card["summary"]
        == "B12 injection overdue by 9 days (due Sat 21 Feb 2026): give it as soon as possible, once"
    )
    assert "1000 micrograms (1 mg) = 1 mL by intramuscular injection" in card["detail"]
    assert card["source"]["url"] == "https://pernicious-anaemia-society.org/treatment/"
    assert "`FU-NO-DOUBLE` [D]" in rule_ids(card)
    assert "`FU-LATE` [D]" in rule_ids(card)


def test_patient_view_dose_due_today_is_an_info_card_and_an_upcoming_one_no_card() -> None:
    card = only(call(PATIENT_VIEW, load("patient-view"), due=due_dose("due", TODAY, 0)), "due-dose")
    assert (card["indicator"], card["summary"]) == ("info", "B12 injection due today: 1000 micrograms IM")
    upcoming = call(PATIENT_VIEW, load("patient-view"), due=due_dose("upcoming", dt.date(2026, 3, 20), 0))
    assert topic(upcoming, "due-dose") == []


def test_patient_view_with_b12_under_way_says_so_and_does_not_read_later_results() -> None:
    request = load("patient-view")
    request["prefetch"]["medications"] = b12_statement("pat-1")
    response = call(PATIENT_VIEW, request)
    status = only(response, "assessment")
    assert status["summary"] == "The B12 results cannot be interpreted (taken after replacement started)."
    assert "B12 treatment under way since Mon 3 Nov 2025 (MedicationStatement/ms-b12)" in status["detail"]
    assert "`DX-RECENT-TREATMENT` [P]" in rule_ids(status)
    assert only(response, "plan")["summary"] == (
        "B12 under way; rule-set regimen: hydroxocobalamin 1000 micrograms IM three times a week, "
        "then every 12 weeks (84 days)"
    )


def test_patient_view_with_no_results_asks_for_the_first_test() -> None:
    request = load("patient-view")
    request["prefetch"]["observations"] = None  # the client had no data: null, not a gap
    response = call(PATIENT_VIEW, request)
    assert topic(response, "data") == []
    status = only(response, "assessment")
    assert status["summary"] == "There are not enough results to assess B12 status."
    assert "No B12-related results in the record." in status["detail"]
    assert only(response, "next-tests")["summary"] == "Order next: total vitamin B12"


# -- what b12plan could not see ----------------------------------------------------------------------------


def test_missing_prefetch_key_gives_an_info_card_and_no_plan() -> None:
    request = load("patient-view")
    del request["prefetch"]["observations"]
    response = call(PATIENT_VIEW, request)
    assert len(response["cards"]) == 1
    card = only(response, "data")
    assert card["indicator"] == "info"
    assert card["summary"] == "Prefetch incomplete (observations): b12plan does not query FHIR servers"
    assert "No plan was made." in card["detail"]
    assert "`observations`: not sent; without it B12, MMA, blood count" in card["detail"]
    assert "source" in card
    assert "url" not in card["source"]


def test_prefetch_error_and_optional_gaps_are_named_but_the_rest_is_planned() -> None:
    request = load("patient-view")
    request["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    del request["prefetch"]["medications"]
    response = call(PATIENT_VIEW, request)
    card = only(response, "data")
    assert card["summary"].startswith("Prefetch incomplete (conditions, medications)")
    assert "`conditions`: the client could not fetch it (OperationOutcome)" in card["detail"]
    assert "The rest was read." in card["detail"]
    assert only(response, "assessment")


def test_no_prefetch_at_all_is_answered_not_refused() -> None:
    request = load("patient-view")
    del request["prefetch"]
    response = call(PATIENT_VIEW, request)
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["data"]


def test_a_record_that_cannot_be_planned_gets_a_card_naming_the_field() -> None:
    request = load("patient-view")
    del request["prefetch"]["patient"]["birthDate"]
    card = only(call(PATIENT_VIEW, request), "data")
    assert card["summary"] == "b12plan could not plan from the record: patient.age: is required"
    assert "- Patient/pat-1: no birthDate; patient.age must be given" in card["detail"]


# -- order-select / order-sign -----------------------------------------------------------------------------


def test_leber_with_cyanocobalamin_is_critical_and_suggests_hydroxocobalamin() -> None:
    request = load("order-select-leber")
    response = call(ORDER_SELECT, request)
    assert len(response["cards"]) == 1
    card = response["cards"][0]
    assert card["indicator"] == "critical"
    assert (
        card["summary"]
        == "Leber's optic neuropathy: do not give cyanocobalamin; order hydroxocobalamin instead"
    )
    assert card["source"]["url"] == "https://fda.report/DailyMed/7e10c47d-1036-47c1-a0ed-6929636366c2"
    assert "`ALERT-LEBER` [P]" in rule_ids(card)
    assert "`REGIMEN-FORMULATION-SWITCH` [P]" in rule_ids(card)
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"]
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    updated = action["resource"]
    original = draft(request)[0]
    assert (updated["id"], updated["status"], updated["subject"]) == (
        "mr-cyano",
        "draft",
        original["subject"],
    )
    assert {(c["system"], c["code"]) for c in updated["medicationCodeableConcept"]["coding"]} == {
        (SCT, "1217427007"),
        (ATC, "B03BA03"),
    }
    # the plan's hydroxocobalamin dosage replaces the monthly cyanocobalamin one
    assert [d["sequence"] for d in updated["dosageInstruction"]] == [1, 2]
    assert updated["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 3


def test_cyanocobalamin_without_leber_is_checked_against_the_rule_set() -> None:
    request = load("order-select-leber")
    request["prefetch"]["conditions"] = None
    card = only(call(ORDER_SELECT, request), "order-dose")
    assert card["indicator"] == "warning"
    assert card["summary"] == "nice-ng239 has no regimen for cyanocobalamin by injection: order not checked"
    assert "`REGIMEN-FORMULATION-SWITCH` [P]" in rule_ids(card)


def test_folic_acid_without_b12_in_known_deficiency_is_critical() -> None:
    request = load("order-sign-folic-acid")
    response = call(ORDER_SIGN, request)
    assert len(response["cards"]) == 1
    card = response["cards"][0]
    assert card["indicator"] == "critical"
    assert (
        card["summary"]
        == "B12 deficiency without B12 treatment: start B12 before folic acid, never folic acid alone"
    )
    assert card["source"]["url"] == "https://apps.nhslothian.scot/refhelp/vitamin-b12-deficiency"
    assert "`ALERT-FOLATE` [P]" in rule_ids(card)
    assert "`MISTAKE-FOLATE-FIRST` [P]" in rule_ids(card)
    assert card["selectionBehavior"] == "any"
    add, hold = card["suggestions"]
    assert add["isRecommended"] is True
    (create,) = add["actions"]
    assert create["type"] == "create"
    order = create["resource"]
    assert order["resourceType"] == "MedicationRequest"
    assert "basedOn" not in order
    assert order["subject"] == {"reference": "Patient/pat-3"}
    assert order["medicationCodeableConcept"]["coding"][0]["code"] == "1217427007"
    assert hold["actions"] == [
        {
            "type": "delete",
            "description": "Remove the folic acid order until B12 has started",
            "resourceId": "MedicationRequest/mr-folic",
        }
    ]


def test_folic_acid_with_b12_ordered_in_the_same_session_is_fine() -> None:
    request = load("order-sign-folic-acid")
    b12 = copy.deepcopy(load("order-select-dose")["context"]["draftOrders"]["entry"][0])
    b12["resource"]["subject"] = {"reference": "Patient/pat-3"}
    request["context"]["draftOrders"]["entry"].append(b12)
    response = call(ORDER_SIGN, request)
    assert topic(response, "safety") == []


def test_folic_acid_with_b12_already_taken_is_fine() -> None:
    request = load("order-sign-folic-acid")
    request["prefetch"]["medications"] = b12_statement("pat-3", start="2026-02-19")
    assert call(ORDER_SIGN, request)["cards"] == []


def test_folic_acid_without_confirmed_deficiency_is_not_flagged() -> None:
    request = load("order-sign-folic-acid")
    observation(request, "b12-3")["valueQuantity"]["value"] = 400
    assert call(ORDER_SIGN, request)["cards"] == []


def test_dose_and_interval_outside_the_rule_set_is_a_warning() -> None:
    request = load("order-select-dose")
    card = only(call(ORDER_SELECT, request), "order-dose")
    assert card["indicator"] == "warning"
    assert card["summary"] == "Dose and interval of this hydroxocobalamin order outside nice-ng239's regimens"
    assert card["source"]["url"] == "https://pernicious-anaemia-society.org/treatment/"
    assert "500 micrograms is not a dose of these regimens: 1000 micrograms (loading)" in card["detail"]
    assert "every 28 to 31 days is outside their intervals" in card["detail"]
    assert "every 8 to 13 weeks (56 to 91 days)" in card["detail"]
    assert "`BNF-HYDROXO-NO-NEURO` [P]" in rule_ids(card)
    assert "`REGIMEN-CLINICIAN-INTERVAL` [P]" in rule_ids(card)
    (suggestion,) = card["suggestions"]
    updated = suggestion["actions"][0]["resource"]
    assert updated["id"] == "mr-hydroxo"
    assert updated["medicationCodeableConcept"] == draft(request)[0]["medicationCodeableConcept"]
    assert [d["doseAndRate"][0]["doseQuantity"]["value"] for d in updated["dosageInstruction"]] == [
        1000,
        1000,
    ]


@pytest.mark.parametrize(
    ("dose", "unit", "period", "period_unit", "summary"),
    [
        (1, "mg", 3, "mo", None),  # 3 calendar months span 84-93 days: inside 56-91
        (1000, "ug", 12, "wk", None),
        (1000, "ug", 2, "d", None),  # alternate-day loading
        (0.5, "mg", 12, "wk", "Dose of this hydroxocobalamin order outside nice-ng239's regimens"),
        (1000, "ug", 5, "mo", "Interval of this hydroxocobalamin order outside nice-ng239's regimens"),
    ],
)
def test_dose_and_interval_units(
    dose: float, unit: str, period: int, period_unit: str, summary: str | None
) -> None:
    request = load("order-select-dose")
    dosage = draft(request)[0]["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"].update(value=dose, unit=unit, code=unit)
    dosage["timing"]["repeat"].update(period=period, periodUnit=period_unit)
    cards = topic(call(ORDER_SELECT, request), "order-dose")
    assert [c["summary"] for c in cards] == ([summary] if summary else [])


def test_a_dose_in_ml_is_not_checked_and_the_card_says_why() -> None:
    request = load("order-select-dose")
    dosage = draft(request)[0]["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"] = {
        "value": 1,
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }
    dosage["timing"]["repeat"].update(period=12, periodUnit="wk")
    card = only(call(ORDER_SELECT, request), "order-dose")
    assert card["indicator"] == "info"
    assert card["summary"] == "Dose or interval of this hydroxocobalamin order could not be checked"
    assert "Dosage 1: the dose unit 'mL' is not a mass (micrograms or mg)." in card["detail"]
    assert "suggestions" not in card


def test_im_with_inr_above_range_is_critical_and_suggests_oral_or_holding() -> None:
    request = load("order-sign-inr")
    response = call(ORDER_SIGN, request)
    assert len(response["cards"]) == 1  # the loading-then-3-monthly order fits the rule set
    card = response["cards"][0]
    assert card["indicator"] == "critical"
    assert card["summary"] == "INR 4.5 is above its range (upper limit 3): do not give this IM injection now"
    assert card["source"]["url"] == "https://www.sps.nhs.uk/medicines/cyanocobalamin/"
    assert "`ALERT-ANTICOAGULANT` [P]" in rule_ids(card)
    assert "cannot see symptoms in the record" in card["detail"]
    oral, hold = card["suggestions"]
    assert oral["label"] == "Switch to oral B12 (only if no neurological symptoms)"
    updated = oral["actions"][0]["resource"]
    assert updated["id"] == "mr-im"
    assert updated["medicationCodeableConcept"]["coding"][0] == {
        "system": SCT,
        "code": "419382002",
        "display": "Cyanocobalamin (substance)",
    }
    (dosage,) = updated["dosageInstruction"]
    assert dosage["route"]["coding"][0]["code"] == "26643006"
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 1000
    assert hold["actions"][0] == {
        "type": "delete",
        "description": "Remove the IM order until the INR is in range",
        "resourceId": "MedicationRequest/mr-im",
    }


def test_inr_by_either_loinc_code_is_read() -> None:
    request = load("order-sign-inr")
    observation(request, "inr-5")["code"]["coding"][0]["code"] = "34714-6"
    assert call(ORDER_SIGN, request)["cards"][0]["indicator"] == "critical"


def test_im_with_inr_above_range_and_a_cause_treated_by_injection_offers_only_holding() -> None:
    request = load("order-sign-inr")
    request["prefetch"]["conditions"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "pa",
                    "code": {"coding": [{"system": SCT, "code": "84027009", "display": "Pernicious anemia"}]},
                    "subject": {"reference": "Patient/pat-5"},
                }
            }
        ],
    }
    card = only(call(ORDER_SIGN, request), "safety")
    assert [s["label"] for s in card["suggestions"]] == ["Hold the IM injection"]


def test_im_on_an_anticoagulant_without_an_inr_above_range_is_a_warning() -> None:
    request = load("order-sign-inr")
    observation(request, "inr-5")["valueQuantity"]["value"] = 2.4
    card = only(call(ORDER_SIGN, request), "safety")
    assert card["indicator"] == "warning"
    assert (
        card["summary"]
        == "Anticoagulant or bleeding disorder: avoid IM where possible; check the INR is in range"
    )
    assert "suggestions" not in card
    entries = request["prefetch"]["observations"]["entry"]
    request["prefetch"]["observations"]["entry"] = [e for e in entries if e["resource"]["id"] != "inr-5"]
    card = only(call(ORDER_SIGN, request), "safety")
    assert "no INR with a reference range" in card["detail"]
    assert "`NG239-NEXT-INR` [P]" in rule_ids(card)


def test_order_select_checks_only_the_selected_orders() -> None:
    request = load("order-select-dose")
    folic = copy.deepcopy(load("order-sign-folic-acid")["context"]["draftOrders"]["entry"][0])
    request["context"]["draftOrders"]["entry"].append(folic)
    response = call(ORDER_SELECT, request)
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["order-dose"]
    request["context"]["selections"] = ["MedicationRequest/mr-folic"]
    assert call(ORDER_SELECT, request)["cards"] == []  # B12 is ordered in the same session


def test_orders_b12plan_does_not_know_get_no_card() -> None:
    request = load("order-select-dose")
    draft(request)[0]["medicationCodeableConcept"] = {"text": "Amoxicillin 500 mg capsules"}
    assert call(ORDER_SELECT, request)["cards"] == []


def test_medication_reference_and_text_are_read_when_codes_are_absent() -> None:
    request = load("order-select-leber")
    order = draft(request)[0]
    del order["medicationCodeableConcept"]
    order["contained"] = [
        {"resourceType": "Medication", "id": "m1", "code": {"text": "Cyanocobalamin 1mg/1ml"}}
    ]
    order["medicationReference"] = {"reference": "#m1"}
    card = call(ORDER_SELECT, request)["cards"][0]
    updated = card["suggestions"][0]["actions"][0]["resource"]
    assert "medicationReference" not in updated
    assert "contained" not in updated
    assert updated["medicationCodeableConcept"]["text"] == "hydroxocobalamin"


# -- refused requests --------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[JSON], None]:
    def change(request: JSON) -> None:
        *parents, last = path.split(".")
        node = request
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()
TOKEN = {
    "access_token": "secret-token-123",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "x",
    "subject": "y",
}


@pytest.mark.parametrize(
    ("service", "fixture", "change", "field"),
    [
        (PATIENT_VIEW, "patient-view", _set("hookInstance", _DELETE), "hookInstance"),
        (PATIENT_VIEW, "patient-view", _set("hook", "order-sign"), "hook"),
        (PATIENT_VIEW, "patient-view", _set("context.patientId", _DELETE), "context.patientId"),
        (PATIENT_VIEW, "patient-view", _set("context", "pat-1"), "context"),
        (PATIENT_VIEW, "patient-view", _set("fhirServer", "ehr.example.org"), "fhirServer"),
        (PATIENT_VIEW, "patient-view", _set("prefetch.patient", "Patient/pat-1"), "prefetch.patient"),
        (
            PATIENT_VIEW,
            "patient-view",
            _set("fhirAuthorization", {**TOKEN, "token_type": "MAC"}),
            "fhirAuthorization.token_type",
        ),
        (
            PATIENT_VIEW,
            "patient-view",
            _set("fhirAuthorization", {**TOKEN, "expires_in": "soon"}),
            "fhirAuthorization.expires_in",
        ),
        (ORDER_SIGN, "order-sign-folic-acid", _set("fhirAuthorization", TOKEN), "fhirAuthorization"),
        (ORDER_SIGN, "order-sign-folic-acid", _set("context.draftOrders", _DELETE), "context.draftOrders"),
        (
            ORDER_SIGN,
            "order-sign-folic-acid",
            _set("context.draftOrders", {"resourceType": "MedicationRequest"}),
            "context.draftOrders",
        ),
        (
            ORDER_SIGN,
            "order-sign-folic-acid",
            _set("context.draftOrders.entry", {"resource": {}}),
            "context.draftOrders.entry",
        ),
        (
            PATIENT_VIEW,
            "patient-view",
            _set("prefetch.observations.entry", ["Observation/1"]),
            "prefetch.observations.entry",
        ),
        (PATIENT_VIEW, "patient-view", _set("prefetch.patient.gender", "female"), None),
        (
            PATIENT_VIEW,
            "patient-view",
            _set(
                "prefetch.observations.entry",
                [{"resource": {"resourceType": "Observation", "code": "2132-9"}}],
            ),
            "prefetch",
        ),
        (ORDER_SELECT, "order-select-dose", _set("context.selections", []), "context.selections"),
        (
            ORDER_SELECT,
            "order-select-dose",
            _set("context.selections", ["MedicationRequest/nope"]),
            "context.selections[0]",
        ),
        (ORDER_SELECT, "order-select-dose", _set("context.selections", _DELETE), "context.selections"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(
    service: str, fixture: str, change: Callable[[JSON], None], field: str | None
) -> None:
    request = load(fixture)
    change(request)
    if field is None:  # a control: the change alone is valid
        call(service, request)
        return
    with pytest.raises(UserError) as raised:
        handle(service, request, today=TODAY)
    assert raised.value.problems[0].field == field
    assert "secret-token" not in str(raised.value)


def test_a_request_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(UserError, match="request: must be a JSON object"):
        handle(PATIENT_VIEW, [], today=TODAY)


def test_an_unknown_service_is_its_own_error() -> None:
    with pytest.raises(UnknownServiceError) as raised:
        handle("b12plan-nope", load("patient-view"), today=TODAY)
    assert raised.value.problems[0].field == "service_id"
    assert isinstance(raised.value, UserError)


def test_unknown_request_fields_are_kept_unread_and_extensions_allowed() -> None:
    request = load("patient-view")
    request["extension"] = {"com.example.timestamp": "2026-03-02T09:00:00Z"}
    request["context"]["com.example.tab"] = "summary"
    assert only(call(PATIENT_VIEW, request), "assessment")


# -- the card rules themselves -----------------------------------------------------------------------------


def test_cards_refuse_what_the_specification_forbids() -> None:
    source = Source(label="b12plan (nice-ng239)")
    with pytest.raises(ValidationError):
        Card(summary="x" * 140, indicator="info", source=source)
    action = Action(type="delete", description="remove", resource_id="MedicationRequest/1")
    with pytest.raises(ValidationError, match="selectionBehavior is required"):
        Card(
            summary="ok",
            indicator="info",
            source=source,
            suggestions=[Suggestion(label="s", actions=[action])],
        )
    with pytest.raises(ValidationError, match="needs a FHIR resource"):
        Action(type="update", description="change")
    with pytest.raises(ValidationError):
        Card(summary="ok", indicator="info", source=source, links=[])


def test_short_summaries_are_cut_at_a_word() -> None:
    text = "word " * 40
    cut = short(text)
    assert len(cut) < 140
    assert cut.endswith("word…")
    assert short("  two   spaces ") == "two spaces"


def test_card_uuids_are_stable_per_hook_call() -> None:
    request = load("patient-view")
    first = [c["uuid"] for c in call(PATIENT_VIEW, request)["cards"]]
    assert first == [c["uuid"] for c in call(PATIENT_VIEW, request)["cards"]]
    request["hookInstance"] = "another-call"
    assert set(first).isdisjoint(c["uuid"] for c in call(PATIENT_VIEW, request)["cards"])


def test_every_module_lists_only_names_that_exist() -> None:
    for module in pkgutil.iter_modules(cds_hooks.__path__, "b12plan.adapters.cds_hooks."):
        loaded = importlib.import_module(module.name)
        missing = [n for n in loaded.__all__ if not hasattr(loaded, n)]
        assert missing == [], f"{module.name}.__all__ lists {missing}"


# -- the router --------------------------------------------------------------------------------------------


@pytest.fixture
def client() -> TestClient:
    def due_lookup(patient_id: str, today: dt.date) -> DueDose | None:
        if patient_id == "unknown":
            raise UnknownPatientError("no such patient")
        return due_dose("overdue", today - dt.timedelta(days=9), 9) if patient_id == "pat-1" else None

    app = FastAPI()
    app.include_router(make_router(lambda: TODAY, lambda pid: f"/patients/{pid}/plan", due_lookup))
    return TestClient(app)


def test_router_discovery(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["services"]] == list(SERVICE_IDS)


def test_router_calls_a_service(client: TestClient) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=load("patient-view"))
    assert response.status_code == 200
    body = response.json()
    assert_spec(body)
    assert only(body, "plan")["links"][0]["url"] == "http://testserver/patients/pat-1/plan"
    assert only(body, "due-dose")["indicator"] == "warning"
    orders = client.post(f"/cds-services/{ORDER_SIGN}", json=load("order-sign-inr"))
    assert orders.status_code == 200
    assert orders.json()["cards"][0]["indicator"] == "critical"


def test_router_treats_a_patient_it_does_not_follow_as_having_no_due_dose(client: TestClient) -> None:
    request = load("patient-view")
    request["context"]["patientId"] = "unknown"
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert response.status_code == 200
    assert topic(response.json(), "due-dose") == []


def test_router_unknown_service_is_404(client: TestClient) -> None:
    response = client.post("/cds-services/no-such-service", json=load("patient-view"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["field"] == "service_id"
    assert "is not a service" in error["problem"]


def test_router_bad_body_is_400_with_the_error_shape(client: TestClient) -> None:
    bad_json = client.post(
        f"/cds-services/{PATIENT_VIEW}", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json() == {"error": {"field": "request", "problem": "is not valid JSON"}}
    request = load("patient-view")
    del request["hookInstance"]
    invalid = client.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert invalid.status_code == 400
    assert invalid.json() == {"error": {"field": "hookInstance", "problem": "is required"}}
