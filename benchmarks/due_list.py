"""How long `b12plan due` takes on a clinic's worth of patients (default 5,000) with half a year of doses.

    .venv/bin/python benchmarks/due_list.py [--patients 5000] [--db FILE|postgresql://...]

Fills a new database in bulk (one plan version, up to six loading doses and three diary scores each), then
times `records.due_list` three times and prints the best. The due list reads the store with one query per
table, whatever the number of patients; the rest is the follow-up core's work, patient by patient.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from b12plan import services
from b12plan.services import records
from b12plan.store import Store, resolve_url, upgrade
from b12plan.store.engine import make_engine
from b12plan.store.tables import AdministrationRow, PatientRow, PlanVersionRow, SymptomScoreRow

LOADING_DAYS = (5, 7, 9, 12, 14, 16)  # January 2026, Mon/Wed/Fri


def fill(store: Store, patients: int) -> None:
    case = json.loads(services.example_case_text())
    case["start_date"] = "2026-01-05"
    plan = services.plan_document(case, today=dt.date(2026, 1, 2)).to_json_dict()
    now = dt.datetime(2026, 1, 2, 9)
    with store.transaction() as r:
        r.session.execute(
            insert(PatientRow),
            [
                {"ref": f"P-{i:05}", "name": None, "clinic": "North", "created_at": now}
                for i in range(patients)
            ],
        )
        r.session.execute(
            insert(PlanVersionRow),
            [
                {"patient_id": i + 1, "version": 1, "created_at": now, "created_by": "bench", "reason": None,
                 "ruleset": "nice-ng239", "case": case, "plan": plan}
                for i in range(patients)
            ],
        )  # fmt: skip
        r.session.execute(
            insert(AdministrationRow),
            [
                {"patient_id": i + 1, "at": dt.datetime(2026, 1, day, 9), "dose_mcg": 1000.0, "route": "IM",
                 "volume_ml": 1.0, "recorded_at": now}
                for i in range(patients)
                for day in LOADING_DAYS[: i % 7]
            ],
        )  # fmt: skip
        r.session.execute(
            insert(SymptomScoreRow),
            [
                {"patient_id": i + 1, "scored_on": dt.date(2026, 1, day), "symptom": "fatigue", "score": 5,
                 "recorded_at": now}
                for i in range(patients)
                for day in (5, 12, 19)
            ],
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--db", help="an empty database (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or str(Path(folder) / "bench.sqlite3")
        engine = make_engine(resolve_url(db))
        upgrade(engine)  # PostgreSQL is only ever created by `db upgrade`
        engine.dispose()
        with Store.open(db, actor="bench") as store:
            began = time.perf_counter()
            fill(store, args.patients)
            print(f"filled {args.patients} patients in {time.perf_counter() - began:.2f} s")
            best, due = float("inf"), 0
            for _ in range(3):
                began = time.perf_counter()
                due = len(records.due_list(store, on=dt.date(2026, 1, 20)))
                best = min(best, time.perf_counter() - began)
            print(f"due list: {due} of {args.patients} patients due, best of 3: {best:.2f} s")


if __name__ == "__main__":
    main()
