"""FHIR R4 in and out: a plan as a Bundle (export), FHIR resources as a case (import).

The fhir.resources R4B models stay inside this package (`fhir.resources` at top level is R5); domain
values never see FHIR.

    export.py    plan_to_fhir_bundle, AdministrationRecord
    importer/    bundle_to_case, bundle_to_cases, ImportResult, ImportBatch; b12_under_way
    shapes.py    the JSON types of the fields the importer reads
    bundles.py   Bundle / NDJSON / Bulk Data manifest text -> resource dicts
    checks.py    bindings and code shapes fhir.resources does not check
    codes.py     data/codes.toml as frozen tables; Verhoeff and ATC checks
"""

from b12plan.adapters.fhir.bundles import (
    BulkManifest,
    ManifestFile,
    read_manifest,
    read_resources,
    resources_from_bundle,
    resources_from_ndjson,
)
from b12plan.adapters.fhir.checks import check_resources
from b12plan.adapters.fhir.codes import atc_valid, load_codes, snomed_id_valid, verhoeff_valid
from b12plan.adapters.fhir.export import AdministrationRecord, plan_to_fhir_bundle
from b12plan.adapters.fhir.importer import (
    B12Treatment,
    B12Use,
    ImportBatch,
    ImportResult,
    b12_under_way,
    bundle_to_case,
    bundle_to_cases,
)
from b12plan.adapters.fhir.shapes import shape_problem

__all__ = [
    "AdministrationRecord",
    "B12Treatment",
    "B12Use",
    "BulkManifest",
    "ImportBatch",
    "ImportResult",
    "ManifestFile",
    "atc_valid",
    "b12_under_way",
    "bundle_to_case",
    "bundle_to_cases",
    "check_resources",
    "load_codes",
    "plan_to_fhir_bundle",
    "read_manifest",
    "read_resources",
    "resources_from_bundle",
    "resources_from_ndjson",
    "shape_problem",
    "snomed_id_valid",
    "verhoeff_valid",
]
