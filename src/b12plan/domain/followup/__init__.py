"""Following a treatment once it has started: pure functions of the treatment record and a rule set.

No I/O and no clock: every function takes the day (`on`) or moment (`now`) it answers for, and reads the
record as it stands then. The current plan is the latest plan version made by then. Every number (how late
is late, a long gap, a doubled dose, the response timeline, the symptom scale) is a `followup.*` rule of
`data/rulesets/shared/followup.toml`; every finding names its rules.

    record.py    the record: Administration, LabEntry, SymptomEntry, PlanVersion, VialInUse, TreatmentRecord
    course.py    the plan's injections in order, and the injections given laid on them (re-anchored)
    dosing.py    next_due, adherence, dose_findings (overdue, long gap)
    entry.py     check_administration: what is refused before a dose is recorded
    sites.py     parse_sites, suggest_site (rotation)
    vials.py     vial_status (discard day, days and volume left)
    symptoms.py  symptom_cycle (returns before the next dose), persistence, neurological worsening
    response.py  response_checks on the expected timeline
    mistakes.py  detect_mistakes over the whole record
    review.py    review: all of the above and the next steps
"""

from __future__ import annotations

from b12plan.domain.followup.dosing import Adherence, DoseOutcome, DueDose, adherence, dose_findings, next_due
from b12plan.domain.followup.entry import check_administration
from b12plan.domain.followup.finding import Finding
from b12plan.domain.followup.mistakes import detect_mistakes
from b12plan.domain.followup.record import (
    Administration,
    LabEntry,
    PlanVersion,
    SymptomEntry,
    TreatmentRecord,
    VialInUse,
    current_version,
)
from b12plan.domain.followup.response import response_checks
from b12plan.domain.followup.review import NextStep, Review, review
from b12plan.domain.followup.sites import Site, parse_sites, suggest_site
from b12plan.domain.followup.symptoms import SymptomCycle, SymptomReturn, symptom_cycle
from b12plan.domain.followup.vials import VialStatus, vial_status

__all__ = [
    "Adherence",
    "Administration",
    "DoseOutcome",
    "DueDose",
    "Finding",
    "LabEntry",
    "NextStep",
    "PlanVersion",
    "Review",
    "Site",
    "SymptomCycle",
    "SymptomEntry",
    "SymptomReturn",
    "TreatmentRecord",
    "VialInUse",
    "VialStatus",
    "adherence",
    "check_administration",
    "current_version",
    "detect_mistakes",
    "dose_findings",
    "next_due",
    "parse_sites",
    "response_checks",
    "review",
    "suggest_site",
    "symptom_cycle",
    "vial_status",
]
