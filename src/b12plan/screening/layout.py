"""The canonical column layout the screening query reads, and the tables it writes.

Every input is brought to five tables before screening: FHIR Bulk Data NDJSON is translated into them
(`ingest.py`); CSV or Parquet files already in this layout are read as they are. A warehouse (PostgreSQL)
holds the same five tables. docs/screening.md shows the same layout for people; a test keeps the two in step.

Vocabularies: `observations.test` is a b12plan test code (`b12_total`, `holotc`, `mma`, ...; a LOINC code is
accepted in CSV/Parquet input and translated); `medications.med_class` is `b12` (replacement of any
cobalamin) or a medicine class id of `data/codes.toml` (`metformin`, `ppi`, `h2ra`, `folic_acid`,
`nitrous_oxide`, ...); `conditions.kind` is `cause`, `condition` or `pregnant` with `code` a case code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "B12_CLASS",
    "FINDINGS",
    "INPUT_TABLES",
    "OUTPUT_TABLES",
    "REJECTED",
    "STATUS",
    "Column",
    "ColumnType",
    "Table",
    "input_table",
]

ColumnType = Literal["VARCHAR", "DOUBLE", "DATE", "INTEGER"]

B12_CLASS = "b12"
"""`medications.med_class` of B12 replacement (hydroxo-, cyano- or methylcobalamin, any route)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type_: ColumnType, description: str, *, required: bool = False) -> Column:
    return Column(name, type_, description, required)


_SOURCE = _c("source", "VARCHAR", "Where the row came from (input file name); carried to the findings.")

PATIENTS = Table(
    "patients",
    "One row per person: the population screened (a person with no row here is not screened).",
    (
        _c("patient_id", "VARCHAR", "Identifier, as in the other tables (FHIR Patient.id).", required=True),
        _c("birth_date", "DATE", "Date of birth (for age bands in the report)."),
        _c("sex", "VARCHAR", "female, male, other or unknown (FHIR Patient.gender)."),
        _SOURCE,
    ),
)

OBSERVATIONS = Table(
    "observations",
    "One row per numeric lab result.",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("observation_id", "VARCHAR", "Identifier of the result, unique per person.", required=True),
        _c(
            "test",
            "VARCHAR",
            "b12plan test code (b12_total, holotc, mma, homocysteine, hb, mcv, ...) or a "
            "LOINC code listed in the case contract.",
            required=True,
        ),
        _c("value", "DOUBLE", "The number as reported."),
        _c("unit", "VARCHAR", "The unit as reported (UCUM or a common lab spelling); never guessed."),
        _c("effective_date", "DATE", "When the sample was taken (undated results count as the oldest)."),
        _c("upper_limit", "DOUBLE", "The reporting lab's upper reference limit, in the same unit."),
        _c("lower_limit", "DOUBLE", "The reporting lab's lower reference limit, in the same unit."),
        _SOURCE,
    ),
)

MEDICATIONS = Table(
    "medications",
    "One row per prescription (MedicationRequest), statement of use (MedicationStatement) or given dose "
    "(MedicationAdministration).",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("medication_id", "VARCHAR", "Identifier of the record (dosages refer to it).", required=True),
        _c(
            "resource_type",
            "VARCHAR",
            "MedicationRequest, MedicationStatement or MedicationAdministration.",
            required=True,
        ),
        _c(
            "med_class",
            "VARCHAR",
            "b12 or a medicine class of data/codes.toml (metformin, ppi, h2ra, "
            "folic_acid, nitrous_oxide, ...).",
            required=True,
        ),
        _c("route", "VARCHAR", "injection (IM, SC or IV), oral, or empty when not stated."),
        _c("status", "VARCHAR", "The record's status (a prescription counts as current when active)."),
        _c("start_date", "DATE", "Prescribed on, started on, or given on."),
        _c("end_date", "DATE", "Ended on; empty while ongoing (a given dose ends the day it is given)."),
        _SOURCE,
    ),
)

DOSAGES = Table(
    "dosages",
    "The dose timing of a prescription, one row per phase in order (loading, then maintenance).",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("medication_id", "VARCHAR", "The prescription (medications.medication_id).", required=True),
        _c("sequence", "INTEGER", "Order of the phase (FHIR dosageInstruction.sequence).", required=True),
        _c("interval_days", "DOUBLE", "Days between doses (1 per 12 weeks = 84; 3 a week = 2.33)."),
        _c("dose_count", "INTEGER", "Number of doses in the phase; empty when open-ended."),
    ),
)

CONDITIONS = Table(
    "conditions",
    "Causes and conditions that change how results are read (nitrous oxide, renal impairment, ...).",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("condition_id", "VARCHAR", "Identifier of the record.", required=True),
        _c("kind", "VARCHAR", "cause, condition or pregnant.", required=True),
        _c(
            "code",
            "VARCHAR",
            "A cause or condition code of the case contract (e.g. nitrous_oxide, renal_impairment).",
            required=True,
        ),
        _c("onset_date", "DATE", "Onset or recorded date; empty when unknown (counts as always)."),
        _SOURCE,
    ),
)

INPUT_TABLES: tuple[Table, ...] = (PATIENTS, OBSERVATIONS, MEDICATIONS, DOSAGES, CONDITIONS)

FINDINGS = Table(
    "findings",
    "One row per person and finding.",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("finding", "VARCHAR", "Finding code (the screening rule's `finding`).", required=True),
        _c("rule_id", "VARCHAR", "The screening rule that found it.", required=True),
        _c("rule_source", "VARCHAR", "The rule's source URL, or `b12plan design rule`.", required=True),
        _c("item", "VARCHAR", "What the main evidence is: a test code, or medicine class(es)."),
        _c("value", "DOUBLE", "Its value as reported (or the dose interval in days)."),
        _c("unit", "VARCHAR", "The unit of `value` (canonical spelling)."),
        _c("date", "DATE", "When it was taken, given or last seen."),
        _c("item_2", "VARCHAR", "Supporting evidence, when there is any."),
        _c("value_2", "DOUBLE", "Its value."),
        _c("unit_2", "VARCHAR", "Its unit."),
        _c("date_2", "DATE", "Its date."),
        _c("since", "DATE", "Start of what the finding is about (replacement, medicine, prescription)."),
        _c("due", "DATE", "When the missing action was due."),
        _c("data_source", "VARCHAR", "Input file (or table) of the main evidence."),
        _c("evidence", "VARCHAR", "The evidence in words (no identifiers)."),
    ),
)

STATUS = Table(
    "status",
    "One row per person: B12 status as the planning core's assessment would give it.",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c(
            "status",
            "VARCHAR",
            "deficient, indeterminate, unlikely, uninterpretable or insufficient_data.",
            required=True,
        ),
        _c("item", "VARCHAR", "The test that decided it."),
        _c("value", "DOUBLE", "Its value as reported."),
        _c("unit", "VARCHAR", "Its unit."),
        _c("date", "DATE", "Its date."),
        _c("treatment_started", "DATE", "First B12 replacement on or before the screening date."),
        _c("birth_date", "DATE", "Date of birth."),
    ),
)

REJECTED = Table(
    "rejected",
    "Results the screen could not read (unit missing or not accepted, implausible value), with the reason.",
    (
        _c("patient_id", "VARCHAR", "The person.", required=True),
        _c("observation_id", "VARCHAR", "The result.", required=True),
        _c("test", "VARCHAR", "Test code.", required=True),
        _c("value", "DOUBLE", "Value as reported."),
        _c("unit", "VARCHAR", "Unit as reported."),
        _c("date", "DATE", "Date of the result."),
        _c("reason", "VARCHAR", "Why it was not read.", required=True),
        _c("rule_id", "VARCHAR", "The rule that refuses it, when there is one."),
        _c("data_source", "VARCHAR", "Input file (or table)."),
    ),
)

OUTPUT_TABLES: tuple[Table, ...] = (FINDINGS, STATUS, REJECTED)


def input_table(name: str) -> Table:
    """One input table by name; `KeyError` for a name that is not part of the layout."""
    for table in INPUT_TABLES:
        if table.name == name:
            return table
    raise KeyError(name)
