"""Draft orders as b12plan reads them: which medicine, what dose, how often, how.

A MedicationRequest (FHIR R4) is recognised as vitamin B12 (one of our formulations) or folic acid by its
codes in `data/codes.toml` (SNOMED CT, ATC; read with the FHIR adapter's loader), else by the ingredient's
name in its text or display. Its dosage instructions are read as a dose in micrograms, an interval as the
shortest and longest number of days between doses, and a route. What cannot be read is said, never guessed:
a dose in mL (strength unknown), a Timing with only a code (`BID`), a route b12plan does not know.

Units of mass and time are read by `domain.units` (`dose_micrograms`, `period_unit_days`): a calendar month
is 28 to 31 days, so "every 3 months" spans 84-93 days and is compared as that span.

B12 already taken (the prefetched MedicationStatements) is read by the FHIR importer, like the rest of the
record: `adapters.fhir.b12_under_way`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b12plan.adapters.fhir.codes import CodeTables
from b12plan.adapters.fhir.importer import fields
from b12plan.domain import units
from b12plan.domain.codes import Condition, Formulation, Route

__all__ = [
    "Dosage",
    "MedicineOrder",
    "close",
    "overlaps",
    "read_orders",
    "route_kind",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Dosage:
    """One dosageInstruction: dose in micrograms, interval as (shortest, longest) days, route.

    A value that could not be read is None with the reason in `problems`.
    """

    sequence: int | None
    dose_mcg: float | None
    interval_days: tuple[float, float] | None
    route: Route | None
    text: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class MedicineOrder:
    """A draft MedicationRequest b12plan recognises: B12 (`formulation`) and/or folic acid."""

    reference: str  # `MedicationRequest/<id>`
    resource: JSON
    name: str
    formulation: Formulation | None
    folic_acid: bool
    dosages: tuple[Dosage, ...]

    @property
    def b12(self) -> bool:
        return self.formulation is not None

    @property
    def routes(self) -> set[Route]:
        return {d.route for d in self.dosages if d.route is not None}


def _obj(value: Any) -> JSON:
    """`value` when it is a JSON object, else an empty one: malformed FHIR is read as absent, not a crash."""
    return value if isinstance(value, dict) else {}


def _medication_concept(resource: JSON, medications: Mapping[str, JSON]) -> Any:
    """medicationCodeableConcept, else the code of the Medication its medicationReference points at."""
    if isinstance(resource.get("medicationCodeableConcept"), dict):
        return resource["medicationCodeableConcept"]
    ref = str(_obj(resource.get("medicationReference")).get("reference", ""))
    contained = resource.get("contained")
    local = (
        {f"#{c.get('id')}": c for c in contained if isinstance(c, dict)}
        if isinstance(contained, list)
        else {}
    )
    medication = local.get(ref) or medications.get(ref.rsplit("/", 1)[-1])
    return _obj(medication).get("code")


def _formulation(concept: Any, codes: CodeTables) -> Formulation | None:
    codings = fields.codings(concept)
    for formulation, table in codes.formulations.items():
        if any(codes.matches(c, x.get("system"), x.get("code")) for c in table for x in codings):
            return formulation
    text = fields.words(concept)
    return next((f for f in Formulation if f.value in text), None)


def _is_folic_acid(concept: Any, codes: CodeTables) -> bool:
    codings = [(c.get("system"), c.get("code")) for c in fields.codings(concept)]
    found = codes.find_medication(codings, fields.words(concept))
    return found is not None and found.condition is Condition.TAKING_FOLIC_ACID


def _route(dosage: JSON, codes: CodeTables) -> Route | None:
    concept = dosage.get("route")
    codings = fields.codings(concept)
    for route, coding in codes.routes.items():
        if any(codes.matches(coding, x.get("system"), x.get("code")) for x in codings):
            return route
    words = fields.words(concept)
    for route, coding in codes.routes.items():
        name = coding.display.lower().removesuffix(" route")  # `Intramuscular route` -> `intramuscular`
        if words and (words == route.value.lower() or name in words):
            return route
    return None


def _dose(dosage: JSON) -> tuple[float | None, str | None]:
    """Micrograms per dose from doseAndRate[].doseQuantity, or the reason it cannot be read."""
    raw = dosage.get("doseAndRate")
    rates = (
        [raw]
        if isinstance(raw, dict)
        else [r for r in raw if isinstance(r, dict)]
        if isinstance(raw, list)
        else []
    )
    quantity = next((r["doseQuantity"] for r in rates if isinstance(r.get("doseQuantity"), dict)), None)
    if quantity is None:
        ranged = any(isinstance(r.get("doseRange"), dict) for r in rates)
        return None, "the dose is a range, which b12plan does not check" if ranged else "no dose is given"
    value = quantity.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None, "the dose has no positive value"
    written = str(quantity.get("code") or quantity.get("unit") or "").strip()
    if not written:
        return None, "the dose has no unit"
    try:
        return units.dose_micrograms(value, written), None
    except units.UnitProblem:
        return None, f"the dose unit {written!r} is not a mass (micrograms or mg)"


def _interval(dosage: JSON) -> tuple[tuple[float, float] | None, str | None]:
    """Days between doses from timing.repeat (frequency per period, with their Max), or why not."""
    repeat = _obj(dosage.get("timing")).get("repeat")
    if not isinstance(repeat, dict) or "period" not in repeat:
        return None, "the timing gives no period"
    unit = repeat.get("periodUnit")
    try:
        short, long = units.period_unit_days(str(unit))
    except units.UnitProblem:
        return None, f"the period unit {unit!r} is not a unit of time"
    try:
        period = float(repeat["period"])
        period_max = float(repeat.get("periodMax", period))
        frequency = float(repeat.get("frequency", 1))
        frequency_max = float(repeat.get("frequencyMax", frequency))
    except (TypeError, ValueError):
        return None, "the timing numbers cannot be read"
    if min(period, period_max, frequency, frequency_max) <= 0:
        return None, "the timing numbers must be positive"
    return (period * short / frequency_max, period_max * long / frequency), None


def _dosage(raw: JSON, codes: CodeTables) -> Dosage:
    dose, dose_problem = _dose(raw)
    interval, interval_problem = _interval(raw)
    sequence = raw.get("sequence")
    return Dosage(
        sequence=sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None,
        dose_mcg=dose,
        interval_days=interval,
        route=_route(raw, codes),
        text=str(raw.get("text") or ""),
        problems=tuple(p for p in (dose_problem, interval_problem) if p),
    )


def read_orders(resources: Iterable[Mapping[str, Any]], codes: CodeTables) -> list[MedicineOrder]:
    """The MedicationRequests among `resources` that are B12 or folic acid, in the order given.

    Medication resources in the same list (or contained in the request) resolve a medicationReference.
    """
    items = [dict(r) for r in resources]
    medications = {str(r.get("id")): r for r in items if r.get("resourceType") == "Medication"}
    orders: list[MedicineOrder] = []
    for r in items:
        if r.get("resourceType") != "MedicationRequest":
            continue
        concept = _medication_concept(r, medications)
        formulation, folic = _formulation(concept, codes), _is_folic_acid(concept, codes)
        if formulation is None and not folic:
            continue
        displays = (str(c.get("display")) for c in fields.codings(concept) if c.get("display"))
        name = str(_obj(concept).get("text") or "") or next(displays, "the medicine ordered")
        given = r.get("dosageInstruction")
        raw = [d for d in given if isinstance(d, dict)] if isinstance(given, list) else []
        orders.append(
            MedicineOrder(
                reference=f"MedicationRequest/{r.get('id', '?')}",
                resource=r,
                name=name,
                formulation=formulation,
                folic_acid=folic,
                dosages=tuple(_dosage(d, codes) for d in raw),
            )
        )
    return orders


def route_kind(route: Route | None) -> str | None:
    """The rule set's word for a route: `injection` (IM, SC, IV) or `oral`; None when not known."""
    if route is None:
        return None
    return "oral" if route is Route.ORAL else "injection"


def close(a: float, b: float) -> bool:
    """Equal up to float noise (0.1 mg is 100 micrograms)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def overlaps(span: Sequence[float], allowed: Sequence[float]) -> bool:
    """Do two closed spans of days share a day (up to float noise)?"""
    return span[0] <= allowed[1] + 1e-9 and allowed[0] <= span[1] + 1e-9
