"""Follow-up findings and refusals, read as the rules they implement (REFERENCE 4.6, 5; shared/followup.toml).

Each row is one treatment record and a day: the finding must appear on that day, or must not. Day numbers
count from the first day of the plan (Monday 4 January 2027). The UK plan (nice-ng239, autoimmune gastritis,
no neurological involvement) loads on days 0, 2, 4, 7, 9, 11 and then gives 1 mg every 84 days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from b12plan.domain.codes import AlertLevel, LabTest, Route, Symptom
from b12plan.domain.followup import (
    Administration,
    LabEntry,
    PlanVersion,
    SymptomEntry,
    TreatmentRecord,
    VialInUse,
    check_administration,
    review,
)
from b12plan.domain.plan import Plan
from b12plan.domain.products import Catalogue
from b12plan.domain.rules import FollowupRule, RuleSet
from b12plan.rulebook import load_ruleset, load_sites, ruleset_ids
from b12plan.services import plan_document

START = dt.date(2027, 1, 4)
LOADING = (0, 2, 4, 7, 9, 11)
MAINTENANCE_DUE = 11 + 84  # day 95
AMPOULE = "uk-hydroxocobalamin-1mg-1ml-amp"
MDV = "us-cyanocobalamin-1000mcg-30ml-mdv"

UK: dict[str, Any] = {
    "ruleset": "nice-ng239",
    "start_date": START.isoformat(),
    "patient": {"age": 62, "sex": "female"},
    "labs": [
        {"test": "b12_total", "value": 120, "unit": "ng/L", "date": "2026-12-28"},
        {"test": "hb", "value": 98, "unit": "g/L", "date": "2026-12-28"},
        {"test": "mcv", "value": 112, "unit": "fL", "date": "2026-12-28"},
        {"test": "folate", "value": 6.1, "unit": "ug/L", "date": "2026-12-28"},
    ],
    "symptoms": ["fatigue"],
    "causes": ["autoimmune_gastritis"],
    "product": AMPOULE,
}
PLANS: dict[str, Plan] = {
    "uk": plan_document(UK, today=START),
    "uk-56": plan_document({**UK, "preferences": {"maintenance_interval_days": 56}}, today=START),
    "neuro": plan_document({**UK, "symptoms": ["fatigue", "paraesthesia"]}, today=START),
    "folic": plan_document({**UK, "conditions": ["taking_folic_acid"]}, today=START),
    "us-mdv": plan_document(
        {
            "ruleset": "us-cyanocobalamin-label",
            "start_date": START.isoformat(),
            "patient": {"age": 72, "sex": "male"},
            "labs": [{"test": "b12_total", "value": 150, "unit": "pg/mL", "date": "2026-12-28"}],
            "causes": ["autoimmune_gastritis"],
            "product": MDV,
        },
        today=START,
    ),
}
NEURO_LOADING = tuple(range(0, 21, 2))  # alternate days up to the review on day 21


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def at(n: int, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour))


def dose(n: int, *, plan: str = "uk", hour: int = 9, **given: Any) -> Administration:
    us = plan == "us-mdv"
    fields: dict[str, Any] = {
        "at": at(n, hour),
        "dose_mcg": 100 if us else 1000,
        "route": Route.IM,
        "volume_ml": 0.1 if us else 1.0,
        "product_id": MDV if us else AMPOULE,
    }
    return Administration(**{**fields, **given})


def record(
    plan: str = "uk",
    doses: Sequence[int | Administration] = (),
    labs: Sequence[tuple[int, LabTest, float | str, str | None]] = (),
    symptoms: Sequence[tuple[int, Symptom, int]] = (),
    versions: Sequence[PlanVersion] | None = None,
    vials: Sequence[VialInUse] = (),
) -> TreatmentRecord:
    return TreatmentRecord(
        plan_versions=versions or [PlanVersion(version=1, created_at=at(0, 8), plan=PLANS[plan])],
        administrations=[d if isinstance(d, Administration) else dose(d, plan=plan) for d in doses],
        labs=[LabEntry(date=day(n), test=t, value=v, unit=u) for n, t, v, u in labs],
        symptoms=[SymptomEntry(date=day(n), symptom=s, score=score) for n, s, score in symptoms],
        vials=vials,
    )


HB, MCV, B12 = LabTest.HB, LabTest.MCV, LabTest.B12_TOTAL
FATIGUE, TINGLING = Symptom.FATIGUE, Symptom.PARAESTHESIA
V1 = PlanVersion(version=1, created_at=at(0, 8), plan=PLANS["uk"])


def v2(reason: str | None = None) -> PlanVersion:
    return PlanVersion(version=2, created_at=at(30, 8), plan=PLANS["uk-56"], reason=reason)


def vial(left_ml: float = 25.0) -> VialInUse:
    return VialInUse(
        id=1, product_id=MDV, opened=day(0), volume_ml=30, volume_left_ml=left_ml, discard_after_days=28
    )


# (what, code, record, day, found)
ROWS: list[tuple[str, str, TreatmentRecord, int, bool]] = [
    # REFERENCE 4.6: overdue -> as soon as possible, once (FU-LATE: a day's leeway)
    ("maintenance dose 2 days overdue", "DOSE_OVERDUE", record(doses=LOADING), MAINTENANCE_DUE + 2, True),
    ("1 day after its day is still due", "DOSE_OVERDUE", record(doses=LOADING), MAINTENANCE_DUE + 1, False),
    # FU-LONG-GAP: more than min(28 days, a quarter of 84 = 21 days) overdue -> review, reload possible
    ("22 days overdue: long gap", "OVERDUE_REVIEW", record(doses=LOADING), MAINTENANCE_DUE + 22, True),
    ("21 days overdue: not yet", "OVERDUE_REVIEW", record(doses=LOADING), MAINTENANCE_DUE + 21, False),
    (
        "overdue and fatigue back",
        "OVERDUE_REVIEW",
        record(doses=LOADING, symptoms=[(20, FATIGUE, 2), (96, FATIGUE, 6)]),
        MAINTENANCE_DUE + 2,
        True,
    ),
    ("the first dose never given", "DOSE_OVERDUE", record(), 30, True),
    ("not started: nothing to reload", "OVERDUE_REVIEW", record(), 30, False),
    # FU-RESP-RETIC: reticulocytes 7-10 days after the first dose
    ("day 7, no count", "RETIC_CHECK_DUE", record(doses=LOADING), 7, True),
    ("day 10, no count", "RETIC_CHECK_DUE", record(doses=LOADING), 10, True),
    ("day 11: window passed", "RETIC_CHECK_DUE", record(doses=LOADING), 11, False),
    (
        "counted on day 7",
        "RETIC_CHECK_DUE",
        record(doses=LOADING, labs=[(7, LabTest.RETICULOCYTES, 4.0, "%")]),
        8,
        False,
    ),
    ("no dose yet", "RETIC_CHECK_DUE", record(), 8, False),
    # FU-RESP-FBC (+ FU-LAB-WINDOW): a blood count by 8 weeks
    ("day 56, no blood count", "FBC_CHECK_DUE", record(doses=LOADING), 56, True),
    ("day 55", "FBC_CHECK_DUE", record(doses=LOADING), 55, False),
    ("Hb on day 49 counts", "FBC_CHECK_DUE", record(doses=LOADING, labs=[(49, HB, 125, "g/L")]), 56, False),
    ("Hb on day 48 does not", "FBC_CHECK_DUE", record(doses=LOADING, labs=[(48, HB, 125, "g/L")]), 56, True),
    # FU-HAEM-RESPONSE / FU-NO-RESPONSE: anaemic at baseline (98 g/L), Hb +10 g/L and MCV -5 fL expected
    ("Hb 98 -> 103", "NO_HAEM_RESPONSE", record(doses=LOADING, labs=[(56, HB, 103, "g/L")]), 56, True),
    (
        "Hb 98 -> 10.3 g/dL",
        "NO_HAEM_RESPONSE",
        record(doses=LOADING, labs=[(56, HB, 10.3, "g/dL")]),
        56,
        True,
    ),
    (
        "Hb up, MCV 112 -> 110",
        "NO_HAEM_RESPONSE",
        record(doses=LOADING, labs=[(56, HB, 125, "g/L"), (56, MCV, 110, "fL")]),
        56,
        True,
    ),
    (
        "Hb 98 -> 125, MCV 112 -> 95",
        "NO_HAEM_RESPONSE",
        record(doses=LOADING, labs=[(56, HB, 125, "g/L"), (56, MCV, 95, "fL")]),
        56,
        False,
    ),
    (
        "not anaemic at baseline: Hb flat is no sign",
        "NO_HAEM_RESPONSE",
        record(doses=LOADING, labs=[(-1, HB, 135, "g/L"), (56, HB, 136, "g/L")]),
        56,
        False,
    ),
    # FU-BROADEN: labs normal but symptoms persist -> broaden, do not inject more
    (
        "Hb normal, fatigue persists",
        "LABS_NORMAL_SYMPTOMS_PERSIST",
        record(doses=LOADING, labs=[(56, HB, 128, "g/L")], symptoms=[(60, FATIGUE, 6), (80, FATIGUE, 7)]),
        80,
        True,
    ),
    (
        "Hb normal, fatigue settles",
        "LABS_NORMAL_SYMPTOMS_PERSIST",
        record(doses=LOADING, labs=[(56, HB, 128, "g/L")], symptoms=[(60, FATIGUE, 6), (80, FATIGUE, 2)]),
        80,
        False,
    ),
    (
        "still anaemic",
        "LABS_NORMAL_SYMPTOMS_PERSIST",
        record(doses=LOADING, labs=[(56, HB, 110, "g/L")], symptoms=[(60, FATIGUE, 6), (80, FATIGUE, 7)]),
        80,
        False,
    ),
    # FU-RESP-NERVES: judge nerves no earlier than 3 months
    (
        "day 91, tingling still 5",
        "NERVE_REVIEW_DUE",
        record("neuro", NEURO_LOADING, symptoms=[(0, TINGLING, 7), (80, TINGLING, 5)]),
        91,
        True,
    ),
    (
        "day 90: too early",
        "NERVE_REVIEW_DUE",
        record("neuro", NEURO_LOADING, symptoms=[(0, TINGLING, 7), (80, TINGLING, 5)]),
        90,
        False,
    ),
    (
        "tingling gone",
        "NERVE_REVIEW_DUE",
        record("neuro", NEURO_LOADING, symptoms=[(0, TINGLING, 7), (80, TINGLING, 1)]),
        91,
        False,
    ),
    # FU-SYMPTOM-CYCLE: back 14+ days before the next dose in 2 maintenance cycles -> review the interval
    (
        "fatigue back on day 60 of two cycles",
        "SYMPTOMS_RETURN_EARLY",
        record(
            doses=(*LOADING, 95),
            symptoms=[(20, FATIGUE, 2), (71, FATIGUE, 6), (105, FATIGUE, 2), (155, FATIGUE, 6)],
        ),
        160,
        True,
    ),
    (
        "back on day 75: only 9 days early",
        "SYMPTOMS_RETURN_EARLY",
        record(
            doses=(*LOADING, 95),
            symptoms=[(20, FATIGUE, 2), (86, FATIGUE, 6), (105, FATIGUE, 2), (170, FATIGUE, 6)],
        ),
        175,
        False,
    ),
    (
        "one cycle only",
        "SYMPTOMS_RETURN_EARLY",
        record(doses=(*LOADING, 95), symptoms=[(20, FATIGUE, 2), (71, FATIGUE, 6)]),
        100,
        False,
    ),
    # MISTAKE-DOSE-CHANGE + FU-CHANGE-REVIEW
    ("interval 84 -> 56, no reason", "CHANGE_WITHOUT_REASSESSMENT", record(versions=[V1, v2()]), 30, True),
    (
        "with a reason",
        "CHANGE_WITHOUT_REASSESSMENT",
        record(versions=[V1, v2("fatigue by day 60")]),
        30,
        False,
    ),
    (
        "symptoms scored in between",
        "CHANGE_WITHOUT_REASSESSMENT",
        record(versions=[V1, v2()], symptoms=[(20, FATIGUE, 6)]),
        30,
        False,
    ),
    (
        "a lab of the first version's day is not new",
        "CHANGE_WITHOUT_REASSESSMENT",
        record(versions=[V1, v2()], labs=[(0, HB, 98, "g/L")]),
        30,
        True,
    ),
    ("before version 2 exists", "CHANGE_WITHOUT_REASSESSMENT", record(versions=[V1, v2()]), 29, False),
    # MISTAKE-LOADING-TOO-LONG
    ("a 7th loading dose", "LOADING_TOO_LONG", record(doses=(*LOADING, 13)), 14, True),
    ("6 loading doses", "LOADING_TOO_LONG", record(doses=LOADING), 14, False),
    (
        "open-ended loading past its review",
        "LOADING_TOO_LONG",
        record("neuro", (*NEURO_LOADING, 22)),
        23,
        True,
    ),
    # FU-NO-DOUBLE over the record
    ("two full doses one day", "DOUBLED_DOSE", record(doses=[dose(0), dose(0, hour=15)]), 1, True),
    (
        "one dose split between two sites",
        "DOUBLED_DOSE",
        record(doses=[dose(0, dose_mcg=500, volume_ml=0.5), dose(0, hour=10, dose_mcg=500, volume_ml=0.5)]),
        1,
        False,
    ),
    ("catch-up on top in maintenance", "DOUBLED_DOSE", record(doses=(*LOADING, 95, 100)), 101, True),
    # MISTAKE-STOPPING + FU-STOPPED: lifelong, no dose for more than 1.5 x 84 = 126 days
    ("127 days without a dose", "STOPPING_MAINTENANCE", record(doses=LOADING), 11 + 127, True),
    ("126 days", "STOPPING_MAINTENANCE", record(doses=LOADING), 11 + 126, False),
    # MISTAKE-STRENGTH + FU-VOLUME-MATCH
    (
        "0.1 mL of 1 mg/mL for 1000 micrograms",
        "STRENGTH_MISMATCH",
        record(doses=[dose(0, volume_ml=0.1)]),
        1,
        True,
    ),
    ("1 mL for 1000 micrograms", "STRENGTH_MISMATCH", record(doses=[dose(0)]), 1, False),
    # MISTAKE-RETEST
    (
        "serum B12 on day 30",
        "RETEST_DURING_REPLACEMENT",
        record(doses=LOADING, labs=[(30, B12, 900, "ng/L")]),
        30,
        True,
    ),
    (
        "serum B12 on day 0",
        "RETEST_DURING_REPLACEMENT",
        record(doses=LOADING, labs=[(0, B12, 120, "ng/L")]),
        30,
        False,
    ),
    # MISTAKE-FOLATE-FIRST + FU-FOLATE-ORDER
    ("folic acid and no B12 yet", "FOLATE_BEFORE_B12", record("folic"), 0, True),
    ("folic acid noted, B12 that day", "FOLATE_BEFORE_B12", record("folic", LOADING), 12, False),
    (
        "folic acid noted days before B12",
        "FOLATE_BEFORE_B12",
        record(
            "folic",
            LOADING,
            versions=[PlanVersion(version=1, created_at=at(-3), plan=PLANS["folic"])],
        ),
        12,
        True,
    ),
    ("no folic acid", "FOLATE_BEFORE_B12", record(), 0, False),
    # MISTAKE-NEURO + FU-NEURO-WORSENING
    (
        "tingling 6 -> 3 -> 5",
        "NEURO_WORSENING",
        record(symptoms=[(0, TINGLING, 6), (30, TINGLING, 3), (60, TINGLING, 5)]),
        60,
        True,
    ),
    (
        "tingling 6 -> 3 -> 4",
        "NEURO_WORSENING",
        record(symptoms=[(0, TINGLING, 6), (30, TINGLING, 3), (60, TINGLING, 4)]),
        60,
        False,
    ),
    (
        "fatigue is not neurological",
        "NEURO_WORSENING",
        record(symptoms=[(0, FATIGUE, 2), (9, FATIGUE, 9)]),
        9,
        False,
    ),
    # ALERT-MULTIDOSE: discard 28 days after first puncture
    ("vial on day 28", "VIAL_DISCARD", record("us-mdv", [0], vials=[vial()]), 28, True),
    ("vial on day 27", "VIAL_DISCARD", record("us-mdv", [0], vials=[vial()]), 27, False),
    ("empty vial", "VIAL_DISCARD", record("us-mdv", [0], vials=[vial(0)]), 28, False),
]

LEVELS = {
    "DOSE_OVERDUE": AlertLevel.WARNING,
    "OVERDUE_REVIEW": AlertLevel.WARNING,
    "RETIC_CHECK_DUE": AlertLevel.INFO,
    "FBC_CHECK_DUE": AlertLevel.INFO,
    "NO_HAEM_RESPONSE": AlertLevel.WARNING,
    "LABS_NORMAL_SYMPTOMS_PERSIST": AlertLevel.WARNING,
    "NERVE_REVIEW_DUE": AlertLevel.INFO,
    "SYMPTOMS_RETURN_EARLY": AlertLevel.WARNING,
    "CHANGE_WITHOUT_REASSESSMENT": AlertLevel.WARNING,
    "LOADING_TOO_LONG": AlertLevel.WARNING,
    "DOUBLED_DOSE": AlertLevel.WARNING,
    "STOPPING_MAINTENANCE": AlertLevel.WARNING,
    "STRENGTH_MISMATCH": AlertLevel.WARNING,
    "RETEST_DURING_REPLACEMENT": AlertLevel.INFO,
    "FOLATE_BEFORE_B12": AlertLevel.WARNING,
    "NEURO_WORSENING": AlertLevel.CRITICAL,
    "VIAL_DISCARD": AlertLevel.WARNING,
}
# The rule each finding rests on first.
CITES = {
    "DOSE_OVERDUE": "FU-NO-DOUBLE",
    "OVERDUE_REVIEW": "FU-LONG-GAP",
    "RETIC_CHECK_DUE": "FU-RESP-RETIC",
    "FBC_CHECK_DUE": "FU-RESP-FBC",
    "NO_HAEM_RESPONSE": "FU-NO-RESPONSE",
    "LABS_NORMAL_SYMPTOMS_PERSIST": "FU-BROADEN",
    "NERVE_REVIEW_DUE": "FU-RESP-NERVES",
    "SYMPTOMS_RETURN_EARLY": "FU-ADJUST-INTERVAL",
    "CHANGE_WITHOUT_REASSESSMENT": "MISTAKE-DOSE-CHANGE",
    "LOADING_TOO_LONG": "MISTAKE-LOADING-TOO-LONG",
    "DOUBLED_DOSE": "FU-NO-DOUBLE",
    "STOPPING_MAINTENANCE": "MISTAKE-STOPPING",
    "STRENGTH_MISMATCH": "MISTAKE-STRENGTH",
    "RETEST_DURING_REPLACEMENT": "MISTAKE-RETEST",
    "FOLATE_BEFORE_B12": "MISTAKE-FOLATE-FIRST",
    "NEURO_WORSENING": "MISTAKE-NEURO",
    "VIAL_DISCARD": "ALERT-MULTIDOSE",
}


def _rules(rec: TreatmentRecord) -> RuleSet:
    return load_ruleset(rec.plan_versions[0].plan.ruleset.id)


@pytest.mark.parametrize(("what", "code", "rec", "on", "found"), ROWS, ids=[f"{r[1]}: {r[0]}" for r in ROWS])
def test_finding(what: str, code: str, rec: TreatmentRecord, on: int, found: bool) -> None:
    rules = _rules(rec)
    findings = [f for f in review(rec, rules, day(on)).findings if f.code == code]
    assert bool(findings) == found, [f.message for f in findings]
    for finding in findings:
        assert CITES[code] in finding.rules
        assert all(rules.rule(rid) for rid in finding.rules)
        assert finding.source.startswith("http") or finding.source == "b12plan design rule"


@pytest.mark.parametrize("code", sorted(LEVELS))
def test_every_finding_has_a_row_and_its_level(code: str) -> None:
    rows = [r for r in ROWS if r[1] == code]
    assert any(r[4] for r in rows)
    assert any(not r[4] for r in rows)
    for _, _, rec, on, _ in rows:
        levels = {f.level for f in review(rec, _rules(rec), day(on)).findings if f.code == code}
        if code == "LOADING_TOO_LONG" and rec.plan_versions[0].plan is PLANS["neuro"]:
            assert levels == {AlertLevel.INFO}  # open-ended loading: a clinician may have gone on
        elif code == "FOLATE_BEFORE_B12" and rec.administrations:
            assert levels <= {AlertLevel.INFO}  # B12 has been started since: a check, not an emergency
        else:
            assert levels <= {LEVELS[code]}


# ---------------------------------------------------------------- refusals (check_administration) ----------
def _refused_fields(
    rec: TreatmentRecord, adm: Administration, catalogue: Catalogue, now: dt.datetime
) -> list[str]:
    problems = check_administration(adm, rec, _rules(rec), catalogue, now, sites=load_sites())
    return [p.field for p in problems]


REFUSALS: list[tuple[str, TreatmentRecord, Administration, dt.datetime, list[str]]] = [
    ("a valid dose", record(doses=LOADING[:3]), dose(7, site="deltoid-left"), at(7, 12), []),
    ("in the future", record(), dose(5), at(5, 8), ["at"]),
    ("0.5 mL of 1 mg/mL is not 1000 micrograms", record(), dose(0, volume_ml=0.5), at(0, 12), ["volume_ml"]),
    ("an unknown product", record(), dose(0, product_id="no-such-vial"), at(0, 12), ["product_id"]),
    ("an unknown site", record(), dose(0, site="elbow"), at(0, 12), ["site"]),
    ("an SC site for an IM dose", record(), dose(0, site="abdomen-left"), at(0, 12), ["site"]),
    ("an IM dose in the thigh", record(), dose(0, site="thigh-right"), at(0, 12), []),
    ("an expired product", record(), dose(0, expiry=day(-1)), at(0, 12), ["expiry"]),
    ("a second injection the same day", record(doses=[0]), dose(0, hour=15), at(0, 16), ["at"]),
    (
        "the second part of a split dose",
        record(doses=[dose(0, dose_mcg=500, volume_ml=0.5)]),
        dose(0, hour=10, dose_mcg=500, volume_ml=0.5),
        at(0, 12),
        [],
    ),
    ("a catch-up dose on top of the due dose", record(doses=(*LOADING, 110)), dose(112), at(112, 12), ["at"]),
    ("the late dose itself", record(doses=LOADING), dose(110), at(110, 12), []),
    ("a 7th loading dose", record(doses=LOADING), dose(13), at(13, 12), ["at"]),
    ("open-ended loading goes on", record("neuro", NEURO_LOADING), dose(22), at(22, 12), []),
    # FU-NO-DOUBLE: sooner than half the planned gap (84 / 2 = 42 days) is a doubled dose
    ("41 days after a maintenance dose", record(doses=(*LOADING, 95)), dose(136), at(136, 12), ["at"]),
    ("42 days after a maintenance dose", record(doses=(*LOADING, 95)), dose(137), at(137, 12), []),
    (
        "a vial past its discard day",
        record("us-mdv", [0], vials=[vial()]),
        dose(28, plan="us-mdv", vial_id=1, product_id=None),
        at(28, 12),
        ["vial_id"],
    ),
    (
        "a vial with too little left",
        record("us-mdv", [0], vials=[vial(0.05)]),
        dose(1, plan="us-mdv", vial_id=1, product_id=None),
        at(1, 12),
        ["volume_ml"],
    ),
    ("an unknown vial", record("us-mdv", [0]), dose(1, plan="us-mdv", vial_id=9), at(1, 12), ["vial_id"]),
    (
        "0.1 mL of 1000 micrograms/mL is 100 micrograms",
        record("us-mdv"),
        dose(0, plan="us-mdv"),
        at(0, 12),
        [],
    ),
]


@pytest.mark.parametrize(("what", "rec", "adm", "now", "fields"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal(
    what: str,
    rec: TreatmentRecord,
    adm: Administration,
    now: dt.datetime,
    fields: list[str],
    catalogue: Catalogue,
) -> None:
    assert _refused_fields(rec, adm, catalogue, now) == fields


def test_the_site_is_not_checked_without_the_site_list(catalogue: Catalogue, nice: RuleSet) -> None:
    assert check_administration(dose(0, site="elbow"), record(), nice, catalogue, at(0, 12)) == []


@pytest.mark.parametrize("ruleset_id", ruleset_ids())
def test_every_rule_set_states_every_followup_step(ruleset_id: str) -> None:
    roles = {r.role for r in load_ruleset(ruleset_id).of(FollowupRule)}
    assert len(roles) == 19
    design = [r for r in load_ruleset(ruleset_id).of(FollowupRule) if r.evidence == "D"]
    assert all(r.source == "design" for r in design)
