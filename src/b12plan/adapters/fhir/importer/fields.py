"""Reading FHIR R4 fields for the importer: codings and their words, dates, subjects and references.

Malformed input is read as absent or raises `ValueError` (dates), never crashes the import: the callers turn
it into a line of `ImportResult.unknown`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]

_FHIR_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_FHIR_TIME = re.compile(r"T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")


class NotRead(Exception):
    """A resource understood well enough to say why it cannot be read."""


def codings(concept: Any) -> list[JSON]:
    """The codings of a CodeableConcept; none when it is not a JSON object (malformed FHIR reads as none)."""
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding") or () if isinstance(c, dict)]


def describe(concept: Any) -> str:
    """`system|code (display)` of each coding, for the unknown list."""
    parts = [
        f"{c.get('system', '?')}|{c.get('code', '?')}" + (f" ({c['display']})" if c.get("display") else "")
        for c in codings(concept)
    ]
    text = (concept or {}).get("text")
    return ", ".join(parts) or (f"text {text!r}" if text else "no code")


def words(concept: Any) -> str:
    """The text and every display of a CodeableConcept, lower-cased, for ingredient names."""
    parts = [str(concept.get("text") or "")] if isinstance(concept, Mapping) else []
    parts += [str(c.get("display") or "") for c in codings(concept)]
    return " ".join(p for p in parts if p).lower()


def codes_of(concept: Any) -> list[tuple[str | None, str | None]]:
    """(system, code) of each coding, for `CodeTables.find_all`."""
    return [(c.get("system"), c.get("code")) for c in codings(concept)]


def date_parts(text: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of a FHIR date or dateTime, month and day None when not given.

    Raises ValueError for anything else (a date that does not exist, another format)."""
    match = _FHIR_DATE.match(text)
    if match is None:
        raise ValueError(text)
    rest = text[match.end() :]
    if rest and not (match[3] and _FHIR_TIME.fullmatch(rest)):
        raise ValueError(text)
    year, month, day = int(match[1]), int(match[2]) if match[2] else None, int(match[3]) if match[3] else None
    dt.date(year, month or 1, day or 1)  # the day exists (year 1 and later)
    return year, month, day


def full_day(text: str) -> dt.date | None:
    """The day of a FHIR date/dateTime (local to where it was recorded), None when it is partial."""
    year, month, day = date_parts(text)
    return dt.date(year, month, day) if month and day else None


def age(birth: str, as_of: dt.date) -> tuple[int, bool]:
    """Whole years at `as_of`, and whether birthDate was partial (then the youngest possible age)."""
    year, month, day = date_parts(birth)
    month = month or 12
    born = dt.date(year, month, day or calendar.monthrange(year, month)[1])
    years = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    return years, day is None


def reference(resource: Mapping[str, Any]) -> str:
    """The subject (or patient) reference of a resource, '' when it has none."""
    for key in ("subject", "patient"):
        value = resource.get(key)
        if isinstance(value, dict) and isinstance(value.get("reference"), str) and value["reference"]:
            return str(value["reference"])
    return ""


def patient_id(ref: str) -> str | None:
    """The patient id a reference points at (`Patient/1`, `.../Patient/1/_history/2`, `urn:uuid:1` -> `1`)."""
    ref = ref.split("/_history/", 1)[0]
    if ref.startswith("urn:uuid:"):
        return ref.removeprefix("urn:uuid:") or None
    if ref.startswith("Patient/") or "/Patient/" in ref:
        return ref.rsplit("/", 1)[-1] or None
    return None


def subject_id(resource: Mapping[str, Any]) -> str | None:
    return patient_id(reference(resource))


def where(resource: Mapping[str, Any]) -> str:
    """`Type/id` of a resource, for the lines of `unknown` and `notes`."""
    kind, rid = resource.get("resourceType"), resource.get("id")
    return f"{kind if isinstance(kind, str) else '?'}/{rid if isinstance(rid, str) else '?'}"


def num(value: float) -> str:
    return f"{value:g}"
