"""The synthetic population, the report, the command line, and the docs that describe them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from screenkit import AS_OF

import b12plan.screening as screening
from b12plan.domain.codes import LabTest
from b12plan.domain.rules import RuleSet, ScreenRule
from b12plan.errors import UserError
from b12plan.screening.layout import INPUT_TABLES, OUTPUT_TABLES
from b12plan.screening.synth import Profile, generate, resources_of, write_ndjson

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screening.md"


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_files(tmp_path: Path) -> None:
    write_ndjson(generate(200, seed=3, as_of=AS_OF), tmp_path / "a")
    write_ndjson(generate(200, seed=3, as_of=AS_OF), tmp_path / "b")
    write_ndjson(generate(200, seed=4, as_of=AS_OF), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_gzip_and_manifest(tmp_path: Path) -> None:
    summary = write_ndjson(generate(50, seed=1, as_of=AS_OF), tmp_path, compress=True)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {f["url"] for f in manifest["output"]} == {p.name for p in summary.files.values()}
    assert all(name.endswith(".ndjson.gz") for name in (f["url"] for f in manifest["output"]))
    assert summary.resources["Patient"] == 50


def test_resources_are_valid_fhir_r4() -> None:
    """Every resource type the generator writes passes fhir.resources' R4B models."""
    import importlib

    seen: Counter[str] = Counter()
    for patient in generate(300, seed=2, as_of=AS_OF):
        for resource in resources_of(patient):
            kind = str(resource["resourceType"])
            if seen[kind] >= 20:
                continue
            module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
            getattr(module, kind).model_validate(resource)
            seen[kind] += 1
    assert set(seen) == {
        "Patient",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Condition",
    }


def test_population_looks_like_the_profile() -> None:
    people = list(generate(4000, seed=9, as_of=AS_OF))
    ids = [p.id for p in people]
    assert len(set(ids)) == len(ids)
    lab_ids = [lab.id for p in people for lab in p.labs]
    assert len(set(lab_ids)) == len(lab_ids)
    per_person = len(lab_ids) / len(people)
    assert 8 <= per_person <= 12  # about 10 results a person
    units = Counter(lab.unit for p in people for lab in p.labs if lab.test is LabTest.B12_TOTAL and lab.ucum)
    assert {"ng/L", "pg/mL", "pmol/L"} <= set(units)
    old = [p for p in people if (AS_OF - p.birth_date).days > 75 * 365]
    young = [p for p in people if (AS_OF - p.birth_date).days < 40 * 365]
    share = {k: sum(p.truth == "deficient" for p in g) / len(g) for k, g in (("old", old), ("young", young))}
    assert share["old"] > share["young"]  # prevalence rises with age
    assert any(lab.unit is None for p in people for lab in p.labs)  # missing units
    assert any(lab.date is None for p in people for lab in p.labs)  # undated results


def test_run_writes_every_output(population: Path, tmp_path: Path, nice: RuleSet) -> None:
    result = screening.screen([population], out=tmp_path, as_of=AS_OF)
    for name in (
        "findings.parquet",
        "findings.csv",
        "status.parquet",
        "rejected.parquet",
        "rejected.csv",
        "summary.parquet",
        "summary.csv",
        "report.html",
    ):
        assert (tmp_path / name).is_file(), name
    findings = pq.read_table(tmp_path / "findings.parquet")
    assert findings.column_names == list(screening.FINDINGS.names)
    assert sum(result.findings.values()) == findings.num_rows
    summary = pq.read_table(tmp_path / "summary.parquet").to_pylist()
    assert [r["code"] for r in summary if r["kind"] == "finding"] == [r.finding for r in nice.of(ScreenRule)]
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3
    assert "<script" not in html
    assert "stylesheet" not in html
    people = set(findings.column("patient_id").to_pylist())
    assert not any(pid in html for pid in people), "the report names a person"
    assert "b12plan design rule" in html


def test_report_is_the_same_for_the_same_run(population: Path, tmp_path: Path) -> None:
    screening.screen([population], out=tmp_path / "a", as_of=AS_OF)
    screening.screen([population], out=tmp_path / "b", as_of=AS_OF)

    def without_timing(p: Path) -> str:
        return re.sub(r"[0-9.]+ s</small>", "", p.read_text())

    assert without_timing(tmp_path / "a" / "report.html") == without_timing(tmp_path / "b" / "report.html")
    assert (tmp_path / "a" / "findings.csv").read_bytes() == (tmp_path / "b" / "findings.csv").read_bytes()


def test_cli_synth_then_screen(cli: Callable[..., object], tmp_path: Path) -> None:
    made = cli("synth", "--patients", 120, "--out", tmp_path / "in", "--seed", 1)
    assert made.exit_code == 0, made.all_output  # type: ignore[attr-defined]
    run = cli("screen", tmp_path / "in", "--as-of", "2025-06-30", "--out", tmp_path / "out", "--quiet")
    assert run.exit_code == 0, run.all_output  # type: ignore[attr-defined]
    assert "120 people screened" in run.stdout  # type: ignore[attr-defined]
    assert (tmp_path / "out" / "report.html").is_file()


def test_saved_layout_screens_the_same(population: Path, tmp_path: Path) -> None:
    """`--save-layout` keeps the staged tables; screening that folder reads them in place, same results."""
    layout = tmp_path / "layout"
    first = screening.screen(
        [population], out=tmp_path / "a", as_of=AS_OF, options=screening.EngineOptions(save_layout=layout)
    )
    assert sorted(p.name for p in layout.iterdir()) == sorted(f"{t.name}.parquet" for t in INPUT_TABLES)
    for table in INPUT_TABLES:
        assert pq.read_table(layout / f"{table.name}.parquet").column_names == list(table.names)
    again = screening.screen([layout], out=tmp_path / "b", as_of=AS_OF)
    assert again.rows_in == first.rows_in
    assert again.findings == first.findings
    assert again.status == first.status
    for name in ("findings.csv", "rejected.csv", "summary.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_save_layout_refuses_the_input_folder(population: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    screening.screen(
        [population], out=tmp_path / "a", as_of=AS_OF, options=screening.EngineOptions(save_layout=layout)
    )
    before = {p.name: p.read_bytes() for p in layout.iterdir()}
    with pytest.raises(UserError, match="--save-layout: holds input files of this run"):
        screening.screen(
            [layout], out=tmp_path / "b", as_of=AS_OF, options=screening.EngineOptions(save_layout=layout)
        )
    assert {p.name: p.read_bytes() for p in layout.iterdir()} == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("screen", "nothing-here", "--as-of", "2025-06-30"), "no such file or folder"),
        (("screen", ".", "--engine", "oracle"), "--engine: 'oracle' is not an engine"),
        (("screen", ".", "--as-of", "30/06/2025"), "--as-of: '30/06/2025' is not a date"),
        (("screen", ".", "--ruleset", "nope"), "is not a rule set"),
        (("screen", "--engine", "postgres"), "--postgres-url: is needed"),
        (("synth", "--patients", 0), "--patients: must be at least 1"),
    ],
)
def test_cli_refuses_with_exit_2(cli: Callable[..., object], args: tuple[object, ...], message: str) -> None:
    run = cli(*args)
    assert run.exit_code == 2, run.all_output  # type: ignore[attr-defined]
    assert message in run.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in run.all_output  # type: ignore[attr-defined]


def test_docs_describe_the_layout_the_findings_and_the_profile(nice: RuleSet) -> None:
    text = DOCS.read_text()
    for table in (*INPUT_TABLES, *OUTPUT_TABLES):
        for column in table.columns:
            assert f"`{column.name}`" in text, f"{table.name}.{column.name}"
    for rule in nice.of(ScreenRule):
        assert f"`{rule.finding}`" in text
        assert rule.id in text
    for field in dataclasses.fields(Profile):
        assert f"`{field.name}`" in text, field.name
    for option in ("--ruleset", "--as-of", "--out", "--engine", "--memory-limit", "--postgres-url", "--seed"):
        assert option in text


def test_public_surface() -> None:
    assert sorted(screening.__all__) == sorted(set(screening.__all__))
    for name in screening.__all__:
        assert hasattr(screening, name), name
