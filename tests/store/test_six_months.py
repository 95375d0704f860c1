"""Six months of treatment through the record services, on SQLite and PostgreSQL: a dose given late, a
doubled-up dose and a catch-up dose refused, a maintenance dose missed, symptoms coming back, a B12 retest,
and a plan changed with its reason. The due dates, alerts and mistakes are the follow-up core's (NICE NG239,
rules FU-*), read back from the store.

Plan (example case, start Monday 2026-01-05): hydroxocobalamin 1 mg IM, six loading doses on Mon/Wed/Fri,
then every 84 days (12 weeks). FU-LATE: one day of grace; FU-LONG-GAP: a maintenance dose more than
min(28, 0.25 x 84 = 21) days late is missed; FU-NO-DOUBLE: sooner than half the planned gap is a double.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from b12plan import services
from b12plan.errors import UserError
from b12plan.services import records
from b12plan.services.record_files import export_record, import_records
from b12plan.store import Store

D, T = dt.date, dt.datetime
REF = "P-6M"


def _case(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(services.example_case_text())
    doc["start_date"] = "2026-01-05"
    for lab in doc["labs"]:
        lab["date"] = "2025-12-29"
    doc.update(changes)
    return doc


def _give(store: Store, at: dt.datetime, **options: Any) -> records.GivenDose:
    """A dose given at `at` and typed in an hour later."""
    return records.give_dose(store, REF, at=at, now=at + dt.timedelta(hours=1), **options)


def _due(store: Store, on: dt.date) -> list[tuple[str, dt.date, int, str, int]]:
    return [
        (e.patient.ref, e.due.due, e.days_late, e.due.status, e.due.number)
        for e in records.due_list(store, on=on)
    ]


def _codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


def _count(store: Store) -> tuple[int, int]:
    with store.transaction(write=False) as r:
        file = r.patient_file(r.patient(REF), audit=True)
    return len(file.administrations), len(file.audit)


def test_six_months_of_treatment(store: Store) -> None:
    records.add_patient(store, REF, clinic="North")
    records.plan_for_patient(
        store, REF, _case(), today=D(2026, 1, 2), reason=None, horizon_months=6, now=T(2026, 1, 2, 10)
    )
    records.add_symptom(store, REF, "fatigue", 7, date=D(2026, 1, 5), now=T(2026, 1, 5, 9))

    # Loading: dose 1 on its day; a second injection the same evening is a doubled dose, refused.
    assert _due(store, D(2026, 1, 5)) == [(REF, D(2026, 1, 5), 0, "due", 1)]
    _give(store, T(2026, 1, 5, 9), site="deltoid-left", lot="L1")
    before = _count(store)
    with pytest.raises(UserError, match="at: an injection was already given on 2026-01-05"):
        _give(store, T(2026, 1, 5, 17))
    assert _count(store) == before  # nothing written, not even an audit row
    _give(store, T(2026, 1, 7, 9), site="deltoid-right")

    # Dose 3 falls due on Friday 9th, is overdue from the 11th (one day's grace), and is given on the 12th.
    assert _due(store, D(2026, 1, 8)) == []
    assert _due(store, D(2026, 1, 9)) == [(REF, D(2026, 1, 9), 0, "due", 3)]
    assert _due(store, D(2026, 1, 11)) == [(REF, D(2026, 1, 9), 2, "overdue", 3)]
    review = records.review_patient(store, REF, on=D(2026, 1, 11))
    assert _codes(review.findings) == ["DOSE_OVERDUE"]
    _give(store, T(2026, 1, 12, 9), site="thigh-left")

    # A catch-up dose the next day doubles up: refused. Dose 4 counts from the late dose 3 (FU-REANCHOR).
    with pytest.raises(
        UserError, match=r"at: only 1 days after the injection on 2026-01-12: dose 4 is due on 2026-01-15"
    ):
        _give(store, T(2026, 1, 13, 9))
    records.add_lab(store, REF, "reticulocytes", "3.1", "%", date=D(2026, 1, 13), now=T(2026, 1, 13, 12))
    assert _due(store, D(2026, 1, 15)) == [(REF, D(2026, 1, 15), 0, "due", 4)]
    for day in (15, 17, 19):
        _give(store, T(2026, 1, day, 9))
    records.add_symptom(store, REF, "fatigue", 3, date=D(2026, 1, 19), now=T(2026, 1, 19, 9))

    # The first maintenance dose is due 84 days after the last loading dose.
    assert _due(store, D(2026, 4, 12)) == []
    assert _due(store, D(2026, 4, 13)) == [(REF, D(2026, 4, 13), 0, "due", 7)]

    # Eight-week blood count (responded), and a serum B12 retest: a common mistake.
    for test, value, unit in (("hb", "128", "g/L"), ("mcv", "94", "fL"), ("b12_total", "450", "ng/L")):
        records.add_lab(store, REF, test, value, unit, date=D(2026, 3, 2), now=T(2026, 3, 2, 12))
    records.add_symptom(store, REF, "fatigue", 2, date=D(2026, 3, 2), now=T(2026, 3, 2, 12))
    records.add_symptom(store, REF, "fatigue", 6, date=D(2026, 5, 10), now=T(2026, 5, 10, 9))

    # Mid-May: dose 7 is 32 days overdue, a long gap, with fatigue back: a clinician reviews first.
    assert _due(store, D(2026, 5, 15)) == [(REF, D(2026, 4, 13), 32, "overdue", 7)]
    review = records.review_patient(store, REF, on=D(2026, 5, 15))
    assert _codes(review.findings) == ["DOSE_OVERDUE", "OVERDUE_REVIEW", "RETEST_DURING_REPLACEMENT"]
    assert "symptoms have come back" in review.findings[1].message
    assert "FU-LONG-GAP" in review.findings[1].rules
    assert _codes(review.mistakes) == ["RETEST_DURING_REPLACEMENT"]
    a = review.adherence
    assert (a.planned, a.given, a.on_time, a.late, a.missed, a.overdue, a.extra) == (7, 6, 5, 1, 1, 0, 0)
    assert review.next_steps[0].text.startswith("Give dose 7 (1000 micrograms, 1 mL IM) as soon as possible")

    # Given on 20 May; then the clinician shortens the interval to 8 weeks, with the reason.
    _give(store, T(2026, 5, 20, 9))
    with pytest.raises(UserError, match="reason: a new plan version needs the reason"):
        records.save_plan_version(
            store, REF, case=_case(), plan=services.plan_document(_case(), today=D(2026, 6, 1)), reason=None
        )
    changed = _case(preferences={"route": "IM", "maintenance_interval_days": 56})
    records.plan_for_patient(
        store, REF, changed, today=D(2026, 6, 1), reason="fatigue back before the dose: 8-weekly",
        horizon_months=6, now=T(2026, 6, 1, 10),
    )  # fmt: skip

    # Six months on: the next dose counts 56 days from 20 May; nothing is due; the retest stays noted.
    assert _due(store, D(2026, 7, 5)) == []
    review = records.review_patient(store, REF, on=D(2026, 7, 5))
    assert review.plan_version == 2
    assert review.next_due is not None
    assert (review.next_due.due, review.next_due.number, review.next_due.status) == (
        D(2026, 7, 15),
        8,
        "upcoming",
    )
    assert _codes(review.mistakes) == ["RETEST_DURING_REPLACEMENT"]  # no double reached the record
    a = review.adherence
    assert (a.given, a.late, a.missed, a.extra) == (7, 1, 1, 0)
    assert _due(store, D(2026, 7, 15)) == [(REF, D(2026, 7, 15), 0, "due", 8)]

    # The stored history holds exactly what was accepted, and every change has its audit row.
    with store.transaction(write=False) as r:
        file = r.patient_file(r.patient(REF), audit=True)
    january = [D(2026, 1, day) for day in (5, 7, 12, 15, 17, 19)]
    assert [a.at.date() for a in file.administrations] == [*january, D(2026, 5, 20)]
    assert [v.version for v in file.plan_versions] == [1, 2]
    changes = 1 + 2 + 7 + 4 + 4  # patient, plan versions, doses, labs, diary entries
    assert len(file.audit) == changes
    assert {a.actor for a in file.audit} == {"tester"}


def test_a_doubled_dose_in_an_imported_history_is_a_mistake(store: Store) -> None:
    """Doses are history: an import keeps a doubled dose a paper record shows, and the review flags it."""
    records.add_patient(store, REF)
    records.plan_for_patient(store, REF, _case(), today=D(2026, 1, 2), reason=None, now=T(2026, 1, 2, 10))
    doc = json.loads(export_record(store, REF, "json"))
    dose = {
        "dose_mcg": 1000,
        "route": "IM",
        "volume_ml": 1.0,
        "product_id": "uk-hydroxocobalamin-1mg-1ml-amp",
    }
    doc["administrations"] = [
        {**dose, "at": "2026-01-05T09:00:00"},
        {**dose, "at": "2026-01-05T18:00:00"},
        {**dose, "at": "2026-01-07T09:00:00"},
    ]
    import_records(store, json.dumps(doc), now=T(2026, 2, 1))
    review = records.review_patient(store, REF, on=D(2026, 1, 8))
    assert "DOUBLED_DOSE" in _codes(review.mistakes)
    assert review.adherence.extra == 1
