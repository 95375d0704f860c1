"""FHIR files through the command line and the services: `b12plan import FILE` (Bundle, NDJSON, gzipped
NDJSON, Bulk Data manifest) into a SQLite record store, `b12plan fhir case FILE` feeding `b12plan plan -`,
and `b12plan export ID --format fhir`. Each test uses its own database (`--db`)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from b12plan.adapters.fhir import check_resources
from b12plan.errors import UserError
from b12plan.services import fhir_import
from b12plan.services.record_files import export_fhir
from b12plan.store import Store

Cli = Callable[..., Any]
FIXTURES = Path(__file__).parent / "fixtures"
BULK = FIXTURES / "bulk"
LOINC, UCUM, RXNORM = (
    "http://loinc.org",
    "http://unitsofmeasure.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
)
FIELD_PROBLEM = re.compile(r"^error: (\S[^:]*): \S", re.MULTILINE)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "records.sqlite3"


def labs_of(db: Path, ref: str) -> list[tuple[Any, ...]]:
    with Store.open(str(db), actor="t") as store, store.transaction(write=False) as r:
        file = r.patient_file(r.patient(ref))
    return [(x.taken_on, x.test, x.value, x.unit, x.upper_limit, x.lower_limit) for x in file.labs]


def plan_versions(db: Path, ref: str) -> list[int]:
    with Store.open(str(db), actor="t") as store, store.transaction(write=False) as r:
        return [v.version for v in r.patient_file(r.patient(ref)).plan_versions]


def refused(run: Any, field: str, *words: str) -> None:
    assert run.exit_code == 2, run.all_output
    assert "Traceback" not in run.all_output
    assert field in FIELD_PROBLEM.findall(run.stderr), run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def obs(rid: str, pid: str, loinc: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": rid, "status": "final",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": LOINC, "code": loinc}]}, "effectiveDateTime": "2026-01-05",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}, **extra,
    }  # fmt: skip


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """A Bulk Data export of three people, as a server writes it: absolute URLs, gzipped NDJSON.

    - alpha: B12 120 ng/L, Hb; on cyanocobalamin since 2025-12-20 (RxNorm); allergic to cobalt;
    - beta: Hb, a censored B12 (`<150 pg/mL`), an Observation whose code is a string;
    - `g/h i`: a FHIR id that is not a b12plan id as it stands (stored as `g-h-i`), age only.
    """
    folder = tmp_path / "export"
    folder.mkdir()
    patients = [
        {"resourceType": "Patient", "id": "alpha", "birthDate": "1964-03-02", "gender": "female"},
        {"resourceType": "Patient", "id": "beta", "birthDate": "1950-06", "gender": "male"},
        {"resourceType": "Patient", "id": "g/h i", "birthDate": "1990-01-01"},
    ]
    observations = [
        obs("a-b12", "alpha", "2132-9", 120, "ng/L",
            referenceRange=[{"low": {"value": 180, "unit": "ng/L"}, "high": {"value": 900, "unit": "ng/L"}}]),
        obs("a-hb", "alpha", "718-7", 98, "g/L"),
        obs("b-hb", "beta", "718-7", 12.9, "g/dL"),
        obs("b-b12", "beta", "2132-9", 150, "pg/mL"),
        {**obs("b-bad", "beta", "2132-9", 150, "pg/mL"), "code": "2132-9"},
    ]  # fmt: skip
    observations[3]["valueQuantity"]["comparator"] = "<"
    medicines = [
        {"resourceType": "MedicationStatement", "id": "a-cyano", "status": "active",
         "subject": {"reference": "Patient/alpha"}, "effectivePeriod": {"start": "2025-12-20"},
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "309594"}]}},
    ]  # fmt: skip
    allergies = [
        {"resourceType": "AllergyIntolerance", "id": "a-cobalt", "patient": {"reference": "Patient/alpha"},
         "code": {"text": "Cobalt"}},
    ]  # fmt: skip
    errors = [
        {"resourceType": "OperationOutcome", "id": "e1", "issue": [{"diagnostics": "Procedure: timeout"}]}
    ]

    def ndjson(items: list[dict[str, Any]]) -> bytes:
        return "".join(json.dumps(i) + "\n" for i in items).encode()

    (folder / "Patient.ndjson.gz").write_bytes(gzip.compress(ndjson(patients)))
    (folder / "Observation.ndjson").write_bytes(ndjson(observations))
    (folder / "MedicationStatement.ndjson.gz").write_bytes(gzip.compress(ndjson(medicines)))
    (folder / "AllergyIntolerance.ndjson").write_bytes(ndjson(allergies))
    (folder / "errors.ndjson").write_bytes(ndjson(errors))
    base = "https://fhir.example.org/r4/bulk/job-7"
    names = [
        "Patient.ndjson.gz",
        "Observation.ndjson",
        "MedicationStatement.ndjson.gz",
        "AllergyIntolerance.ndjson",
    ]
    manifest = {
        "transactionTime": "2026-01-11T10:00:00Z",
        "request": "https://fhir.example.org/r4/$export",
        "requiresAccessToken": True,
        "output": [{"type": n.split(".")[0], "url": f"{base}/{n}"} for n in names],
        "error": [{"type": "OperationOutcome", "url": f"{base}/errors.ndjson"}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


# --- import ----------------------------------------------------------------------------------------------


def test_bulk_fixture_imports_into_a_store_and_twice_adds_nothing(cli: Cli, db: Path) -> None:
    run = cli("--db", db, "import", BULK / "manifest.json")
    assert run.exit_code == 0, run.all_output
    assert run.stdout == "imported 1 patient from FHIR (new: p2): 2 lab results added, 0 already stored\n"
    assert "not imported (unknown codes, censored or malformed values, results the record refuses): 1" in (
        run.stderr
    )
    assert "--verbose lists them" in run.stderr
    assert labs_of(db, "p2") == [
        (dt.date(2026, 1, 5), "b12_total", 160.0, "pg/mL", 900.0, None),
        (dt.date(2026, 1, 5), "hb", 13.1, "g/dL", None, None),
    ]
    again = cli("--db", db, "import", BULK / "manifest.json", "--verbose")
    assert again.stdout == "imported 1 patient from FHIR: 0 lab results added, 2 already stored\n"
    assert "  p2: OperationOutcome/export-1: export error: Condition export failed: timeout" in again.stderr
    assert "  p2: Patient/p2: birthDate 1950-06 is partial; age" in again.stderr
    assert len(labs_of(db, "p2")) == 2


def test_a_multi_patient_export_with_plans(cli: Cli, db: Path, export_dir: Path) -> None:
    args = ("--db", db, "import", export_dir / "manifest.json", "--plan", "--start", "2026-12-07", "-v")
    run = cli(*args)
    assert run.exit_code == 0, run.all_output
    assert run.stdout == (
        "imported 3 patients from FHIR (new: alpha, beta, g-h-i): 3 lab results added, 0 already stored; "
        "plan versions saved: alpha v1, beta v1, g-h-i v1\n"
    )
    not_imported = run.stderr.split("notes on what was read")[0]
    assert (
        "beta: Observation/b-b12 (b12_total): value <150 pg/mL is censored (comparator '<')" in not_imported
    )
    assert (
        "beta: Observation/b-bad: code is a string, not an object (not FHIR R4 JSON); not read"
        in not_imported
    )
    assert "OperationOutcome/e1: export error: Procedure: timeout" in not_imported
    assert "alpha: MedicationStatement/a-cyano: B12 replacement" in run.stderr  # a note: it was read

    assert labs_of(db, "alpha") == [
        (dt.date(2026, 1, 5), "b12_total", 120.0, "ng/L", 900.0, 180.0),
        (dt.date(2026, 1, 5), "hb", 98.0, "g/L", None, None),
    ]
    assert [lab[1] for lab in labs_of(db, "beta")] == ["hb"]  # the censored B12 is not stored as 150
    with Store.open(str(db), actor="t") as store, store.transaction(write=False) as r:
        alpha = r.patient_file(r.patient("alpha")).latest_plan
    assert alpha is not None
    assert alpha.case["treatment_started"] == "2025-12-20"
    assert alpha.case["conditions"] == ["cobalt_allergy"]
    assert alpha.case["start_date"] == "2026-12-07"
    assert "COBALT_ALLERGY" in alpha.plan_json

    again = cli(*args)
    assert again.exit_code == 0, again.all_output
    assert "0 lab results added, 3 already stored; plan versions saved: none (already saved)" in again.stdout
    assert plan_versions(db, "alpha") == [1]


@pytest.mark.parametrize("form", ["bundle", "ndjson", "ndjson.gz", "stdin"])
def test_a_bundle_or_ndjson_file(cli: Cli, db: Path, tmp_path: Path, form: str) -> None:
    bundle = json.loads((FIXTURES / "bundle-b12-workup.json").read_text(encoding="utf-8"))
    lines = "".join(json.dumps(e["resource"]) + "\n" for e in bundle["entry"])
    path = tmp_path / "input"
    stdin = None
    if form == "bundle":
        path.write_text(json.dumps(bundle), encoding="utf-8")
    elif form == "ndjson":
        path.write_text(lines, encoding="utf-8")
    elif form == "ndjson.gz":
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path, stdin = Path("-"), lines
    run = cli("--db", db, "import", path, input=stdin)
    assert run.exit_code == 0, run.all_output
    assert run.stdout.startswith("imported 1 patient from FHIR (new: example): 11 lab results added")
    assert "not imported (unknown codes, censored or malformed values, results the record refuses): 4" in (
        run.stderr
    )
    tests = [lab[1] for lab in labs_of(db, "example")]
    assert tests[:3] == ["b12_total", "holotc", "mma"]
    assert {"ifab", "inr"} <= set(tests)


def test_strict_imports_nothing_when_anything_is_left_out(cli: Cli, db: Path) -> None:
    refused(cli("--db", db, "import", BULK / "manifest.json", "--strict"), "--strict", "1 items")
    assert cli("--db", db, "patient", "list", "--format", "json").stdout == "[]\n"


def test_a_plan_that_cannot_be_made_refuses_the_whole_import(cli: Cli, db: Path, tmp_path: Path) -> None:
    no_birth = tmp_path / "p.ndjson"
    no_birth.write_text(
        json.dumps({"resourceType": "Patient", "id": "nb"}) + "\n"
        + json.dumps(obs("o", "nb", "718-7", 101, "g/L")) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    refused(cli("--db", db, "import", no_birth, "--plan"), "patient.age (patient nb)", "fhir case")
    assert cli("--db", db, "patient", "list", "--format", "json").stdout == "[]\n"
    assert cli("--db", db, "import", no_birth).exit_code == 0  # the labs alone are fine


@pytest.mark.parametrize(
    ("content", "args", "field", "words"),
    [
        ("hello", (), "FILE", "not valid JSON"),
        ('{"a": 1}', (), "FILE", "neither a b12plan record export"),
        ('{"x": 1}\n{"y": 2}\n', (), "FILE", "not FHIR NDJSON"),
        ('{"resourceType": "Patient", "id": "p"}', ("--ruleset", "nice-ng239"), "--ruleset",
         "only with --plan"),
        ('{"schema": "b12plan.record/1"}', ("--plan",), "FILE", "for FHIR"),
        ('{"resourceType": "Observation", "id": "o"}', (), "FILE", "holds no Patient"),
    ],
)  # fmt: skip
def test_files_that_cannot_be_imported(
    cli: Cli, db: Path, tmp_path: Path, content: str, args: tuple[str, ...], field: str, words: str
) -> None:
    path = tmp_path / "in.json"
    path.write_text(content, encoding="utf-8")
    refused(cli("--db", db, "import", path, *args), field, words)


def test_a_manifest_reads_only_files_beside_it(cli: Cli, db: Path, export_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "secret.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "s"}) + "\n")
    manifest["output"].append({"type": "Patient", "url": "../secret.ndjson"})
    (export_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused(cli("--db", db, "import", export_dir / "manifest.json"), "FILE", "secret.ndjson is not beside it")
    shutil.copy(tmp_path / "secret.ndjson", export_dir / "secret.ndjson")
    assert cli("--db", db, "import", export_dir / "manifest.json").exit_code == 0


def test_fhir_patient_ids_become_b12plan_ids() -> None:
    assert fhir_import.fhir_patient_ref("g/h i") == "g-h-i"
    assert fhir_import.fhir_patient_ref("61ebe359-bfdc-4613-8bf2-c5e300945f0a") == (
        "61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    )
    assert len(fhir_import.fhir_patient_ref("x" * 80)) == 64
    with pytest.raises(UserError, match="Patient/"):
        fhir_import.fhir_patient_ref("///")


def test_two_fhir_ids_that_would_share_a_b12plan_id_are_refused(tmp_path: Path, db: Path) -> None:
    text = "".join(
        json.dumps({"resourceType": "Patient", "id": i, "birthDate": "1970-01-01"}) + "\n"
        for i in ("a b", "a/b")
    )
    kind = fhir_import.detect_kind(text)
    fhir = fhir_import.read_fhir(text, kind, folder=None)
    with (
        Store.open(str(db), actor="t") as store,
        pytest.raises(UserError, match="would both be stored as 'a-b'"),
    ):
        fhir_import.import_fhir(store, fhir)


# --- fhir case -> plan -------------------------------------------------------------------------------------


def test_the_case_printed_is_accepted_by_plan(cli: Cli) -> None:
    run = cli("fhir", "case", FIXTURES / "bundle-b12-workup.json", "--as-of", "2026-01-11")
    assert run.exit_code == 0, run.all_output
    case = json.loads(run.stdout)
    assert case["patient"] == {"age": 51, "sex": "female"}
    assert "not read into the case: 4" in run.stderr
    assert "  Encounter/gp-visit: resource type not read" in run.stderr
    planned = cli("plan", "-", "--format", "json", input=run.stdout)
    assert planned.exit_code == 0, planned.all_output
    assert json.loads(planned.stdout)["schema"] == "b12plan.plan/1"


def test_fhir_case_of_one_patient_of_several(cli: Cli, export_dir: Path) -> None:
    manifest = export_dir / "manifest.json"
    refused(cli("fhir", "case", manifest), "--patient", "holds 3 patients (alpha, beta, g/h i)")
    refused(cli("fhir", "case", manifest, "--patient", "zeta"), "--patient", "no Patient 'zeta'")
    run = cli("fhir", "case", manifest, "--patient", "alpha", "--as-of", "2026-01-11")
    assert run.exit_code == 0, run.all_output
    case = json.loads(run.stdout)
    assert case["treatment_started"] == "2025-12-20"
    assert case["conditions"] == ["cobalt_allergy"]
    assert "OperationOutcome/e1: export error" in run.stderr  # the file's own errors are shown
    assert "Observation/b-" not in run.stderr  # another patient's resources are not noise here
    planned = cli("plan", "-", "--format", "json", input=run.stdout)
    assert planned.exit_code == 0, planned.all_output


# --- export fhir -------------------------------------------------------------------------------------------


def test_export_fhir_has_the_plan_and_one_administration_per_dose(cli: Cli, db: Path) -> None:
    assert cli("--db", db, "import", BULK / "manifest.json", "--plan", "--start", "2026-01-12").exit_code == 0
    given = [("2026-01-12T09:00", "deltoid-left"), ("2026-01-14T09:05", "deltoid-right")]
    for at, site in given:
        run = cli("--db", db, "give", "p2", "--at", at, "--site", site, "--lot", "L7")
        assert run.exit_code == 0, run.all_output
    exported = cli("--db", db, "export", "p2", "--format", "fhir")
    assert exported.exit_code == 0, exported.all_output
    bundle = json.loads(exported.stdout)
    assert Bundle.model_validate(bundle).type == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    assert check_resources(resources) == []
    kinds = [r["resourceType"] for r in resources]
    assert kinds.count("MedicationRequest") == kinds.count("CarePlan") == 1
    administrations = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert len(administrations) == len(given)
    for (at, site), resource in zip(given, administrations, strict=True):
        moment = dt.datetime.fromisoformat(resource["effectiveDateTime"])
        assert moment.astimezone().replace(tzinfo=None) == dt.datetime.fromisoformat(at)
        assert resource["dosage"]["site"] == {"text": site}
        assert resource["contained"][0]["batch"] == {"lotNumber": "L7"}
    assert {r["subject"]["reference"] for r in resources} == {"Patient/p2"}
    refused(cli("--db", db, "export", "nobody", "--format", "fhir"), "ID", "no patient 'nobody'")


def test_export_fhir_is_a_plain_dict_and_links_doses_to_their_plan(db: Path) -> None:
    from b12plan import services
    from b12plan.services import records

    with Store.open(str(db), actor="nurse") as store:
        text = (BULK / "Patient.ndjson").read_text() + (BULK / "Observation.ndjson").read_text()
        fhir = fhir_import.read_fhir(text, "ndjson", folder=None)
        fhir_import.import_fhir(
            store, fhir, plan=True, start=dt.date(2026, 1, 12), now=dt.datetime(2026, 1, 11, 8)
        )
        records.give_dose(store, "p2", at=dt.datetime(2026, 1, 12, 9), now=dt.datetime(2026, 1, 12, 10))
        case = json.loads(services.example_case_text()) | {"start_date": "2026-01-19"}
        records.plan_for_patient(store, "p2", case, today=dt.date(2026, 1, 13), reason="new results",
                                 now=dt.datetime(2026, 1, 13, 8))  # fmt: skip
        records.give_dose(store, "p2", at=dt.datetime(2026, 1, 19, 9), now=dt.datetime(2026, 1, 19, 10))
        bundle = export_fhir(store, "p2", tz="Europe/London")
    assert json.loads(json.dumps(bundle)) == bundle
    [request] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    earlier, later = (
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationAdministration"
    )
    assert earlier["effectiveDateTime"] == "2026-01-12T09:00:00Z"  # London winter time is UTC
    assert "request" not in earlier  # given under plan version 1, which is not in this Bundle
    assert later["request"] == {"reference": f"urn:uuid:{request['id']}"}
