"""Observations: a lab result by LOINC (domain LOINC_ALIASES), with its UCUM unit, reference range and date.

A censored result (`valueQuantity.comparator`, e.g. `<150 pg/mL`) is never read as if it were exact, and a
reference range in another unit than the result is left out (its limits would be misread).
"""

from __future__ import annotations

import datetime as dt

from b12plan.adapters.fhir.importer import fields
from b12plan.adapters.fhir.importer.fields import JSON, NotRead
from b12plan.adapters.fhir.importer.found import Found
from b12plan.domain import units
from b12plan.domain.codes import LOINC_ALIASES, LabTest

_OBSERVATION_READ = frozenset({"final", "amended", "corrected", "preliminary"})


def read_observation(found: Found, r: JSON, where: str) -> None:
    loinc = found.codes.uris["loinc"]
    tests = [
        LOINC_ALIASES[c["code"]]
        for c in fields.codings(r.get("code"))
        if c.get("system") == loinc and c.get("code") in LOINC_ALIASES
    ]
    if not tests:
        found.unknown.append(f"{where}: code {fields.describe(r.get('code'))} is not a test we read")
        return
    test = tests[0]
    where = f"{where} ({test.value})"
    if r.get("status") not in _OBSERVATION_READ:
        found.notes.append(f"{where}: status {r.get('status')!r}; not read")
        return
    extra: JSON = {}
    try:
        value = _ifab_value(found, r) if test is LabTest.IFAB else _quantity(found, r, test, extra, where)
        day = _effective_day(found, r, where)
    except NotRead as exc:
        found.unknown.append(f"{where}: {exc}")
        return
    if value is None:
        reason = (
            fields.describe(r["dataAbsentReason"]) if r.get("dataAbsentReason") else "no value we can read"
        )
        found.unknown.append(f"{where}: {reason}")
        return
    lab: JSON = {"test": test.value, "value": value, **extra}
    if day is not None:
        lab["date"] = day.isoformat()
    found.labs.append(lab)


def _effective_day(found: Found, r: JSON, where: str) -> dt.date | None:
    """The day the sample was taken; a partial date is left out (noted), a malformed one refused."""
    period = r.get("effectivePeriod") or {}
    for name, text in (
        ("effectiveDateTime", r.get("effectiveDateTime")),
        ("effectivePeriod.start", period.get("start")),
        ("effectiveInstant", r.get("effectiveInstant")),
    ):
        if not text:
            continue
        try:
            day = fields.full_day(text)
        except ValueError:
            raise NotRead(f"{name} {text!r} is not a FHIR date") from None
        if day is None:
            found.notes.append(f"{where}: {name} {text} is partial; the result's date is left out")
        return day
    return None


def _quantity(found: Found, r: JSON, test: LabTest, lab: JSON, where: str) -> float | None:
    """The value of a valueQuantity, its UCUM unit (code, else unit text) and the reference range.

    A censored value (a `comparator`: `<150 pg/mL`) is refused: read as exact it would be wrong."""
    q = r.get("valueQuantity") or {}
    value = q.get("value")
    if value is None:
        return None
    ucum = q.get("system") == found.codes.uris["ucum"] and q.get("code")
    unit = q.get("code") if ucum else q.get("unit")
    comparator = q.get("comparator")
    if comparator:
        raise NotRead(
            f"value {comparator}{fields.num(value)}{f' {unit}' if unit else ''} is censored (comparator "
            f"{comparator!r}), not an exact result; not read: b12plan reads exact values only, "
            "so a person must judge this result"
        )
    if test is not LabTest.INR:
        try:
            units.check_unit(test, unit)
        except units.UnitProblem as exc:
            raise NotRead(f"unit {unit!r}: {exc}") from None
        lab["unit"] = unit
    ranges = [x for x in r.get("referenceRange") or () if isinstance(x, dict)]
    if ranges:
        _limits(found, ranges[0], unit, lab, where)
    return float(value)


def _limits(found: Found, reference: JSON, unit: str | None, lab: JSON, where: str) -> None:
    """upper_limit/lower_limit from a reference range in the result's own unit."""
    for key, name in (("high", "upper_limit"), ("low", "lower_limit")):
        q = reference.get(key) or {}
        if q.get("value") is None:
            continue
        ucum = q.get("system") == found.codes.uris["ucum"] and q.get("code")
        limit_unit = q.get("code") if ucum else q.get("unit")
        if q.get("comparator") or (limit_unit and unit and limit_unit != unit):
            found.notes.append(
                f"{where}: referenceRange.{key} {q.get('comparator') or ''}{fields.num(q['value'])} "
                f"{limit_unit or ''} is not in the result's unit {unit!r}, or not exact; {name} left out"
            )
            continue
        lab[name] = q["value"]


def _ifab_value(found: Found, r: JSON) -> str | None:
    """positive/negative from valueCodeableConcept, else valueString, else the interpretation."""
    codes = found.codes
    tables = codes.qualitative
    coded = fields.codings(r.get("valueCodeableConcept"))
    for value, table in tables.items():
        if any(codes.matches(c, x.get("system"), x.get("code")) for c in table.codings for x in coded):
            return value
    for value, table in tables.items():
        if str(r.get("valueString", "")).strip().lower() in table.words:
            return value
    flags = [
        str(x.get("code"))
        for concept in r.get("interpretation") or ()
        for x in fields.codings(concept)
        if x.get("system") == codes.uris["v3_interpretation"]
    ]
    for value, table in tables.items():
        if any(flag in table.interpretation for flag in flags):
            return value
    return None
