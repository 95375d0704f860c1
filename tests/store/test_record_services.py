"""The record services on SQLite and PostgreSQL: bad input refused with `field: problem` and nothing
changed; labs, symptoms and vials; export and import (idempotent); backup."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from b12plan import services
from b12plan.errors import UnknownPatientError, UserError
from b12plan.services import record_files, records
from b12plan.store import Store

D, T = dt.date, dt.datetime
NOW = T(2026, 1, 20, 12, 0)
TABLES = (
    "patients",
    "plan_versions",
    "vials",
    "administrations",
    "lab_results",
    "symptom_scores",
    "audit_log",
)


def _case(product: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(services.example_case_text())
    doc["start_date"] = "2026-01-05"
    for lab in doc["labs"]:
        lab["date"] = "2025-12-29"
    if product:
        doc["product"] = product
    return doc


@pytest.fixture
def planned(store: Store) -> Store:
    """A store with patient P-1 on the example case's plan (hydroxocobalamin 1 mg IM ampoules from 5 Jan)."""
    records.add_patient(store, "P-1", name="Ann Example", clinic="North")
    records.plan_for_patient(store, "P-1", _case(), today=D(2026, 1, 2), reason=None, now=T(2026, 1, 2, 9))
    return store


def _snapshot(store: Store) -> dict[str, Any]:
    with store.engine.connect() as c:
        counts = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        left = c.execute(text("SELECT id, volume_left_ml FROM vials ORDER BY id")).all()
    return {**counts, "vials_left": [tuple(row) for row in left]}


def _refused(store: Store, action: Callable[[], object], message: str) -> None:
    before = _snapshot(store)
    with pytest.raises(UserError) as caught:
        action()
    assert message in caught.value.lines, caught.value.lines
    assert _snapshot(store) == before, "a refused command changed the database"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dose": "1 mL"}, "dose: 'mL' is a volume, not a dose; give micrograms (mcg) or milligrams (mg): "
         "the volume is worked out from the product"),
        ({"dose": "1000"}, "dose: '1000' has no unit; write e.g. 1000mcg"),
        ({"dose": "5 mmol"}, "dose: 'mmol' is not a unit of dose; use mcg or mg"),
        ({"at": T(2026, 1, 21, 9)}, "at: 2026-01-21T09:00 is in the future: record a dose once given"),
        ({"site": "elbow"}, "site: 'elbow' is not an injection site; use one of deltoid-left, deltoid-right, "
         "thigh-left, thigh-right, ventrogluteal-left, ventrogluteal-right"),
        ({"route": "SC", "site": "deltoid-left"},
         "site: deltoid-left (Left upper arm (deltoid)) is a site for IM injections, not SC"),
        ({"route": "nasal"}, "route: 'nasal' is not a route; use IM, SC or oral"),
        ({"vial": 99}, "vial_id: this patient has no vial 99"),
        ({"product": "no-such-product"},
         "product_id: 'no-such-product' is not in the catalogue; run `b12plan products` to list them"),
    ],
)  # fmt: skip
def test_a_bad_dose_is_refused_and_nothing_changes(
    planned: Store, options: dict[str, Any], message: str
) -> None:
    options = {"at": T(2026, 1, 5, 9), **options}
    _refused(planned, lambda: records.give_dose(planned, "P-1", now=NOW, **options), message)


def test_an_unknown_patient_is_refused_everywhere(planned: Store) -> None:
    message = "patient: no patient 'P-9' in this database; `b12plan patient list` shows them"
    actions: list[Callable[[], object]] = [
        lambda: records.give_dose(planned, "P-9", at=T(2026, 1, 5, 9), now=NOW),
        lambda: records.add_lab(planned, "P-9", "hb", "120", "g/L", now=NOW),
        lambda: records.add_symptom(planned, "P-9", "fatigue", 3, now=NOW),
        lambda: records.open_vial(planned, "P-9", now=NOW),
        lambda: records.review_patient(planned, "P-9", on=NOW.date()),
        lambda: records.history(planned, "P-9"),
        lambda: record_files.export_record(planned, "P-9", "json"),
    ]
    for action in actions:
        _refused(planned, action, message)
    with pytest.raises(UnknownPatientError):
        records.show_patient(planned, "P-9")


def test_a_dose_is_stored_with_its_volume_and_by_whom(planned: Store) -> None:
    given = records.give_dose(planned, "P-1", at=T(2026, 1, 5, 9), site="Deltoid-Left", lot="AB12", now=NOW)
    assert given.administration.dose_mcg == 1000  # the dose due, from the plan
    assert given.administration.volume_ml == 1.0  # 1000 micrograms of 1000 micrograms/mL
    assert given.administration.site == "deltoid-left"
    assert given.administration.given_by == "tester"
    assert given.next_site == "deltoid-right"  # rotation: never used yet, in the sites file's order
    selfgiven = records.give_dose(planned, "P-1", at=T(2026, 1, 7, 20), dose="1mg", given_by="self", now=NOW)
    assert selfgiven.administration.given_by == "self"
    _patient, timeline = records.history(planned, "P-1")
    assert [e.kind for e in timeline] == ["plan", "dose", "dose"]
    assert "site deltoid-left, lot AB12, given by tester" in timeline[1].summary


@pytest.mark.parametrize(
    ("test", "value", "unit", "message"),
    [
        ("b12_total", "150", "mg", "unit: 'mg' is not a unit for b12_total; use ng/L, pg/mL or pmol/L"),
        ("b12_total", "150", None, "unit: a unit is needed for b12_total; use ng/L, pg/mL or pmol/L"),
        ("b12", "150", "ng/L", "test: 'b12' is not a known test; use one of b12_total, holotc, mma, "
         "homocysteine, hb, mcv, folate, potassium, reticulocytes, ifab, inr (or a LOINC code)"),
        ("hb", "lots", "g/L", "value: 'lots' is not a number"),
        ("hb", "positive", None, "value: 'positive' is only for ifab; give a number"),
        ("ifab", "12", None, "value: ifab is reported as positive or negative"),
    ],
)  # fmt: skip
def test_a_bad_lab_is_refused(planned: Store, test: str, value: str, unit: str | None, message: str) -> None:
    _refused(planned, lambda: records.add_lab(planned, "P-1", test, value, unit, now=NOW), message)


def test_labs_keep_the_contract_codes_and_units(planned: Store) -> None:
    b12 = records.add_lab(planned, "P-1", "14685-2", "110", "pmol/l", date=D(2026, 1, 2), now=NOW)
    assert (b12.test.value, b12.value, b12.unit) == ("b12_total", 110.0, "pmol/L")  # LOINC alias, spelling
    ifab = records.add_lab(planned, "P-1", "ifab", "Positive", None, date=D(2026, 1, 2), now=NOW)
    assert (ifab.value, ifab.unit) == ("positive", None)
    _refused(planned, lambda: records.add_lab(planned, "P-1", "hb", "98", "g/L", date=D(2026, 2, 1), now=NOW),
             "date: 2026-02-01 is in the future")  # fmt: skip


@pytest.mark.parametrize(
    ("symptom", "score", "message"),
    [
        ("tiredness", 3, "symptom: 'tiredness' is not a symptom code; use one of fatigue, glossitis, "
         "breathlessness, paraesthesia, numbness, ataxia, vibration_loss, proprioception_loss, weakness, "
         "cognitive, psychiatric, visual"),
        ("fatigue", 11, "score: 11 is not a whole number from 0 to 10"),
        ("fatigue", "3.5", "score: '3.5' is not a whole number from 0 to 10"),
    ],
)  # fmt: skip
def test_a_bad_symptom_score_is_refused(planned: Store, symptom: str, score: int | str, message: str) -> None:
    _refused(planned, lambda: records.add_symptom(planned, "P-1", symptom, score, now=NOW), message)


def test_a_multi_dose_vial_is_drawn_down_and_then_discarded(store: Store) -> None:
    records.add_patient(store, "P-2")
    vial_product = "us-cyanocobalamin-1000mcg-10ml-mdv"
    records.plan_for_patient(
        store, "P-2", _case(vial_product) | {"ruleset": "us-cyanocobalamin-label"}, today=D(2026, 1, 2),
        reason=None, now=T(2026, 1, 2, 9),
    )  # fmt: skip
    vial = records.open_vial(store, "P-2", opened=D(2026, 1, 5), lot="V1", expiry=D(2027, 1, 1), now=NOW)
    assert (vial.volume_ml, vial.discard_on) == (10.0, D(2026, 2, 2))  # 28 days after first puncture
    given = records.give_dose(store, "P-2", at=T(2026, 1, 5, 9), vial=vial.id, now=NOW)
    assert given.administration.lot == "V1"  # from the vial
    assert given.vial_left_ml == pytest.approx(10.0 - given.administration.volume_ml)  # type: ignore[operator]
    late = T(2026, 2, 2, 9)
    expired = (
        "vial_id: vial 1 was opened on 2026-01-05 and was to be discarded on 2026-02-02: open a new vial"
    )
    _refused(store, lambda: records.give_dose(store, "P-2", at=late, vial=vial.id, now=late), expired)
    ampoule = "uk-hydroxocobalamin-1mg-1ml-amp"
    not_a_vial = (
        "product_id: uk-hydroxocobalamin-1mg-1ml-amp is not a multi-dose vial from the catalogue; only those "
        "are tracked once opened"
    )
    _refused(store, lambda: records.open_vial(store, "P-2", product=ampoule, now=NOW), not_a_vial)


def test_export_then_import_into_another_database_is_the_same_record(planned: Store, tmp_path: Path) -> None:
    records.give_dose(planned, "P-1", at=T(2026, 1, 5, 9), site="deltoid-left", now=NOW)
    records.add_lab(planned, "P-1", "hb", "101", "g/L", date=D(2026, 1, 13), upper_limit=150, now=NOW)
    records.add_symptom(planned, "P-1", "fatigue", 6, date=D(2026, 1, 13), now=NOW)
    exported = record_files.export_record(planned, "P-1", "json", now=NOW)
    doc = json.loads(exported)
    assert doc["schema"] == "b12plan.record/1"
    assert doc["patient"] == {"id": "P-1", "name": "Ann Example", "clinic": "North"}

    with Store.open(str(tmp_path / "other.sqlite3"), actor="importer") as other:
        first = record_files.import_records(other, exported, now=NOW)
        assert (first.patients_added, first.entries_added, first.entries_skipped) == (("P-1",), 4, 0)
        again = record_files.import_records(other, exported, now=NOW)  # idempotent
        assert (again.patients_added, again.entries_added, again.entries_skipped) == ((), 0, 4)
        round_trip = json.loads(record_files.export_record(other, "P-1", "json", now=NOW))
        with other.transaction(write=False) as r:
            actions = {(a.action, a.entity, a.actor) for a in r.audit_entries()}
    assert round_trip == doc
    assert ("import", "administration", "importer") in actions


def test_import_refuses_a_contradiction_and_writes_nothing(planned: Store) -> None:
    records.add_symptom(planned, "P-1", "fatigue", 6, date=D(2026, 1, 13), now=NOW)
    doc = json.loads(record_files.export_record(planned, "P-1", "json", now=NOW))
    doc["symptoms"][0]["score"] = 2
    doc["labs"] = [{"date": "2026-01-13", "test": "hb", "value": 110, "unit": "g/L"}]
    _refused(planned, lambda: record_files.import_records(planned, json.dumps(doc), now=NOW),
             "symptoms[0]: fatigue is stored with another score that day; nothing was imported")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["labs"].append({"date": "2026-01-13", "test": "hb", "value": 11, "unit": "mg"}),
         "labs[0].unit: 'mg' is not a unit for hb; use g/L or g/dL"),
        (lambda d: d["administrations"].append({"at": "2027-01-01T09:00:00", "dose_mcg": 1, "route": "IM"}),
         "administrations[0].at: 2027-01-01T09:00:00 is in the future"),
        (lambda d: d["administrations"].append({"at": "2026-01-05T09:00:00", "dose_mcg": 1000, "route": "IM",
                                                "dose": "1mg"}),
         "administrations[0].dose: Extra inputs are not permitted"),
        (lambda d: d.update(schema="b12plan.record/9"), "schema: Input should be 'b12plan.record/1'"),
    ],
)  # fmt: skip
def test_import_checks_every_entry(
    planned: Store, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    doc = json.loads(record_files.export_record(planned, "P-1", "json", now=NOW))
    doc["patient"]["id"] = "P-NEW"
    doc["plan_versions"] = []
    change(doc)
    _refused(planned, lambda: record_files.import_records(planned, json.dumps(doc), now=NOW), message)


def test_csv_export_is_one_row_per_entry_in_time_order(planned: Store) -> None:
    records.give_dose(planned, "P-1", at=T(2026, 1, 5, 9), now=NOW)
    records.add_lab(planned, "P-1", "hb", "101", "g/L", date=D(2026, 1, 5), now=NOW)
    lines = record_files.export_record(planned, "P-1", "csv").splitlines()
    assert lines[0].startswith("patient,kind,date,time,item,value,unit,route")
    assert [line.split(",")[1] for line in lines[1:]] == ["plan", "lab", "dose"]  # a bare date first
    assert "Ann" not in "\n".join(lines)  # the CSV carries the pseudonymous id only


def test_backup_copies_a_sqlite_database_in_use(planned: Store, tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite3"
    if not planned.is_sqlite:
        use_pg_dump = (
            "backup: this is a PostgreSQL database: back it up on the server with "
            "`pg_dump --format=custom DBNAME > FILE` and restore with `pg_restore` (docs/store.md)"
        )
        _refused(planned, lambda: record_files.backup(planned, target), use_pg_dump)
        return
    steps: list[tuple[int, int]] = []
    with planned.transaction(write=False):  # another reader holds the database open meanwhile
        result = record_files.backup(
            planned, target, progress=lambda done, total: steps.append((done, total))
        )
    assert result.path == target
    assert steps[-1][0] == steps[-1][1] > 0
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT ref FROM patients").fetchall() == [("P-1",)]
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with Store.open(str(target), actor="restorer") as restored:  # the copy is a working database
        assert [p.ref for p in records.list_patients(restored)] == ["P-1"]
    with pytest.raises(UserError, match="already exists; back up to a new file"):
        record_files.backup(planned, target)
