"""Conditions and Procedures by the finding table of data/codes.toml (a cause, a condition or pregnancy), and
AllergyIntolerance by substance (cobalt or B12 -> a condition). Refuted or inactive ones are noted, not read.
"""

from __future__ import annotations

from b12plan.adapters.fhir.codes import MedicationClass
from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON
from b12plan.adapters.fhir.importer.found import Found

_INACTIVE = frozenset({"inactive", "resolved"})
_REFUTED = frozenset({"refuted", "entered-in-error"})


def _statuses(r: JSON) -> tuple[set[str], set[str]]:
    """The codes of verificationStatus and of clinicalStatus."""
    verification = {str(c.get("code")) for c in fields.codings(r.get("verificationStatus"))}
    clinical = {str(c.get("code")) for c in fields.codings(r.get("clinicalStatus"))}
    return verification, clinical


def read_finding(found: Found, r: JSON, where: str) -> None:
    codes = found.codes
    mapped = [
        f for c in fields.codings(r.get("code")) if (f := codes.find_finding(c.get("system"), c.get("code")))
    ]
    if not mapped:
        found.unknown.append(f"{where}: code {fields.describe(r.get('code'))} is not mapped")
        return
    finding = mapped[0]
    verification, clinical = _statuses(r)
    if verification & _REFUTED or r.get("status") in ("entered-in-error", "not-done"):
        found.notes.append(f"{where}: {finding.coding.display} is refuted or in error; not read")
    elif finding.cause is not None:
        found.add(found.causes, finding.cause.value)
    elif clinical & _INACTIVE:
        found.notes.append(f"{where}: {finding.coding.display} is {'/'.join(sorted(clinical))}; not read")
    elif finding.condition is not None:
        found.add(found.conditions, finding.condition.value)
    elif finding.pregnant:
        found.patient["pregnant"] = True


def read_allergy(found: Found, r: JSON, where: str) -> None:
    codes = found.codes
    concepts = [r.get("code")] + [x.get("substance") for x in r.get("reaction") or () if x]
    allergens: list[MedicationClass] = []
    for concept in concepts:
        allergens += [
            a
            for a in codes.find_all(codes.allergens, fields.codes_of(concept), fields.words(concept))
            if a not in allergens
        ]
    if not allergens:
        found.unknown.append(f"{where}: allergen {fields.describe(r.get('code'))} is not mapped")
        return
    verification, clinical = _statuses(r)
    meaning = ", ".join(a.condition.value for a in allergens if a.condition)
    if verification & _REFUTED:
        found.notes.append(f"{where}: {meaning} is refuted or in error; not read")
        return
    if clinical & _INACTIVE:
        found.notes.append(f"{where}: {meaning} is {'/'.join(sorted(clinical))}; not read")
        return
    for allergen in allergens:
        if allergen.condition is not None:
            found.add(found.conditions, allergen.condition.value)
    if "unconfirmed" in verification:
        found.notes.append(f"{where}: {meaning} is unconfirmed; read as present, to be safe")
