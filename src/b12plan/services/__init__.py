"""Use cases: the pure core (`domain`) joined with the data files (`rulebook`), the record store (`store`) and
the output formats (`adapters`). The CLI, the web app, the JSON API and CDS Hooks call these; none of them
decides anything clinical itself.

    planning      a case in, a plan out: parse, validate, plan, render (re-exported: `services.plan_document`)
    records       the patient record: patients, plan versions, doses given, vials, labs, symptom diary,
                  due list, review, history
    record_files  a record to and from files: export, import, backup
    fhir_import   FHIR R4 Bundles, NDJSON and Bulk Data exports into records
    accounts      users, roles and the access policy (who may read or change which record)
    as_user       the record use cases as a signed-in user: every function checks the access policy first
    overviews     what the pages show: clinic dashboard, patient page, interval report, chart series
"""

from b12plan.services.planning import (
    FORMATS,
    example_case_text,
    parse_case_text,
    plan_document,
    read_case_file,
    render_plan,
    validate_document,
)

__all__ = [
    "FORMATS",
    "example_case_text",
    "parse_case_text",
    "plan_document",
    "read_case_file",
    "render_plan",
    "validate_document",
]
