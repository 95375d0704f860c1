"""What an import gives back: the case of one patient, the cases of a file, and the B12 replacement read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from b12plan.adapters.fhir.importer.fields import JSON


@dataclass(frozen=True)
class B12Use:
    """B12 replacement one MedicationStatement or MedicationAdministration shows, however it is read.

    `started` is its start (effectiveDateTime or effectivePeriod.start) when that is a full, valid date,
    even a date after the import's `as_of`: what counts as begun is the reader's choice (`b12_under_way`, the
    case's `treatment_started`)."""

    reference: str  # `MedicationStatement/<id>`
    status: str | None
    started: dt.date | None


@dataclass(frozen=True)
class ImportResult:
    """`case`: a dict for `parse_case`; `unknown`: what was not understood (type/id: code and why);
    `notes`: what was understood but left out on purpose, or approximated; `b12`: every B12 replacement
    read, whatever its status."""

    case: JSON
    unknown: list[str]
    notes: list[str] = field(default_factory=list)
    b12: tuple[B12Use, ...] = ()


@dataclass(frozen=True)
class ImportBatch:
    """The resources of a file read patient by patient (FHIR Patient id -> its result), and what belongs
    to no patient of the file (export errors, resources with no or another subject)."""

    patients: dict[str, ImportResult]
    unknown: list[str]
