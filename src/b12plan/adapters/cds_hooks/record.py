"""One patient's record as the CDS services see it: the prefetched resources read as a case, and its plan.

The FHIR importer (`adapters.fhir.bundle_to_case`) turns the prefetched Patient, Observations, Conditions,
Procedures and MedicationStatements into a b12plan.case/1 document; `services.plan_document` plans it with
the service's rule set. B12 replacement is read by the importer too (`ImportResult.b12`); of it, the CDS
services take active MedicationStatements as treatment under way (`b12_under_way`), and the earliest start
they give (on or before today) as the case's `treatment_started` (results taken after it are not used to
diagnose), in place of the importer's earliest start of any B12 given or taken.

A record that cannot be planned (no birth date, a unit b12plan refuses) keeps the refusal in `problem`, so
the cards can say what is wrong; the checks that need no plan (Leber's, INR) still run.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from b12plan.adapters.cds_hooks.prefetch import Prefetch
from b12plan.adapters.fhir import (
    B12Treatment,
    ImportResult,
    b12_under_way,
    bundle_to_case,
    plan_to_fhir_bundle,
)
from b12plan.adapters.fhir.codes import CodeTables
from b12plan.adapters.fhir.shapes import shape_problem
from b12plan.adapters.render._words import FORMULATION_WORDS
from b12plan.domain.codes import Condition, Formulation, LabTest
from b12plan.domain.plan import Plan
from b12plan.domain.rules import RuleSet
from b12plan.errors import FieldProblem, UserError
from b12plan.services import plan_document

__all__ = ["InrReading", "Record", "read_record"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class InrReading:
    """The latest INR and the upper limit of its reference range, as the Observation reported them."""

    value: float
    upper_limit: float
    date: str | None


@dataclass(frozen=True)
class Record:
    patient_id: str
    today: dt.date
    rules: RuleSet
    codes: CodeTables
    prefetch: Prefetch
    imported: ImportResult
    case: JSON  # the imported case, with the rule set and any B12 treatment start added
    treatment: B12Treatment | None
    plan: Plan | None
    problem: UserError | None

    @property
    def conditions(self) -> set[str]:
        return {str(c) for c in self.case.get("conditions") or ()}

    @property
    def on_b12(self) -> bool:
        """B12 treatment under way: an active MedicationStatement, or a start date in the case."""
        return self.treatment is not None or bool(self.case.get("treatment_started"))

    def has_condition(self, condition: Condition) -> bool:
        return condition.value in self.conditions

    def inr(self) -> InrReading | None:
        """The latest INR with a reference range upper limit (undated results count as oldest)."""
        readings = [
            lab
            for lab in self.case.get("labs") or ()
            if lab.get("test") == LabTest.INR.value
            and isinstance(lab.get("value"), int | float)
            and isinstance(lab.get("upper_limit"), int | float)
        ]
        if not readings:
            return None
        latest = max(enumerate(readings), key=lambda item: (str(item[1].get("date") or ""), item[0]))[1]
        return InrReading(float(latest["value"]), float(latest["upper_limit"]), latest.get("date"))

    def replan(self, **preferences: Any) -> Plan | None:
        """The plan of the same record with other preferences (e.g. `route="oral"`), or None if refused."""
        if self.plan is None:
            return None
        case = copy.deepcopy(self.case)
        case["preferences"] = {**(case.get("preferences") or {}), **preferences}
        try:
            return plan_document(case, today=self.today, ruleset=self.rules.id)
        except UserError:
            return None

    @cached_property
    def planned_request(self) -> JSON | None:
        """The plan's regimen as a draft MedicationRequest (the FHIR export's), or None without a regimen."""
        return self.request_for(self.plan)

    def request_for(self, plan: Plan | None) -> JSON | None:
        if plan is None or plan.regimen is None:
            return None
        bundle = plan_to_fhir_bundle(plan, patient_ref=f"Patient/{self.patient_id}")
        for entry in bundle.get("entry") or ():
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "MedicationRequest":
                # The CarePlan it is based on is not part of a suggestion: no dangling reference.
                return {k: v for k, v in resource.items() if k != "basedOn"}
        return None

    def medication(self, formulation: Formulation) -> JSON:
        """A medicationCodeableConcept for one formulation, with the codes of data/codes.toml."""
        codings = [c.to_fhir() for c in self.codes.formulations[formulation]]
        return {"coding": codings, "text": FORMULATION_WORDS[formulation]}


def read_record(
    prefetch: Prefetch, *, patient_id: str, today: dt.date, rules: RuleSet, codes: CodeTables
) -> Record:
    """Import the prefetched resources of `patient_id` and plan them when the prefetch allows it."""
    # The importer reports a field of the wrong JSON type (a string where FHIR has an object) and reads on;
    # from a CDS client it is a malformed request, refused as such.
    malformed = [f"{r.get('resourceType')}: {p}" for r in prefetch.all() if (p := shape_problem(r))]
    if malformed:
        raise UserError(
            [FieldProblem("prefetch", f"holds a resource that is not FHIR R4 JSON ({malformed[0]})")]
        )
    imported = bundle_to_case(prefetch.all(), as_of=today, patient_id=patient_id)
    treatment = b12_under_way(imported.b12)
    case: JSON = {**imported.case, "ruleset": rules.id}
    if treatment is not None and treatment.started is not None and treatment.started <= today:
        case["treatment_started"] = treatment.started.isoformat()
    plan: Plan | None = None
    problem: UserError | None = None
    if prefetch.can_plan():
        try:
            plan = plan_document(case, today=today, ruleset=rules.id)
        except UserError as exc:
            problem = exc
    return Record(patient_id, today, rules, codes, prefetch, imported, case, treatment, plan, problem)
