"""Each screening finding as a table of people: who is found, who is not, and why (screening date 2025-06-30).

Rows read like the rules in data/rulesets/shared/screening.toml; the numbers in them (14 days, 4 months,
12 weeks...) are the rule set's, which the last tests change to show the query follows the data.
"""

from __future__ import annotations

import pytest
from screenkit import (
    condition,
    day,
    findings_of,
    given,
    lab,
    person,
    prescription,
    screen_people,
    statement,
    status_of,
)

from b12plan.domain.codes import Condition
from b12plan.domain.rules import RuleSet, ScreenRule, ThresholdRule
from b12plan.screening.synth import SynthPatient, SynthPhase

LOADING = SynthPhase(3, 1, "wk", 6)  # three times a week, 6 doses
EVERY_12_WEEKS = SynthPhase(1, 12, "wk", None)

# (finding, expected?, why, person)
SPEC: list[tuple[str, bool, str, SynthPatient]] = []


def row(finding: str, found: bool, why: str, who: SynthPatient) -> None:
    SPEC.append((finding, found, why, who))


# -- deficiency confirmed, no replacement -------------------------------------------------------------------
row(
    "DEFICIENT_UNTREATED",
    True,
    "120 ng/L six weeks ago, nothing started",
    person(labs=[lab("b12_total", 120, "ng/L", "2025-05-15")]),
)
row(
    "DEFICIENT_UNTREATED",
    True,
    "80 pmol/L (below 133 pmol/L)",
    person(labs=[lab("b12_total", 80, "pmol/L", "2025-01-15")]),
)
row(
    "DEFICIENT_UNTREATED",
    False,
    "result 10 days ago: inside the 14-day allowance",
    person(labs=[lab("b12_total", 120, "ng/L", "2025-06-20")]),
)
row(
    "DEFICIENT_UNTREATED",
    False,
    "oral B12 started after the result",
    person(labs=[lab("b12_total", 120, "ng/L", "2025-03-01")], medications=[statement("b12", "2025-03-10")]),
)
row(
    "DEFICIENT_UNTREATED",
    False,
    "exactly 180 ng/L is indeterminate, not deficient",
    person(labs=[lab("b12_total", 180, "ng/L", "2025-03-01")]),
)
row(
    "DEFICIENT_UNTREATED",
    True,
    "active B12 below 25 pmol/L",
    person(labs=[lab("holotc", 20, "pmol/L", "2025-03-01")]),
)
row(
    "DEFICIENT_UNTREATED",
    False,
    "deficient result after the screening date is not read",
    person(labs=[lab("b12_total", 120, "ng/L", "2025-07-15")]),
)

# -- indeterminate, no MMA or active B12 after it --------------------------------------------------
row(
    "INDETERMINATE_NO_FOLLOWUP",
    True,
    "250 ng/L, nothing after",
    person(labs=[lab("b12_total", 250, "ng/L", "2025-01-10")]),
)
row(
    "INDETERMINATE_NO_FOLLOWUP",
    False,
    "active B12 taken after it (still indeterminate)",
    person(labs=[lab("b12_total", 250, "ng/L", "2025-01-10"), lab("holotc", 50, "pmol/L", "2025-02-01")]),
)
row(
    "INDETERMINATE_NO_FOLLOWUP",
    False,
    "MMA after it resolves the status",
    person(labs=[lab("b12_total", 250, "ng/L", "2025-01-10"), lab("mma", 0.2, "umol/L", "2025-02-01")]),
)
row(
    "INDETERMINATE_NO_FOLLOWUP",
    False,
    "inside the 28-day allowance",
    person(labs=[lab("b12_total", 250, "ng/L", "2025-06-10")]),
)
row(
    "INDETERMINATE_NO_FOLLOWUP",
    True,
    "active B12 only before the indeterminate result",
    person(labs=[lab("holotc", 50, "pmol/L", "2024-01-10"), lab("b12_total", 250, "ng/L", "2025-01-10")]),
)

# -- nitrous oxide pattern -----------------------------------------------------------------------------------
row(
    "N2O_PATTERN",
    True,
    "homocysteine 30 (default limit 20) with B12 300 ng/L",
    person(
        labs=[lab("homocysteine", 30, "umol/L", "2025-02-01"), lab("b12_total", 300, "ng/L", "2025-02-01")]
    ),
)
row(
    "N2O_PATTERN",
    True,
    "MMA above the lab's own limit with B12 500 ng/L",
    person(
        labs=[lab("mma", 450, "nmol/L", "2025-02-01", upper=400), lab("b12_total", 500, "ng/L", "2025-02-01")]
    ),
)
row(
    "N2O_PATTERN",
    False,
    "B12 in the deficient range",
    person(
        labs=[lab("homocysteine", 30, "umol/L", "2025-02-01"), lab("b12_total", 150, "ng/L", "2025-02-01")]
    ),
)
row(
    "N2O_PATTERN",
    False,
    "MMA within the lab's limit",
    person(
        labs=[lab("mma", 0.5, "umol/L", "2025-02-01", upper=0.6), lab("b12_total", 400, "ng/L", "2025-02-01")]
    ),
)
row(
    "N2O_PATTERN",
    False,
    "no serum B12 to call normal",
    person(labs=[lab("homocysteine", 30, "umol/L", "2025-02-01")]),
)

# -- medicines and never tested ------------------------------------------------------------------------------
row(
    "METFORMIN_NOT_TESTED",
    True,
    "metformin for 6 months, never tested",
    person(medications=[statement("metformin", "2024-12-30")]),
)
row(
    "METFORMIN_NOT_TESTED",
    False,
    "metformin for 3.5 months",
    person(medications=[statement("metformin", "2025-03-15")]),
)
row(
    "METFORMIN_NOT_TESTED",
    False,
    "tested once, years ago",
    person(
        medications=[statement("metformin", "2019-01-01")], labs=[lab("b12_total", 400, "ng/L", "2020-01-01")]
    ),
)
row(
    "METFORMIN_NOT_TESTED",
    True,
    "a result without a unit still is a test, but this one is Hb",
    person(medications=[statement("metformin", "2019-01-01")], labs=[lab("hb", 130, "g/L", "2020-01-01")]),
)
row(
    "METFORMIN_NOT_TESTED",
    False,
    "a B12 test whose unit is missing still counts as tested",
    person(
        medications=[statement("metformin", "2019-01-01")], labs=[lab("b12_total", 400, None, "2020-01-01")]
    ),
)
row(
    "METFORMIN_NOT_TESTED",
    False,
    "two months' course, long over",
    person(medications=[statement("metformin", "2020-01-01", "2020-03-01")]),
)
row(
    "ACID_SUPPRESSION_NOT_TESTED",
    True,
    "PPI for 18 months",
    person(medications=[statement("ppi", "2024-01-01")]),
)
row(
    "ACID_SUPPRESSION_NOT_TESTED",
    True,
    "H2RA for 13 months",
    person(medications=[statement("h2ra", "2024-05-01")]),
)
row(
    "ACID_SUPPRESSION_NOT_TESTED",
    False,
    "PPI for 10 months",
    person(medications=[statement("ppi", "2024-09-01")]),
)

# -- serum B12 re-tested on replacement ------------------------------------------------------------
row(
    "RETEST_ON_REPLACEMENT",
    True,
    "B12 measured 5 months into replacement",
    person(medications=[statement("b12", "2024-01-01")], labs=[lab("b12_total", 900, "ng/L", "2024-06-01")]),
)
row(
    "RETEST_ON_REPLACEMENT",
    False,
    "B12 taken the day replacement started",
    person(medications=[statement("b12", "2024-01-01")], labs=[lab("b12_total", 150, "ng/L", "2024-01-01")]),
)
row(
    "RETEST_ON_REPLACEMENT",
    False,
    "active B12 is not serum (total) B12 for this rule",
    person(medications=[statement("b12", "2024-01-01")], labs=[lab("holotc", 90, "pmol/L", "2024-06-01")]),
)

# -- injection overdue against the person's prescription -------------------------------------------
_rx = prescription("2025-01-06", [LOADING, EVERY_12_WEEKS])
row(
    "INJECTION_OVERDUE",
    True,
    "loading done 17 Jan; 12-weekly dose due 11 Apr, none since",
    person(
        medications=[_rx],
        administrations=given(
            _rx, "2025-01-06", "2025-01-08", "2025-01-10", "2025-01-13", "2025-01-15", "2025-01-17"
        ),
    ),
)
_rx = prescription("2025-01-06", [LOADING, EVERY_12_WEEKS])
row(
    "INJECTION_OVERDUE",
    False,
    "the 12-weekly dose given 11 Apr: next due 4 Jul",
    person(
        medications=[_rx],
        administrations=given(
            _rx,
            "2025-01-06",
            "2025-01-08",
            "2025-01-10",
            "2025-01-13",
            "2025-01-15",
            "2025-01-17",
            "2025-04-11",
        ),
    ),
)
_rx = prescription("2025-01-06", [LOADING, EVERY_12_WEEKS])
row(
    "INJECTION_OVERDUE",
    True,
    "loading stopped after 3 doses (next due every 2.33 days)",
    person(medications=[_rx], administrations=given(_rx, "2025-01-06", "2025-01-08", "2025-01-10")),
)
_rx = prescription("2024-01-06", [LOADING, EVERY_12_WEEKS], status="stopped", end="2024-03-01")
row(
    "INJECTION_OVERDUE",
    False,
    "prescription stopped",
    person(medications=[_rx], administrations=given(_rx, "2024-01-06")),
)
_rx = prescription("2025-06-25", [LOADING, EVERY_12_WEEKS])
row(
    "INJECTION_OVERDUE",
    False,
    "prescribed 5 days ago, first dose not yet given (7-day allowance)",
    person(medications=[_rx]),
)
_rx = prescription("2025-06-01", [LOADING, EVERY_12_WEEKS])
row("INJECTION_OVERDUE", True, "prescribed a month ago, no dose given", person(medications=[_rx]))

# -- no blood count within 12 weeks of starting -------------------------------------------------------------
row(
    "NO_BLOOD_COUNT_AFTER_START",
    True,
    "started 1 Jan, no Hb or MCV by 26 Mar",
    person(medications=[statement("b12", "2025-01-01")]),
)
row(
    "NO_BLOOD_COUNT_AFTER_START",
    False,
    "Hb at 7 weeks",
    person(medications=[statement("b12", "2025-01-01")], labs=[lab("hb", 12.9, "g/dL", "2025-02-20")]),
)
row(
    "NO_BLOOD_COUNT_AFTER_START",
    False,
    "the 12 weeks are not over",
    person(medications=[statement("b12", "2025-05-01")]),
)
row(
    "NO_BLOOD_COUNT_AFTER_START",
    True,
    "Hb only before starting",
    person(medications=[statement("b12", "2025-01-01")], labs=[lab("hb", 110, "g/L", "2024-12-01")]),
)

# -- folic acid before B12 in known deficiency ---------------------------------------------------------------
row(
    "FOLIC_ACID_WITHOUT_B12",
    True,
    "deficient, folic acid 4 days later, no B12",
    person(
        labs=[lab("b12_total", 120, "ng/L", "2025-01-01")],
        medications=[statement("folic_acid", "2025-01-05")],
    ),
)
row(
    "FOLIC_ACID_WITHOUT_B12",
    True,
    "deficient, folic acid first, B12 a week later",
    person(
        labs=[lab("b12_total", 120, "ng/L", "2025-01-01")],
        medications=[statement("folic_acid", "2025-01-05"), statement("b12", "2025-01-12")],
    ),
)
row(
    "FOLIC_ACID_WITHOUT_B12",
    False,
    "B12 started before the folic acid",
    person(
        labs=[lab("b12_total", 120, "ng/L", "2025-01-01")],
        medications=[statement("b12", "2025-01-03"), statement("folic_acid", "2025-01-05")],
    ),
)
row(
    "FOLIC_ACID_WITHOUT_B12",
    False,
    "folic acid before the deficiency was known",
    person(
        labs=[lab("b12_total", 120, "ng/L", "2025-01-01")],
        medications=[statement("folic_acid", "2024-06-01")],
    ),
)


@pytest.fixture(scope="module")
def found(nice: RuleSet) -> dict[str, set[str]]:
    return findings_of(screen_people([who for *_, who in SPEC], nice))


@pytest.mark.parametrize(
    ("finding", "expected", "why", "who"), SPEC, ids=[f"{f}: {w}" for f, _, w, _ in SPEC]
)
def test_finding(
    found: dict[str, set[str]], finding: str, expected: bool, why: str, who: SynthPatient
) -> None:
    assert (finding in found.get(who.id, set())) is expected, why


def test_every_finding_has_a_row_each_way(nice: RuleSet) -> None:
    codes = {r.finding for r in nice.of(ScreenRule)}
    assert codes == {f for f, found, _, _ in SPEC if found} == {f for f, found, _, _ in SPEC if not found}


def test_status_reads_like_the_core(nice: RuleSet) -> None:
    people = {
        "undated counts as oldest": person(
            labs=[lab("b12_total", 120, "ng/L", None), lab("b12_total", 400, "ng/L", "2024-01-01")]
        ),
        "after replacement set aside": person(
            labs=[lab("b12_total", 900, "ng/L", "2024-06-01")], medications=[statement("b12", "2024-01-01")]
        ),
        "renal keeps a raised MMA indeterminate": person(
            labs=[lab("b12_total", 250, "ng/L", "2024-01-01"), lab("mma", 0.5, "umol/L", "2024-01-05")],
            conditions=[condition(Condition.RENAL_IMPAIRMENT, "2020-01-01")],
        ),
        "raised MMA confirms": person(
            labs=[lab("b12_total", 250, "ng/L", "2024-01-01"), lab("mma", 0.5, "umol/L", "2024-01-05")]
        ),
        "nitrous oxide: raised Hcy confirms": person(
            labs=[
                lab("b12_total", 400, "ng/L", "2024-01-01"),
                lab("homocysteine", 30, "umol/L", "2024-01-01"),
            ],
            medications=[statement("nitrous_oxide", "2023-06-01")],
        ),
        "active above total the same day: both set aside": person(
            labs=[lab("b12_total", 100, "pmol/L", "2024-01-01"), lab("holotc", 120, "pmol/L", "2024-01-01")]
        ),
    }
    expected = {
        "undated counts as oldest": "unlikely",
        "after replacement set aside": "uninterpretable",
        "renal keeps a raised MMA indeterminate": "indeterminate",
        "raised MMA confirms": "deficient",
        "nitrous oxide: raised Hcy confirms": "deficient",
        "active above total the same day: both set aside": "insufficient_data",
    }
    tables = screen_people(people.values(), nice)
    got = status_of(tables)
    assert {name: got[p.id] for name, p in people.items()} == expected
    pair = people["active above total the same day: both set aside"].id
    rejected = [r for r in tables.rejected.to_pylist() if r["patient_id"] == pair]
    assert [r["rule_id"] for r in rejected] == ["DX-HOLOTC-FRACTION"] * 2


def _with(rules: RuleSet, rule_id: str, **changes: object) -> RuleSet:
    """The rule set with one rule's numbers changed (validated again)."""
    replaced = [r.model_copy(update=changes) if r.id == rule_id else r for r in rules.rules]
    return RuleSet.model_validate({**rules.model_dump(), "rules": [r.model_dump() for r in replaced]})


def test_the_query_follows_the_rule_set(nice: RuleSet) -> None:
    """The numbers live in the rule set only: change them there and the findings change."""
    five_months = person(medications=[statement("metformin", "2025-01-25")])
    low = person(labs=[lab("b12_total", 120, "ng/L", "2025-01-15")])
    started = person(medications=[statement("b12", "2025-02-01")])
    people = [five_months, low, started]
    before = findings_of(screen_people(people, nice))
    assert "METFORMIN_NOT_TESTED" in before[five_months.id]
    assert "DEFICIENT_UNTREATED" in before[low.id]
    assert "NO_BLOOD_COUNT_AFTER_START" in before[started.id]

    changed = _with(nice, "SCREEN-METFORMIN-NOT-TESTED", min_months=6)
    changed = _with(changed, "SCREEN-NO-BLOOD-COUNT", within_days=180)
    threshold = next(r for r in nice.of(ThresholdRule) if r.test.value == "b12_total")
    changed = _with(changed, threshold.id, deficient_below=100)
    after = findings_of(screen_people(people, changed))
    assert "METFORMIN_NOT_TESTED" not in after.get(five_months.id, set())
    assert "DEFICIENT_UNTREATED" not in after.get(low.id, set())
    assert "NO_BLOOD_COUNT_AFTER_START" not in after.get(started.id, set())


def test_evidence_names_values_units_and_dates(nice: RuleSet) -> None:
    who = person(labs=[lab("b12_total", 120, "ng/L", "2025-05-15")])
    tables = screen_people([who], nice)
    (found,) = tables.findings.to_pylist()
    assert found["value"] == 120
    assert found["unit"] == "ng/L"
    assert found["date"] == day("2025-05-15")
    assert found["rule_id"] == "SCREEN-DEFICIENT-UNTREATED"
    assert found["rule_source"] == "b12plan design rule"
    assert found["evidence"] == "b12_total 120 ng/L on 2025-05-15; due 2025-05-29"
    assert found["data_source"] == "Observation.ndjson"
