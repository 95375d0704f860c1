"""What the assessment found, in the form the later steps (regimen, schedule, safety) read.

`Findings` is internal to the core: the plan shows its public part as `Assessment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from b12plan.domain.case import Case
from b12plan.domain.codes import Cause, LabTest, Status
from b12plan.domain.labs import Lab
from b12plan.domain.plan import Assessment
from b12plan.domain.rules import CauseRule

__all__ = ["Findings"]


@dataclass
class Findings:
    case: Case
    labs: list[Lab]
    assessment: Assessment
    cause_rules: list[CauseRule]
    group: str
    folate_low: Lab | None = None
    potassium_low: Lab | None = None
    inr_above: Lab | None = None
    raised_b12: Lab | None = None
    excluded_after_treatment: list[Lab] = field(default_factory=list)
    ifab_after_treatment: Lab | None = None
    used_total_in_pregnancy: bool = False
    rules_used: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return self.assessment.status

    @property
    def causes(self) -> list[Cause]:
        return self.assessment.causes

    @property
    def neurological(self) -> bool:
        return self.assessment.neurological

    @property
    def severe_anaemia(self) -> bool:
        return self.assessment.severe_anaemia

    @property
    def pregnant_or_breastfeeding(self) -> bool:
        return self.case.patient.pregnant or self.case.patient.breastfeeding

    def measured(self, test: LabTest) -> bool:
        return any(lab.test is test for lab in self.labs)

    @property
    def oral_allowed(self) -> bool:
        return all(rule.oral_allowed for rule in self.cause_rules)
