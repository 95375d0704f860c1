"""Rule sets as typed values.

A rule set (`data/rulesets/*.toml`, read by `b12plan.rulebook`) is a list of rules. Every rule has a stable
`id`, a `role` that says which part of the core reads it, a `source` (a key of the rule set's `[sources]`, or
`design` for our own rules), an `evidence` tag (P primary text seen, Q seen only quoted by others, D our own
design rule) and a plain-language `text`. The numbers (thresholds, doses, intervals, days) live in the rule;
code never holds a clinical number.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from b12plan.domain.codes import AlertLevel, Cause, Formulation, LabTest, Stage

__all__ = [
    "DESIGN_SOURCE",
    "AlertRule",
    "AnaemiaRule",
    "CauseRule",
    "ExpectRule",
    "FollowupRule",
    "FunctionalRule",
    "LogicRule",
    "MistakeRule",
    "MonitorRule",
    "NextTestRule",
    "PhaseSpec",
    "PlausibleRule",
    "RaisedRule",
    "RegimenRule",
    "Rule",
    "RuleSet",
    "RuleSetMeta",
    "ScreenRule",
    "Source",
    "ThresholdRule",
]

DESIGN_SOURCE = "design"
Evidence = Literal["P", "Q", "D"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    url: str
    title: str


class _Rule(_Frozen):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9.\-]+$")]
    source: str
    evidence: Evidence
    text: str

    @model_validator(mode="after")
    def _design_rules_are_labelled(self) -> _Rule:
        if (self.evidence == "D") != (self.source == DESIGN_SOURCE):
            raise ValueError("evidence D goes with source 'design', and only with it")
        return self


class ThresholdRule(_Rule):
    """A direct marker (total or active B12).

    Below `deficient_below` -> deficient, above `unlikely_above` -> unlikely, between -> indeterminate.
    """

    role: Literal["dx.threshold"]
    test: LabTest
    unit: str
    deficient_below: float
    unlikely_above: float


class FunctionalRule(_Rule):
    """A functional marker (MMA, homocysteine) read against the lab's upper limit, or a documented default."""

    role: Literal["dx.functional"]
    test: LabTest
    unit: str
    default_upper_limit: float | None = None


class RaisedRule(_Rule):
    role: Literal["dx.raised"]
    test: LabTest
    unit: str
    above: float


class PlausibleRule(_Rule):
    """Values outside [min, max] are entry errors, refused with the field named."""

    role: Literal["dx.plausible"]
    test: LabTest
    unit: str
    min: float
    max: float


class AnaemiaRule(_Rule):
    role: Literal["anaemia"]
    group: Literal["male", "female", "pregnant", "unknown"]
    unit: str
    below: float
    severe_below: float


class LowRule(_Rule):
    """A low value of a supporting test (folate, potassium) when the lab gives no lower limit."""

    role: Literal["dx.low"]
    test: LabTest
    unit: str
    below: float


class CauseRule(_Rule):
    role: Literal["cause"]
    causes: list[Cause]
    group: str
    priority: int
    lifelong: bool | None = None
    until: str
    oral_allowed: bool = True


class NextTestRule(_Rule):
    role: Literal["next_test"]
    when: Literal[
        "indeterminate",
        "insufficient",
        "pregnant",
        "n2o",
        "cause_unknown",
        "no_blood_count",
        "no_folate",
        "severe_anaemia_no_potassium",
        "anticoagulant_no_inr",
    ]
    tests: list[LabTest]


class PhaseSpec(_Frozen):
    stage: Stage
    route: Literal["injection", "oral"]
    dose_mcg: float
    dose_range_mcg: tuple[float, float] | None = None
    interval_days: float | None = None
    interval_range_days: tuple[int, int] | None = None
    times_per_week: int | None = None
    doses: int | None = None
    until: str | None = None
    review_after_days: int | None = None
    design_rules: list[str] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _has_spacing(self) -> PhaseSpec:
        if (self.interval_days is None) == (self.times_per_week is None):
            raise ValueError("a phase has either interval_days or times_per_week")
        if self.stage is Stage.REPLETION and self.doses is None and self.review_after_days is None:
            raise ValueError("an open-ended repletion phase needs review_after_days")
        if self.interval_range_days and self.interval_days is not None:
            lo, hi = self.interval_range_days
            if not lo <= self.interval_days <= hi:
                raise ValueError("interval_days lies outside interval_range_days")
        return self


class RegimenRule(_Rule):
    role: Literal["regimen"]
    formulation: Formulation
    groups: list[str]
    neurological: bool | None = None
    family: Literal["injection", "oral"]
    prophylaxis: bool = False
    phases: list[PhaseSpec]

    @model_validator(mode="after")
    def _ends_in_maintenance(self) -> RegimenRule:
        stages = [p.stage for p in self.phases]
        if not stages or stages[-1] is not Stage.MAINTENANCE or stages.count(Stage.MAINTENANCE) != 1:
            raise ValueError("phases are repletion phases then exactly one maintenance phase")
        return self


class MonitorRule(_Rule):
    role: Literal["monitor"]
    kind: Literal["test", "review"]
    when: Literal[
        "treated",
        "treated_not_pregnant",
        "treated_pregnant",
        "severe_anaemia",
        "neurological",
        "not_treated",
        "autoimmune",
    ]
    after_days: int
    tests: list[LabTest] = Field(default_factory=list)
    note: str


class AlertRule(_Rule):
    role: Literal["alert"]
    code: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")]
    level: AlertLevel
    message: str


class MistakeRule(_Rule):
    """A common mistake to avoid (`mistake`) or a red flag a patient must act on (`red_flag`)."""

    role: Literal["mistake", "red_flag"]
    code: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")]
    message: str
    when: Literal["always", "treated"] = "treated"


class ExpectRule(_Rule):
    role: Literal["expect"]
    after: str
    what: str
    when: Literal["treated", "neurological"] = "treated"


class LogicRule(_Rule):
    """A rule with no numbers of its own: a reasoning step the core takes, cited where it is taken."""

    role: Literal[
        "dx.combine",
        "dx.boundary",
        "dx.treat_before_results",
        "dx.n2o",
        "dx.no_unit_guess",
        "dx.holotc_fraction",
        "dx.recent_treatment",
        "dx.neurological",
        "dx.urgent",
        "cause.ifab",
        "cause.none_given",
        "regimen.formulation_switch",
        "regimen.clinician_interval",
        "regimen.withhold",
        "schedule.three_weekly",
        "schedule.open_loading",
        "regimen.default_interval",
        "schedule.maintenance_start",
        "schedule.horizon",
    ]
    window_days: int | None = None
    offsets: list[int] | None = None


class ScreenRule(_Rule):
    """A population-screening check (`b12plan screen`): one finding and the numbers it needs.

    `check` names the logic the screening query applies; `finding` is the code written on each row found.
    `medicines` are medicine classes of `data/codes.toml` (plus `b12` for replacement itself); `tests` are
    the tests that count for the check (e.g. the tests that make a person "tested"). Durations: `min_months`
    calendar months of exposure, `within_days` a window after a start, `grace_days` an allowance before a
    gap counts.
    """

    role: Literal["screen"]
    check: Literal[
        "deficient_untreated",
        "indeterminate_no_followup",
        "n2o_pattern",
        "medicine_not_tested",
        "retest_on_replacement",
        "injection_overdue",
        "no_blood_count",
        "folic_acid_first",
    ]
    finding: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")]
    medicines: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = Field(default_factory=list)
    tests: list[LabTest] = Field(default_factory=list)
    min_months: Annotated[int | None, Field(gt=0)] = None
    within_days: Annotated[int | None, Field(gt=0)] = None
    grace_days: Annotated[int | None, Field(ge=0)] = None

    @model_validator(mode="after")
    def _has_what_its_check_needs(self) -> ScreenRule:
        needs = {
            "indeterminate_no_followup": ("tests",),
            "medicine_not_tested": ("medicines", "tests", "min_months"),
            "retest_on_replacement": ("tests",),
            "no_blood_count": ("tests", "within_days"),
            "folic_acid_first": ("medicines",),
        }.get(self.check, ())
        missing = [name for name in needs if getattr(self, name) in (None, [])]
        if missing:
            raise ValueError(f"check {self.check} needs {', '.join(missing)}")
        return self


class FollowupRule(_Rule):
    """A step in following treatment (REFERENCE 4.6 missed doses, 5 monitoring), read by `domain.followup`.

    Numbers by role (checked on load): `days` a count of days (grace, long gap, lab window), `after_days` /
    `by_days` a response milestone counted from the first dose, `fraction` a share of a dose interval (or of
    a dose), `factor` a multiple of an interval, `points` on the 0-10 symptom scale, `count` a number of
    maintenance cycles, `hb_rise_g_per_l` / `mcv_fall_fl` the blood-count response expected.
    """

    role: Literal[
        "followup.reanchor",
        "followup.late",
        "followup.long_gap",
        "followup.no_double",
        "followup.volume_match",
        "followup.stopped",
        "followup.change_review",
        "followup.folate_order",
        "followup.response_retic",
        "followup.response_fbc",
        "followup.response_nerves",
        "followup.lab_window",
        "followup.haem_response",
        "followup.no_response",
        "followup.broaden",
        "followup.symptom_scale",
        "followup.symptom_cycle",
        "followup.adjust_interval",
        "followup.neuro_worsening",
    ]
    days: Annotated[int | None, Field(ge=0)] = None
    after_days: Annotated[int | None, Field(ge=0)] = None
    by_days: Annotated[int | None, Field(ge=0)] = None
    fraction: Annotated[float | None, Field(gt=0)] = None
    factor: Annotated[float | None, Field(gt=0)] = None
    points: Annotated[int | None, Field(ge=0, le=10)] = None
    count: Annotated[int | None, Field(gt=0)] = None
    hb_rise_g_per_l: Annotated[float | None, Field(ge=0)] = None
    mcv_fall_fl: Annotated[float | None, Field(ge=0)] = None

    @model_validator(mode="after")
    def _has_its_numbers(self) -> FollowupRule:
        needs = {
            "followup.late": ("days",),
            "followup.long_gap": ("days", "fraction"),
            "followup.no_double": ("fraction",),
            "followup.volume_match": ("fraction",),
            "followup.stopped": ("factor",),
            "followup.response_retic": ("after_days", "by_days"),
            "followup.response_fbc": ("after_days",),
            "followup.response_nerves": ("after_days",),
            "followup.lab_window": ("days",),
            "followup.haem_response": ("hb_rise_g_per_l", "mcv_fall_fl"),
            "followup.broaden": ("after_days",),
            "followup.symptom_scale": ("points",),
            "followup.symptom_cycle": ("points", "days", "count"),
            "followup.neuro_worsening": ("points",),
        }.get(self.role, ())
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.role} needs {', '.join(missing)}")
        return self


Rule = Annotated[
    ThresholdRule
    | FunctionalRule
    | RaisedRule
    | PlausibleRule
    | AnaemiaRule
    | LowRule
    | CauseRule
    | NextTestRule
    | RegimenRule
    | MonitorRule
    | AlertRule
    | MistakeRule
    | ExpectRule
    | LogicRule
    | ScreenRule
    | FollowupRule,
    Field(discriminator="role"),
]

R = TypeVar("R", bound=_Rule)


class RuleSetMeta(_Frozen):
    id: str
    version: str
    title: str
    jurisdiction: str
    description: str = ""
    default_formulation: Formulation
    default_product: str
    default_oral_product: str
    country: str


class RuleSet(_Frozen):
    """One versioned rule set. Built only by `b12plan.rulebook`; validated on construction."""

    ruleset: RuleSetMeta
    sources: dict[str, Source]
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        for rule in self.rules:
            if rule.source != DESIGN_SOURCE and rule.source not in self.sources:
                raise ValueError(f"rule {rule.id}: source {rule.source!r} is not in [sources]")
            if isinstance(rule, RegimenRule):
                for phase in rule.phases:
                    for ref in phase.design_rules:
                        if ref not in ids:
                            raise ValueError(f"rule {rule.id}: design rule {ref!r} does not exist")
        codes = [r.code for r in self.rules if isinstance(r, AlertRule)]
        if len(codes) != len(set(codes)):
            raise ValueError("an alert code is defined twice")
        return self

    @property
    def id(self) -> str:
        return self.ruleset.id

    @cached_property
    def _by_type(self) -> dict[type, tuple[Any, ...]]:
        """Rules grouped by their concrete type, in file order: `of` is called on every planning step."""
        groups: dict[type, list[Any]] = {}
        for r in self.rules:
            groups.setdefault(type(r), []).append(r)
        return {kind: tuple(items) for kind, items in groups.items()}

    def of(self, kind: type[R]) -> Iterator[R]:
        """Every rule of one type, in file order."""
        found = self._by_type.get(kind)
        if found is not None:
            return iter(found)
        return (r for r in self.rules if isinstance(r, kind))

    @cached_property
    def _by_id(self) -> dict[str, Rule]:
        """Rules by id (unique: checked on construction): every reason and finding looks its rules up."""
        return {r.id: r for r in self.rules}

    @cached_property
    def _followup_by_role(self) -> dict[str, FollowupRule]:
        """The first follow-up rule of each role (file order): the follow-up checks ask for them per step."""
        found: dict[str, FollowupRule] = {}
        for r in self.of(FollowupRule):
            found.setdefault(r.role, r)
        return found

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def followup(self, role: str) -> FollowupRule | None:
        """The rule for one follow-up step (`followup.*` roles), or None when the rule set has none."""
        return self._followup_by_role.get(role)

    def logic(self, role: str) -> LogicRule:
        """The rule for one reasoning step; every rule set must state each step it takes."""
        for r in self.of(LogicRule):
            if r.role == role:
                return r
        raise KeyError(f"rule set {self.id} has no rule for {role}")

    def find_logic(self, role: str) -> LogicRule | None:
        return next((r for r in self.of(LogicRule) if r.role == role), None)

    def alert(self, code: str) -> AlertRule | None:
        return next((r for r in self.of(AlertRule) if r.code == code), None)

    def threshold(self, test: LabTest) -> ThresholdRule | None:
        return next((r for r in self.of(ThresholdRule) if r.test is test), None)

    def source_url(self, rule: _Rule) -> str:
        if rule.source == DESIGN_SOURCE:
            return "b12plan design rule"
        return self.sources[rule.source].url
