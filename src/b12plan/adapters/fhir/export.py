"""A plan as a FHIR R4 Bundle (type collection): MedicationRequest, CarePlan, MedicationAdministration.

Shapes (ECOSYSTEM.md "FHIR shapes"; NHS England dose syntax models hydroxocobalamin the same way):
- one MedicationRequest, its `dosageInstruction` the regimen's phases with `sequence` 1, 2, ... (distinct
  sequence numbers are applied one after the other): `timing.repeat` frequency per period, `count` for a
  phase with a dose count, `boundsDuration` (its `review_after_days`) for one that ends at a review; the
  dose in UCUM `ug` and the volume in the text. It is `basedOn` the CarePlan.
- one CarePlan with an activity per planned test (LOINC codes) and review, dated by `scheduledPeriod`.
- one MedicationAdministration per recorded dose; R4 keeps the lot on a contained Medication.

The default status is `draft` with intent `proposal`: b12plan proposes, a prescriber confirms (then pass
status="active", intent="order"). The output is validated with the fhir.resources R4B models and with our
own checks of what they do not check (bindings, SNOMED CT check digits, ATC shape, UCUM units).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fhir.resources.R4B.bundle import Bundle

from b12plan.adapters.fhir.checks import MEDICATION_REQUEST_INTENT, MEDICATION_REQUEST_STATUS, check_resources
from b12plan.adapters.fhir.codes import CodeTables, load_codes
from b12plan.adapters.render import _words as w
from b12plan.domain.codes import EventKind, Formulation, LabTest, Route
from b12plan.domain.plan import Event, Phase, Plan, Regimen
from b12plan.errors import DataError

__all__ = ["AdministrationRecord", "plan_to_fhir_bundle"]

JSON = dict[str, Any]
_NAMESPACE = uuid.UUID("0b12b12b-f41e-4c3a-8d2b-5e0f3c9a7b21")


@dataclass(frozen=True)
class AdministrationRecord:
    """One dose given. `at` must carry its UTC offset (FHIR dateTime with a time needs one).

    `under_plan`: given under the plan being exported, so its `request` is that plan's MedicationRequest;
    False for a dose given under an earlier plan version (then it has no `request`: that order is not in
    the Bundle)."""

    at: dt.datetime
    dose_mcg: float
    route: Route
    site: str | None = None
    lot: str | None = None
    volume_ml: float | None = None
    formulation: Formulation | None = None  # default: the plan's
    under_plan: bool = True


def plan_to_fhir_bundle(
    plan: Plan,
    *,
    patient_ref: str = "Patient/example",
    administrations: Sequence[AdministrationRecord] = (),
    status: Literal["draft", "active"] = "draft",
    intent: Literal["proposal", "order"] = "proposal",
) -> JSON:
    """The plan as a FHIR R4 Bundle (JSON-ready dict). Ids are stable for the same patient and plan."""
    if status not in MEDICATION_REQUEST_STATUS or intent not in MEDICATION_REQUEST_INTENT:
        raise ValueError(f"status {status!r} / intent {intent!r}: use draft/proposal or active/order")
    codes = load_codes()
    key = f"{patient_ref}|{plan.ruleset.id}|{plan.generated_for.isoformat()}"
    careplan_id = _uuid(key, "CarePlan")
    request_id = _uuid(key, "MedicationRequest") if plan.regimen else None
    resources: list[JSON] = []
    if plan.regimen is not None and request_id:
        resources.append(
            _medication_request(
                plan, plan.regimen, codes, request_id, careplan_id, patient_ref, status, intent
            )
        )
    resources.append(_care_plan(plan, codes, careplan_id, patient_ref, status, intent))
    for record in administrations:
        formulation = record.formulation or (plan.regimen.formulation if plan.regimen else None)
        admin_id = _uuid(key, f"MedicationAdministration|{record.at.isoformat()}")
        if record.site:  # two doses at the same minute (both arms) are two resources
            admin_id = _uuid(key, f"MedicationAdministration|{record.at.isoformat()}|{record.site}")
        request = request_id if record.under_plan else None
        resources.append(_administration(record, formulation, codes, admin_id, request, patient_ref))
    bundle: JSON = {
        "resourceType": "Bundle",
        "id": _uuid(key, "Bundle"),
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    problems = check_resources(resources)
    if problems:
        raise DataError("FHIR export failed our checks: " + "; ".join(problems))
    model = Bundle.model_validate(bundle)
    out: JSON = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


def _uuid(key: str, what: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{key}|{what}"))


def _ucum(value: float, code: str, codes: CodeTables) -> JSON:
    unit = codes.units[code]
    return {"value": value, "unit": unit.display, "system": unit.uri, "code": unit.code}


def _medication(formulation: Formulation | None, text: str, codes: CodeTables) -> JSON:
    codings = [c.to_fhir() for c in codes.formulations[formulation]] if formulation else []
    return {"coding": codings, "text": text} if codings else {"text": text}


def _route(route: Route, codes: CodeTables) -> JSON:
    coding = codes.routes[route]
    return {"coding": [coding.to_fhir()], "text": coding.display}


def _repeat(phase: Phase) -> JSON:
    """Timing.repeat: `times_per_week` as n per 1 wk, otherwise 1 per interval in days."""
    if phase.times_per_week:
        return {"frequency": phase.times_per_week, "period": 1, "periodUnit": "wk"}
    days = phase.interval_days
    return {"frequency": 1, "period": int(days) if float(days).is_integer() else days, "periodUnit": "d"}


def _dosage(regimen: Regimen, phase: Phase, sequence: int, codes: CodeTables) -> JSON:
    repeat = _repeat(phase)
    dose = f"{w.number(phase.dose_mcg)} micrograms"
    if phase.volume_ml is not None:
        dose += f" ({w.number(phase.volume_ml)} mL"
        dose += f", {w.number(phase.syringe_units)} units on a U-100 syringe)" if phase.syringe_units else ")"
    if phase.route is Route.ORAL and phase.tablets_per_dose:
        tablets = "tablet" if phase.tablets_per_dose == 1 else "tablets"
        form = f" of {regimen.oral_product.name}" if regimen.oral_product else ""
        dose += f" ({phase.tablets_per_dose} {tablets}{form})"
    often = w.plain_every_words(phase.interval_days, phase.times_per_week)
    text = f"{phase.stage.value.capitalize()}: {dose} {w.ROUTE_WORDS[phase.route]} {often}"
    if phase.doses is not None:
        repeat["count"] = phase.doses
        text += f", {phase.doses} doses"
    elif phase.until and not phase.lifelong:
        # Only the planner's review interval bounds a phase: a bound guessed from event dates could end
        # maintenance at an unrelated review.
        if phase.review_after_days:
            repeat["boundsDuration"] = _ucum(phase.review_after_days, "d", codes)
        text += f", until {phase.until.replace('_', ' ')}"
    if phase.lifelong:
        text += ", for life"
    dosage: JSON = {
        "sequence": sequence,
        "text": text + ".",
        "timing": {"repeat": repeat},
        "route": _route(phase.route, codes),
        "doseAndRate": [{"doseQuantity": _ucum(phase.dose_mcg, "ug", codes)}],
    }
    if phase.description:
        dosage["patientInstruction"] = phase.description
    return dosage


def _medication_request(
    plan: Plan,
    regimen: Regimen,
    codes: CodeTables,
    request_id: str,
    careplan_id: str,
    patient_ref: str,
    status: str,
    intent: str,
) -> JSON:
    lifelong = any(p.lifelong for p in regimen.phases)
    return {
        "resourceType": "MedicationRequest",
        "id": request_id,
        "status": status,
        "intent": intent,
        "basedOn": [{"reference": f"urn:uuid:{careplan_id}"}],
        "courseOfTherapyType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                    "code": "continuous" if lifelong else "acute",
                }
            ]
        },
        "medicationCodeableConcept": _medication(regimen.formulation, _product_names(regimen), codes),
        "subject": {"reference": patient_ref},
        "note": [{"text": _provenance(plan)}],
        "dosageInstruction": [_dosage(regimen, p, i, codes) for i, p in enumerate(regimen.phases, 1)],
    }


def _product_names(regimen: Regimen) -> str:
    oral = regimen.oral_product
    return f"{regimen.product.name}; then {oral.name}" if oral else regimen.product.name


def _provenance(plan: Plan) -> str:
    r = plan.ruleset
    return f"Proposed by b12plan with {r.title} ({r.id} {r.version}). {plan.disclaimer}".strip()


def _activity(event: Event, codes: CodeTables) -> JSON:
    period = {"start": event.date.isoformat(), "end": event.date.isoformat()}
    detail: JSON
    if event.kind is EventKind.TEST:
        tests: list[LabTest] = list(event.tests or [])
        names = "; ".join(codes.lab_tests[t].display for t in tests) or "as requested"
        detail = {
            "kind": "ServiceRequest",
            "code": {"coding": [codes.lab_tests[t].to_fhir() for t in tests], "text": f"Blood test: {names}"},
        }
    else:
        detail = {"kind": "Appointment", "code": {"text": "Review of vitamin B12 treatment"}}
    detail.update({"status": "not-started", "scheduledPeriod": period})
    if event.note:
        detail["description"] = event.note
    return {"detail": detail}


def _care_plan(
    plan: Plan, codes: CodeTables, careplan_id: str, patient_ref: str, status: str, intent: str
) -> JSON:
    events = [e for e in plan.events if e.kind in (EventKind.TEST, EventKind.REVIEW)]
    period = {"start": plan.generated_for.isoformat()}
    if plan.events:
        period["end"] = max(e.date for e in plan.events).isoformat()
    resource: JSON = {
        "resourceType": "CarePlan",
        "id": careplan_id,
        "status": status,
        "intent": "plan" if intent == "order" else "proposal",
        "title": "Vitamin B12 treatment: tests and reviews",
        "subject": {"reference": patient_ref},
        "period": period,
        "note": [{"text": _provenance(plan)}],
    }
    if plan.decision or plan.assessment.summary:
        resource["description"] = plan.decision or plan.assessment.summary
    if events:
        resource["activity"] = [_activity(e, codes) for e in events]
    return resource


def _administration(
    record: AdministrationRecord,
    formulation: Formulation | None,
    codes: CodeTables,
    admin_id: str,
    request_id: str | None,
    patient_ref: str,
) -> JSON:
    if record.at.utcoffset() is None:
        raise ValueError("AdministrationRecord.at needs a UTC offset (an aware datetime)")
    name = formulation.value.capitalize() if formulation else "Vitamin B12"
    text = f"{w.number(record.dose_mcg)} micrograms"
    if record.volume_ml is not None:
        text += f" ({w.number(record.volume_ml)} mL)"
    dosage: JSON = {
        "text": f"{name} {text} {w.ROUTE_WORDS[record.route]}",
        "route": _route(record.route, codes),
        "dose": _ucum(record.dose_mcg, "ug", codes),
    }
    if record.site:
        dosage["site"] = {"text": record.site}
    resource: JSON = {
        "resourceType": "MedicationAdministration",
        "id": admin_id,
        "status": "completed",
        "subject": {"reference": patient_ref},
        "effectiveDateTime": record.at.isoformat(),
        "dosage": dosage,
    }
    medication = _medication(formulation, name, codes)
    if record.lot:
        resource["contained"] = [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": medication,
                "batch": {"lotNumber": record.lot},
            }
        ]
        resource["medicationReference"] = {"reference": "#med"}
    else:
        resource["medicationCodeableConcept"] = medication
    if request_id:
        resource["request"] = {"reference": f"urn:uuid:{request_id}"}
    return resource
