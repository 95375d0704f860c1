"""FHIR R4 resources (a Bundle, or Bulk Data NDJSON) into a case dict shaped like b12plan.case/1.

What is read: Patient (birthDate -> age at `as_of`, gender -> sex); Observation by LOINC (domain
LOINC_ALIASES) with its UCUM unit, reference range and date; Condition and Procedure by the finding table of
data/codes.toml (cause, condition or pregnancy); MedicationStatement and MedicationAdministration by ATC,
SNOMED CT, RxNorm or ingredient name (cause or condition; B12 itself gives `treatment_started`, the
earliest start of one active or completed); AllergyIntolerance by substance (cobalt or B12 -> condition).

Nothing is dropped silently: every resource or code not understood is named in `ImportResult.unknown`
(type/id, the field and why); what was understood but deliberately left out (a refuted diagnosis, a stopped
anticoagulant) or approximated is named in `ImportResult.notes`. In particular:
- a field of the wrong JSON type (`"code": "2132-9"`) leaves the whole resource out (`shapes.py`);
- a censored result (`valueQuantity.comparator`, e.g. `<150 pg/mL`) is never read as if it were exact:
  it is left out of the case and reported in `unknown` with its comparator, for a person to judge;
- a reference range in another unit than the result is left out (the limits would be misread).

The result is a plain dict for `b12plan.domain.case.parse_case`, which does the strict checking; domain
types never see FHIR. Resources of another patient are never merged: `bundle_to_case` reads one patient
(`patient_id`), `bundle_to_cases` reads each patient of a multi-patient export on its own.

    cases.py         bundle_to_case, bundle_to_cases: each resource to the reader of its kind
    results.py       ImportResult, ImportBatch, B12Use
    found.py         what one patient's import has read so far
    patient.py       Patient
    observations.py  Observation (labs: value, unit, reference range, date)
    findings.py      Condition, Procedure, AllergyIntolerance
    medicines.py     MedicationStatement, MedicationAdministration; B12 replacement (b12_under_way)
    fields.py        codings, dates and references as the readers use them
"""

from b12plan.adapters.fhir.importer.cases import bundle_to_case, bundle_to_cases
from b12plan.adapters.fhir.importer.medicines import B12Treatment, b12_under_way
from b12plan.adapters.fhir.importer.results import B12Use, ImportBatch, ImportResult

__all__ = [
    "B12Treatment",
    "B12Use",
    "ImportBatch",
    "ImportResult",
    "b12_under_way",
    "bundle_to_case",
    "bundle_to_cases",
]
