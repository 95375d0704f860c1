"""The planning core's view of a synthetic person: the case whose assessment the screen must agree with.

Built the way the screen reads FHIR (docs/screening.md): results on or before the screening date with
status `final`; a result the core refuses on its own (a unit it does not read, an implausible value) is not
read; treatment starts at the first B12 record; nitrous oxide and renal impairment are read as a cause and
a condition when recorded on or before the screening date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from b12plan.domain import units
from b12plan.domain.assessment import assess
from b12plan.domain.case import Case, parse_case
from b12plan.domain.codes import Condition, LabTest, Status
from b12plan.domain.labs import read_labs
from b12plan.domain.rules import RuleSet
from b12plan.errors import CaseError
from b12plan.screening.synth import SynthLab, SynthPatient
from b12plan.screening.units_table import MARKERS

_AGE = {"age": 50}  # age never changes the status


def _item(lab: SynthLab) -> dict[str, Any]:
    item: dict[str, Any] = {"test": lab.test.value, "value": lab.value, "unit": lab.unit}
    if lab.date is not None:
        item["date"] = lab.date.isoformat()
    if lab.upper_limit is not None:
        item["upper_limit"] = lab.upper_limit
    return item


def readable(lab: SynthLab, rules: RuleSet) -> bool:
    """Whether the core reads this result on its own (unit, plausibility, limits)."""
    try:
        read_labs(parse_case({"patient": _AGE, "labs": [_item(lab)]}), rules)
    except CaseError:
        return False
    return True


def _pmol(lab: SynthLab) -> float:
    return units.convert(lab.test, lab.value, lab.unit, "pmol/L")


def implausible_pairs(labs: list[SynthLab]) -> set[str]:
    """Ids of active and total B12 results of the same day where active is above total (in pmol/L): the
    core refuses the case (DX-HOLOTC-FRACTION); the screen sets both results aside."""
    actives = [lab for lab in labs if lab.test is LabTest.HOLOTC]
    totals = [lab for lab in labs if lab.test is LabTest.B12_TOTAL]
    return {x.id for a in actives for t in totals if a.date == t.date and _pmol(a) > _pmol(t) for x in (a, t)}


def case_of(patient: SynthPatient, as_of: dt.date, rules: RuleSet) -> Case:
    """The case of one synthetic person as on `as_of` (marker results only: nothing else sets the status)."""
    started = min(
        [m.start for m in patient.medications if m.med_class == "b12" and m.start <= as_of]
        + [a.date for a in patient.administrations if a.date <= as_of],
        default=None,
    )
    read = [
        lab
        for lab in sorted(patient.labs, key=lambda x: (x.date or dt.date.min, x.id))
        if lab.status == "final"
        and lab.test in MARKERS
        and (lab.date is None or lab.date <= as_of)
        and readable(lab, rules)
    ]
    refused = implausible_pairs(read)
    labs = [_item(lab) for lab in read if lab.id not in refused]
    n2o = any(m.med_class == "nitrous_oxide" and m.start <= as_of for m in patient.medications)
    renal = any(
        c.code is Condition.RENAL_IMPAIRMENT and (c.onset is None or c.onset <= as_of)
        for c in patient.conditions
    )
    data: dict[str, Any] = {
        "patient": _AGE,
        "labs": labs,
        "causes": ["nitrous_oxide"] if n2o else [],
        "conditions": ["renal_impairment"] if renal else [],
    }
    if started is not None:
        data["treatment_started"] = started.isoformat()
    return parse_case(data)


def core_status(patient: SynthPatient, as_of: dt.date, rules: RuleSet) -> Status:
    """The planning core's status for one synthetic person."""
    case = case_of(patient, as_of, rules)
    return assess(case, read_labs(case, rules), rules).status
