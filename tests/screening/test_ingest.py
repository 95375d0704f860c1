"""Reading inputs into the layout: FHIR NDJSON (plain, gzipped, by manifest) and layout CSV/Parquet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from b12plan.adapters.fhir.codes import load_codes
from b12plan.errors import UserError
from b12plan.screening.ingest import find_inputs, stage
from b12plan.screening.layout import INPUT_TABLES

TESTS = ["b12_total", "holotc", "mma", "homocysteine", "hb", "mcv"]
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"


def _obs(
    oid: str, loinc: str, quantity: dict[str, object], *, status: str = "final", **extra: object
) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": {"coding": [{"system": SNOMED, "code": "1"}, {"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-01-02T09:30:00Z",
        "valueQuantity": quantity,
        **extra,
    }


def _write(path: Path, resources: list[dict]) -> Path:
    text = "\n".join(json.dumps(r) for r in resources) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, object]]:
    cursor = con.execute(f"SELECT * FROM {table} ORDER BY ALL")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def bulk(tmp_path: Path) -> Path:
    _write(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-02-03"}])
    _write(
        tmp_path / "Observation.000.ndjson.gz",
        [
            _obs("o1", "2132-9", {"value": 150, "unit": "pg/ml", "system": UCUM, "code": "pg/mL"}),
            _obs("o2", "14685-2", {"value": 120, "unit": "pmol/l"}),
            _obs(
                "o3", "13964-2", {"value": 0.5, "unit": "µmol/L"}, referenceRange=[{"high": {"value": 0.4}}]
            ),
            _obs("o4", "2132-9", {"value": 150, "unit": "ng/L"}, status="entered-in-error"),
            _obs("o5", "2132-9", {"value": 150, "unit": "ng/L"}, status="preliminary"),
            _obs("o6", "2823-3", {"value": 4.1, "unit": "mmol/L"}),  # potassium: not screened
        ],
    )
    hydroxo = {"coding": [{"system": SNOMED, "code": "1217427007"}]}
    route = {"coding": [{"system": SNOMED, "code": "78421000"}]}
    _write(
        tmp_path / "MedicationRequest.ndjson",
        [
            {
                "resourceType": "MedicationRequest",
                "id": "r1",
                "status": "active",
                "medicationCodeableConcept": hydroxo,
                "subject": {"reference": "Patient/p1"},
                "authoredOn": "2025-01-06",
                "dosageInstruction": [
                    {
                        "sequence": 1,
                        "timing": {"repeat": {"count": 6, "frequency": 3, "period": 1, "periodUnit": "wk"}},
                        "route": route,
                    },
                    {
                        "sequence": 2,
                        "timing": {"repeat": {"frequency": 1, "period": 3, "periodUnit": "mo"}},
                        "route": route,
                    },
                ],
            },
            {
                "resourceType": "MedicationRequest",
                "id": "r2",
                "status": "active",
                "medicationReference": {"reference": "Medication/x"},
                "subject": {"reference": "Patient/p1"},
                "authoredOn": "2025-01-06",
            },
        ],
    )
    _write(
        tmp_path / "MedicationStatement.ndjson",
        [
            {
                "resourceType": "MedicationStatement",
                "id": "s1",
                "status": "active",
                "medicationCodeableConcept": {"text": "Omeprazole 20 mg capsules"},
                "subject": {"reference": "Patient/p1"},
                "effectivePeriod": {"start": "2023-01-01"},
            },
            {
                "resourceType": "MedicationStatement",
                "id": "s2",
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.whocc.no/atc", "code": "A10BA02"}]
                },
                "subject": {"reference": "Patient/p1"},
                "effectiveDateTime": "2022-05-01",
            },
            {
                "resourceType": "MedicationStatement",
                "id": "s3",
                "status": "not-taken",
                "medicationCodeableConcept": {"text": "metformin"},
                "subject": {"reference": "Patient/p1"},
                "effectiveDateTime": "2022-05-01",
            },
        ],
    )
    _write(
        tmp_path / "Condition.ndjson",
        [
            {
                "resourceType": "Condition",
                "id": "c1",
                "code": {"coding": [{"system": SNOMED, "code": "709044004"}]},
                "subject": {"reference": "Patient/p1"},
                "onsetDateTime": "2020-01-01",
            },
            {
                "resourceType": "Condition",
                "id": "c2",
                "code": {"coding": [{"system": SNOMED, "code": "709044004"}]},
                "verificationStatus": {"coding": [{"code": "refuted"}]},
                "subject": {"reference": "Patient/p1"},
            },
            {
                "resourceType": "Condition",
                "id": "c3",
                "code": {"coding": [{"system": SNOMED, "code": "84027009"}]},
                "clinicalStatus": {"coding": [{"code": "resolved"}]},
                "subject": {"reference": "Patient/p1"},
            },
        ],
    )
    _write(tmp_path / "Encounter.ndjson", [{"resourceType": "Encounter", "id": "e1"}])
    manifest = {"output": [{"type": "Patient", "url": "Patient.ndjson"}], "error": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_fhir_bulk_data_into_the_layout(bulk: Path) -> None:
    inputs = find_inputs([bulk, bulk / "manifest.json"])
    assert sorted(inputs.fhir) == [
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Patient",
    ]
    assert len(inputs.fhir["Patient"]) == 1  # the folder and the manifest name the same file once
    assert inputs.skipped == ("Encounter.ndjson: Encounter is not read by the screen",)
    con = duckdb.connect()
    _, report = stage(con, inputs, load_codes(), tests=TESTS)
    observations = {r["observation_id"]: r for r in _rows(con, "observations")}
    assert sorted(observations) == ["o1", "o2", "o3", "o5"]  # in error and potassium left out
    assert observations["o1"]["unit"] == "pg/mL"  # the UCUM code, not the display text
    assert observations["o2"]["unit"] == "pmol/l"
    assert observations["o2"]["test"] == "b12_total"
    assert observations["o3"]["upper_limit"] == 0.4
    assert observations["o3"]["test"] == "mma"
    assert str(observations["o1"]["effective_date"]) == "2025-01-02"
    assert observations["o1"]["source"] == "Observation.000.ndjson.gz"
    meds = {r["medication_id"]: r for r in _rows(con, "medications")}
    assert {k: (v["med_class"], v["route"]) for k, v in meds.items()} == {
        "r1": ("b12", "injection"),
        "s1": ("ppi", None),
        "s2": ("metformin", None),
    }
    assert meds["s2"]["end_date"] == meds["s2"]["start_date"]  # a past statement ends where it starts
    assert meds["s1"]["end_date"] is None  # ongoing
    dosages = _rows(con, "dosages")
    assert [(d["sequence"], round(d["interval_days"], 4), d["dose_count"]) for d in dosages] == [
        (1, round(7 / 3, 4), 6),
        (2, 91.3125, None),
    ]
    conditions = _rows(con, "conditions")
    assert [(c["condition_id"], c["kind"], c["code"]) for c in conditions] == [
        ("c1", "condition", "renal_impairment"),
        ("c3", "cause", "autoimmune_gastritis"),  # a cause is read even when resolved, as in the import
    ]
    assert report.rows["observations"] == 4
    assert report.unread == {"MedicationRequest by medicationReference": 1}


def test_fhir_to_parquet_files(bulk: Path, tmp_path: Path) -> None:
    out = tmp_path / "staged"
    out.mkdir()
    paths, report = stage(duckdb.connect(), find_inputs([bulk]), load_codes(), tests=TESTS, workdir=out)
    assert sorted(paths) == sorted(t.name for t in INPUT_TABLES)
    assert all(p.is_file() for p in paths.values())
    assert report.rows["patients"] == 1
    assert report.rows["dosages"] == 2


def test_layout_csv_with_loinc_codes(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text("patient_id,birth_date\np1,1950-01-01\n")
    (tmp_path / "observations.csv").write_text(
        "patient_id,observation_id,test,value,unit,effective_date\n"
        "p1,o1,2132-9,150,ng/L,2025-01-01\n"
        "p1,o2,HB,120,g/L,2025-01-01\n"
        "p1,o3,2823-3,4.0,mmol/L,2025-01-01\n"
    )
    con = duckdb.connect()
    _, report = stage(con, find_inputs([tmp_path]), load_codes(), tests=TESTS)
    rows = _rows(con, "observations")
    assert [(r["observation_id"], r["test"], r["source"]) for r in rows] == [
        ("o1", "b12_total", "observations.csv"),
        ("o2", "hb", "observations.csv"),
    ]
    assert report.rows == {"patients": 1, "observations": 2, "medications": 0, "dosages": 0, "conditions": 0}


def test_layout_parquet_is_read_in_place(tmp_path: Path) -> None:
    con = duckdb.connect()
    target = tmp_path / "patients.parquet"
    con.execute(f"COPY (SELECT 'p1' AS patient_id, DATE '1950-01-01' AS birth_date) TO '{target}'")
    stage(con, find_inputs([tmp_path]), load_codes(), tests=TESTS)
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'patients'"
    ).fetchall()
    assert kind == [("VIEW",)]


@pytest.mark.parametrize(
    ("tests_in_file", "translated", "kept"),
    [
        # our codes only: read as they are (potassium is not a screened test)
        (("b12_total", "hb", "potassium"), False, [("o0", "b12_total"), ("o1", "hb")]),
        # a LOINC code or another spelling: translated row by row
        (("b12_total", "718-7", "HB"), True, [("o0", "b12_total"), ("o1", "hb"), ("o2", "hb")]),
    ],
)
def test_layout_parquet_tests_are_read_as_given_or_translated(
    tmp_path: Path, tests_in_file: tuple[str, ...], translated: bool, kept: list[tuple[str, str]]
) -> None:
    con = duckdb.connect()
    values = ", ".join(f"('p1', 'o{i}', '{t}', 100.0)" for i, t in enumerate(tests_in_file))
    con.execute(
        f"COPY (SELECT * FROM (VALUES {values}) AS v(patient_id, observation_id, test, value)) "
        f"TO '{tmp_path / 'observations.parquet'}'"
    )
    stage(con, find_inputs([tmp_path]), load_codes(), tests=TESTS)
    rows = _rows(con, "observations")
    assert [(r["observation_id"], r["test"]) for r in rows] == kept
    view = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'observations'").fetchall()[0][0]
    assert ("CASE" in view) is translated


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("observations.csv", "patient_id,test\np1,b12_total\n", "column observation_id is required"),
        ("labs.csv", "a\n1\n", "is not named after a layout table"),
        ("Observation.ndjson", "not json\n", "is not FHIR NDJSON"),
    ],
)
def test_inputs_that_cannot_be_read_are_refused(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=message):
        stage(duckdb.connect(), find_inputs([tmp_path]), load_codes(), tests=TESTS)


def test_a_missing_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file or folder"):
        find_inputs([tmp_path / "nothing"])
