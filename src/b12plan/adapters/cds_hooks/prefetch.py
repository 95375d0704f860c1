"""What b12plan asks CDS clients to prefetch, and reading what they sent.

Each service asks for the patient, their B12-related results (Observations by the LOINC codes b12plan reads,
`domain.codes.LOINC_ALIASES`), Conditions and Procedures (causes, Leber's, pregnancy) and
MedicationStatements (medicines that cause deficiency, anticoagulants, folic acid, B12 already taken).

CDS Hooks 2.0 says a key the client did not satisfy is left out, a key with no data is `null`, and a key the
client failed to fetch may carry an OperationOutcome. b12plan never calls the client's FHIR server (it holds
no FHIR client on purpose), so a missing key is a gap in what it can see: it is reported on a card, never
filled in by guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from b12plan.adapters.fhir.bundles import resources_from_bundle
from b12plan.adapters.fhir.codes import CodeTables
from b12plan.domain.codes import LOINC_ALIASES
from b12plan.errors import FieldProblem, UserError

__all__ = [
    "CONDITIONS",
    "MEDICATIONS",
    "NEEDED_TO_PLAN",
    "OBSERVATIONS",
    "PATIENT",
    "PROCEDURES",
    "WHAT_IT_GIVES",
    "Prefetch",
    "bundle_resources",
    "prefetch_templates",
    "read_prefetch",
]

JSON = dict[str, Any]
PATIENT, OBSERVATIONS, CONDITIONS, PROCEDURES, MEDICATIONS = (
    "patient",
    "observations",
    "conditions",
    "procedures",
    "medications",
)
NEEDED_TO_PLAN = (PATIENT, OBSERVATIONS)
"""Without these keys b12plan makes no plan: the age and the results are the assessment."""

WHAT_IT_GIVES: dict[str, str] = {
    PATIENT: "age and sex; no plan is made without them",
    OBSERVATIONS: "B12, MMA, blood count, folate and INR results; no plan is made without them",
    CONDITIONS: "causes, Leber's optic neuropathy, renal impairment and pregnancy are not checked",
    PROCEDURES: "gastric or ileal surgery as a cause is not checked",
    MEDICATIONS: "B12 already taken, folic acid, anticoagulants and medicines that cause deficiency "
    "are not checked",
}


def prefetch_templates(codes: CodeTables) -> dict[str, str]:
    """Prefetch key -> FHIR query template, the same for every b12plan service."""
    loinc = codes.uris["loinc"]
    tests = ",".join(f"{loinc}|{code}" for code in LOINC_ALIASES)
    return {
        PATIENT: "Patient/{{context.patientId}}",
        OBSERVATIONS: f"Observation?patient={{{{context.patientId}}}}&code={tests}",
        CONDITIONS: "Condition?patient={{context.patientId}}",
        PROCEDURES: "Procedure?patient={{context.patientId}}",
        MEDICATIONS: "MedicationStatement?patient={{context.patientId}}",
    }


@dataclass(frozen=True)
class Prefetch:
    """The resources sent per key (`null` is an empty list), and the gaps: key -> what went wrong."""

    resources: dict[str, list[JSON]]
    gaps: dict[str, str] = field(default_factory=dict)

    def all(self, *keys: str) -> list[JSON]:
        """The resources of `keys` (default: every key sent), in key order."""
        return [r for key in keys or tuple(self.resources) for r in self.resources.get(key, [])]

    def can_plan(self) -> bool:
        return all(key in self.resources for key in NEEDED_TO_PLAN)

    def gap_lines(self) -> list[str]:
        """One line per gap: the key, why, and what b12plan cannot check without it."""
        return [
            f"`{key}`: {why}; without it {WHAT_IT_GIVES.get(key, 'it is not read')}."
            for key, why in self.gaps.items()
        ]


def bundle_resources(value: Mapping[str, Any], field: str) -> list[JSON]:
    """The resources of a Bundle (or a lone resource), refusing a Bundle whose entries are not objects."""
    entries = value.get("entry", [])
    if value.get("resourceType") == "Bundle" and (
        not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries)
    ):
        raise UserError([FieldProblem(f"{field}.entry", "must be a list of Bundle entries (objects)")])
    return resources_from_bundle(value)


def _next_page(bundle: Mapping[str, Any]) -> bool:
    links = bundle.get("link")
    return isinstance(links, list) and any(isinstance(x, dict) and x.get("relation") == "next" for x in links)


def read_prefetch(prefetch: Mapping[str, Any] | None, templates: Mapping[str, str]) -> Prefetch:
    """Read the request's `prefetch` against b12plan's templates. Keys b12plan did not ask for are not read.

    A value that is neither null nor a FHIR resource is a bad request (`UserError` naming `prefetch.<key>`).
    """
    sent = prefetch or {}
    resources: dict[str, list[JSON]] = {}
    gaps: dict[str, str] = {}
    for key in templates:
        if key not in sent:
            gaps[key] = "not sent"
            continue
        value = sent[key]
        if value is None:
            resources[key] = []
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise UserError([FieldProblem(f"prefetch.{key}", "must be a FHIR resource or Bundle, or null")])
        if value["resourceType"] == "OperationOutcome":
            gaps[key] = "the client could not fetch it (OperationOutcome)"
            continue
        if value["resourceType"] == "Bundle" and _next_page(value):
            gaps[key] = "only the first page was sent (the Bundle has a next link), so results may be missing"
        resources[key] = bundle_resources(value, f"prefetch.{key}")
    return Prefetch(resources, gaps)
