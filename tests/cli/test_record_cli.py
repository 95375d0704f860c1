"""The patient-record commands, in-process on a SQLite file: what they print, how they refuse (exit 2,
`field: problem` naming the option typed, no traceback, nothing written), and that no patient name reaches a
log."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from b12plan import services
from b12plan.store import Store

Cli = Callable[..., Any]
NAME = "Zebedee Quintrell-Oakes"  # a name that cannot appear by chance
FIELD_PROBLEM = re.compile(r"^error: (\S[^:]*): \S", re.MULTILINE)


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test here uses its own database and user, never the real default."""
    db = tmp_path / "records.sqlite3"
    monkeypatch.setenv("B12PLAN_DATABASE_URL", str(db))
    monkeypatch.setenv("B12PLAN_USER", "nurse.a")
    return db


@pytest.fixture
def case_file(tmp_path: Path) -> Path:
    doc = json.loads(services.example_case_text())
    doc["start_date"] = "2026-01-05"
    for lab in doc["labs"]:
        lab["date"] = "2025-12-29"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def patient(cli: Cli, case_file: Path) -> str:
    """P-1, with the example plan (hydroxocobalamin 1 mg IM ampoules from Monday 5 January 2026)."""
    assert cli("patient", "add", "P-1", "--name", NAME, "--clinic", "North").exit_code == 0
    run = cli("plan", case_file, "--patient", "P-1", "--format", "json")
    assert run.exit_code == 0, run.all_output
    assert "saved as plan version 1 for P-1" in run.stderr
    return "P-1"


def _refused(run: Any, field: str, *words: str) -> None:
    assert run.exit_code == 2, run.all_output
    assert "Traceback" not in run.all_output
    assert field in FIELD_PROBLEM.findall(run.stderr), run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def _counts(db: Path) -> tuple[int, ...]:
    with Store.open(str(db), actor="t") as store, store.transaction(write=False) as r:
        files = r.patient_files()
        audit = r.audit_entries()
    return (
        len(files),
        *(len(getattr(f, k)) for f in files for k in ("administrations", "labs", "symptoms")),
        len(audit),
    )


def test_patient_add_list_show(cli: Cli, patient: str) -> None:
    generated = cli("patient", "add", "--clinic", "South")
    assert re.fullmatch(r"added patient P-[2-9A-HJ-NP-Z]{6}\n", generated.stdout)
    listed = cli("patient", "list", "--format", "json")
    assert [p["id"] for p in json.loads(listed.stdout)][:1] == ["P-1"]
    assert NAME not in listed.stdout  # names only when asked for
    assert NAME in cli("patient", "list", "--names").stdout
    shown = cli("patient", "show", "P-1", "--on", "2026-01-04")
    assert "plan: version 1 (nice-ng239)" in shown.stdout
    assert "next dose: dose 1 on 2026-01-05: 1000 mcg IM, 1 mL (upcoming)" in shown.stdout
    _refused(cli("patient", "add", "P-1"), "ID", "a patient 'P-1' already exists")
    _refused(cli("patient", "add", "bad id!"), "ID", "letters, digits")


def test_a_new_plan_version_needs_a_reason(cli: Cli, patient: str, case_file: Path) -> None:
    run = cli("plan", case_file, "--patient", patient, "--format", "json")
    _refused(run, "--reason", "a new plan version needs the reason for the change")
    run = cli("plan", case_file, "--patient", patient, "--reason", "weight changed", "--format", "json")
    assert run.exit_code == 0
    assert "saved as plan version 2" in run.stderr
    _refused(cli("plan", case_file, "--patient", "P-9"), "--patient", "no patient 'P-9'")


def test_give_lab_symptom_due_review_history(cli: Cli, patient: str) -> None:
    given = cli("give", patient, "--at", "2026-01-05T09:00", "--site", "deltoid-left", "--lot", "L1")
    assert given.exit_code == 0, given.all_output
    assert given.stdout.splitlines() == [
        "recorded for P-1: 1000 mcg IM (1 mL) at 2026-01-05 09:00, site deltoid-left",
        "next site: deltoid-right",
    ]
    assert cli("lab", "add", patient, "hb", "101", "g/L", "--date", "2026-01-13").exit_code == 0
    assert cli("lab", "add", patient, "ifab", "positive", "--date", "2026-01-13").exit_code == 0
    assert cli("symptom", "add", patient, "fatigue", "6", "--date", "2026-01-13").exit_code == 0

    due = cli("due", "--on", "2026-01-12")
    assert due.stdout.splitlines()[0] == "Due on 2026-01-12: 1 patient"
    assert re.search(r"^P-1\s+North\s+2026-01-07\s+5\s+1000 mcg IM \(1 mL\)\s+overdue$", due.stdout, re.M)
    as_json = json.loads(cli("due", "--on", "2026-01-12", "--format", "json").stdout)
    assert as_json[0]["days_late"] == 5
    assert as_json[0]["due"]["rules"]  # every due date says which rules set it
    assert "Due on 2026-01-06: 0 patients" in cli("due", "--on", "2026-01-06").stdout

    review = cli("review", patient, "--on", "2026-01-12")
    assert review.exit_code == 0, review.all_output
    for heading in ("Doses", "Response", "Symptom cycle", "Mistakes", "Next steps"):
        assert heading in review.stdout
    assert "Give dose 2 (1000 micrograms, 1 mL IM) as soon as possible" in review.stdout
    assert "FU-NO-DOUBLE" in review.stdout  # with its reasons
    review_json = json.loads(cli("review", patient, "--on", "2026-01-12", "--format", "json").stdout)
    assert review_json["next_due"]["due"] == "2026-01-07"

    history = cli("history", patient, "--format", "json")
    kinds = [e["kind"] for e in json.loads(history.stdout)]
    assert kinds == ["dose", "lab", "lab", "symptom", "plan"]  # the plan was saved today, after the doses
    assert "History of P-1" in cli("history", patient).stdout


def test_bad_input_is_refused_and_nothing_changes(cli: Cli, patient: str, database: Path) -> None:
    before = _counts(database)
    tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    _refused(cli("give", "P-9"), "ID", "no patient 'P-9'")
    _refused(cli("give", patient, "--at", "2026-01-05T09:00", "--dose", "1mL"), "--dose", "is a volume")
    _refused(cli("give", patient, "--at", "2026-01-05T09:00", "--dose", "1000"), "--dose", "has no unit")
    _refused(cli("give", patient, "--at", tomorrow), "--at", "is in the future")
    _refused(cli("give", patient, "--at", "2026-01-05"), "--at", "is not a date and time")
    _refused(
        cli("give", patient, "--at", "2026-01-05T09:00", "--site", "elbow"), "--site", "not an injection site"
    )
    _refused(cli("give", patient, "--at", "2026-01-05T09:00", "--vial", "3"), "--vial", "no vial 3")
    _refused(cli("lab", "add", patient, "b12_total", "150", "mg"), "UNIT", "'mg' is not a unit for b12_total")
    _refused(cli("lab", "add", patient, "b12_total", "150"), "UNIT", "a unit is needed")
    _refused(
        cli("lab", "add", patient, "hb", "120", "g/L", "--date", "2999-01-01"), "--date", "in the future"
    )
    _refused(cli("symptom", "add", patient, "fatigue", "12"), "SCORE", "0 to 10")
    _refused(cli("symptom", "add", patient, "tiredness", "3"), "SYMPTOM", "not a symptom code")
    _refused(cli("due", "--on", "2026-13-01"), "--on", "is not a date")
    _refused(cli("export", patient, "--format", "xml"), "--format", "use json or csv")
    assert _counts(database) == before


def test_export_import_backup(cli: Cli, patient: str, tmp_path: Path) -> None:
    assert cli("give", patient, "--at", "2026-01-05T09:00").exit_code == 0
    exported = cli("export", patient, "--format", "json")
    assert json.loads(exported.stdout)["schema"] == "b12plan.record/1"
    assert "dose,2026-01-05,09:00" in cli("export", patient, "--format", "csv").stdout
    out_file = tmp_path / "p1.json"
    assert cli("export", patient, "-o", out_file).exit_code == 0
    _refused(cli("export", patient, "-o", out_file), "--output", "already exists")

    other = tmp_path / "other.sqlite3"
    imported = cli("--db", other, "import", out_file)
    assert imported.stdout == "imported 2 entries, 0 already stored, new patients: P-1\n"
    assert cli("--db", other, "import", out_file).stdout == "imported 0 entries, 2 already stored\n"
    _refused(cli("--db", other, "import", tmp_path / "missing.json"), "FILE", "no such file")

    backup = tmp_path / "backup.sqlite3"
    run = cli("backup", backup)
    assert run.exit_code == 0, run.all_output
    assert run.stdout.startswith(f"backed up to {backup}")
    assert "P-1" in cli("--db", backup, "patient", "list").stdout
    _refused(cli("backup", backup), "FILE", "already exists")


def test_db_upgrade_and_where(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    assert cli("--db", db, "db", "where").stdout.endswith(
        "revision: none (run `b12plan db upgrade`) (this b12plan: 0004)\n"
    )
    assert cli("--db", db, "db", "upgrade").stdout == f"{db}: created at revision 0004\n"
    assert cli("--db", db, "db", "upgrade").stdout == f"{db}: at revision 0004\n"
    _refused(cli("--db", "mysql://x/y", "db", "where"), "--db", "'mysql' databases are not supported")


def test_the_audit_log_names_the_user_and_no_log_names_the_patient(
    cli: Cli, case_file: Path, caplog: pytest.LogCaptureFixture, database: Path
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, SQLAlchemy's statement log included
    assert cli("--user", "dr.b", "patient", "add", "P-2", "--name", NAME).exit_code == 0
    assert cli("plan", case_file, "--patient", "P-2", "--format", "json").exit_code == 0
    assert cli("give", "P-2", "--at", "2026-01-05T09:00").exit_code == 0
    assert cli("export", "P-2").exit_code == 0
    assert caplog.records, "the store logs what it does (by id)"
    assert NAME not in caplog.text
    assert "Zebedee" not in caplog.text
    with Store.open(str(database), actor="t") as store, store.transaction(write=False) as r:
        audit = r.audit_entries()
    assert [(a.actor, a.action, a.entity) for a in audit] == [
        ("dr.b", "add", "patient"),
        ("nurse.a", "add", "plan_version"),
        ("nurse.a", "add", "administration"),
    ]
    assert all(NAME not in a.fields for a in audit)
