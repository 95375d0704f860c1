"""Checks of FHIR output that fhir.resources does not make: code bindings and code shapes.

fhir.resources checks structure and required fields only (`status="finished"` and a Timing period with no
unit were accepted; ECOSYSTEM.md). These checks add: MedicationRequest status and intent as b12plan may
write them, the other statuses of their required bindings, SNOMED CT check digits, ATC code shape, dosage
sequence 1..n, Timing periods with units, and doses in UCUM `ug`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from b12plan.adapters.fhir.codes import atc_valid, load_codes, snomed_id_valid

__all__ = ["MEDICATION_REQUEST_INTENT", "MEDICATION_REQUEST_STATUS", "check_resources"]

JSON = dict[str, Any]
MEDICATION_REQUEST_STATUS = frozenset({"active", "draft"})
MEDICATION_REQUEST_INTENT = frozenset({"order", "proposal"})
_CAREPLAN_STATUS = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)
_CAREPLAN_INTENT = frozenset({"proposal", "plan", "order", "option"})
_ACTIVITY_STATUS = frozenset(
    {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown"}
)
_ADMIN_STATUS = frozenset(
    {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
)
_PERIOD_UNITS = frozenset({"s", "min", "h", "d", "wk", "mo", "a"})


def _codings(node: Any) -> list[JSON]:
    """Every Coding-shaped dict anywhere under `node`."""
    found: list[JSON] = []
    if isinstance(node, dict):
        if isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
            found.append(node)
        for value in node.values():
            found.extend(_codings(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_codings(value))
    return found


def check_resources(resources: Sequence[JSON]) -> list[str]:
    """Problems fhir.resources does not find: bindings, SNOMED check digits, ATC shape, UCUM doses."""
    codes = load_codes()
    problems: list[str] = []
    for r in resources:
        where = f"{r.get('resourceType')}/{r.get('id')}"
        for coding in _codings(r):
            system, code = codes.system_name(coding["system"]), coding["code"]
            if system == "snomed" and not snomed_id_valid(code):
                problems.append(f"{where}: SNOMED CT {code} fails the check digit")
            if system == "atc" and not atc_valid(code):
                problems.append(f"{where}: {code} is not an ATC code")
        kind = r.get("resourceType")
        if kind == "MedicationRequest":
            if r.get("status") not in MEDICATION_REQUEST_STATUS:
                problems.append(
                    f"{where}: status {r.get('status')!r} not in {sorted(MEDICATION_REQUEST_STATUS)}"
                )
            if r.get("intent") not in MEDICATION_REQUEST_INTENT:
                problems.append(
                    f"{where}: intent {r.get('intent')!r} not in {sorted(MEDICATION_REQUEST_INTENT)}"
                )
            dosages = r.get("dosageInstruction", [])
            if [d.get("sequence") for d in dosages] != list(range(1, len(dosages) + 1)):
                problems.append(f"{where}: dosageInstruction sequences are not 1..{len(dosages)}")
            for d in dosages:
                repeat = d.get("timing", {}).get("repeat", {})
                if repeat.get("periodUnit") not in _PERIOD_UNITS or "period" not in repeat:
                    problems.append(f"{where}: dosage {d.get('sequence')} timing needs period and periodUnit")
                for dr in d.get("doseAndRate", []):
                    q = dr.get("doseQuantity", {})
                    if q.get("system") != codes.uris["ucum"] or q.get("code") != "ug":
                        problems.append(f"{where}: dosage {d.get('sequence')} dose is not in UCUM ug")
        elif kind == "CarePlan":
            if r.get("status") not in _CAREPLAN_STATUS or r.get("intent") not in _CAREPLAN_INTENT:
                problems.append(f"{where}: status/intent outside the CarePlan bindings")
            for a in r.get("activity", []):
                if a.get("detail", {}).get("status") not in _ACTIVITY_STATUS:
                    problems.append(f"{where}: activity status outside its binding")
        elif kind == "MedicationAdministration" and r.get("status") not in _ADMIN_STATUS:
            problems.append(f"{where}: status {r.get('status')!r} outside its binding")
    return problems
