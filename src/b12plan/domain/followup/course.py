"""The planned course of injections, and how the injections given line up with it.

The current plan's injection events (placed by `schedule.build_schedule`: repletion with the rule set's
spacing, then maintenance up to the horizon) give the planned gap before each dose; past the horizon the
maintenance interval repeats. The injections given are laid on that sequence in time order (FU-REANCHOR):
each planned dose is due its planned gap after the last injection actually given, so a late dose moves every
later one. Injections given before the plan's start day belong to an earlier course: they only set the
anchor. An injection that is not the next planned dose is an extra (FU-NO-DOUBLE): a second one on the same
day (unless the day's total is one planned dose, split between sites), one sooner than half the planned gap,
or, between the last planned loading dose and the first maintenance dose, a loading dose beyond those
planned. Pure: the caller gives the day the record is read on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from b12plan.domain.codes import EventKind, Route, Stage
from b12plan.domain.followup.finding import followup_rule, number
from b12plan.domain.followup.record import PlanVersion, TreatmentRecord, current_version, injections
from b12plan.domain.plan import Plan
from b12plan.domain.rules import RuleSet

__all__ = ["Course", "Extra", "Given", "Kind", "Slot", "build_course"]

Kind = Literal["dose", "split", "same_day", "too_soon", "extra_loading", "before_plan", "beyond_plan"]
EXTRA_KINDS: frozenset[Kind] = frozenset({"same_day", "too_soon", "extra_loading", "beyond_plan"})


@dataclass(frozen=True)
class Slot:
    """One planned injection: its place in the course, the planned gap after the dose before it (days)."""

    index: int
    stage: Stage
    gap_days: int
    interval_days: int
    dose_mcg: float
    volume_ml: float | None
    syringe_units: float | None
    route: Route
    provisional: bool
    rules: tuple[str, ...]

    @property
    def number(self) -> int:
        """1 for the first dose of the course."""
        return self.index + 1


@dataclass(frozen=True)
class Given:
    """A planned dose and the day it was given."""

    slot: Slot
    due: dt.date
    day: dt.date

    @property
    def days_late(self) -> int:
        """Days after the due day (negative: given early)."""
        return (self.day - self.due).days


@dataclass(frozen=True)
class Extra:
    """An injection that was not the next planned dose, with the dose that was pending at the time."""

    day: dt.date
    kind: Kind
    pending: Slot | None
    after: dt.date | None


def _planned(plan: Plan | None, rules: RuleSet) -> tuple[list[Slot], Slot | None]:
    if plan is None or plan.regimen is None:
        return [], None
    phases = plan.regimen.phases
    maintenance = next((p for p in phases if p.stage is Stage.MAINTENANCE), None)
    every = max(1, round(maintenance.interval_days)) if maintenance is not None else 0
    slots: list[Slot] = []
    events = [e for e in plan.events if e.kind is EventKind.INJECTION]
    for i, event in enumerate(events):
        gap = (event.date - events[i - 1].date).days if i else 0
        stage = event.stage or Stage.REPLETION
        slots.append(
            Slot(
                index=i,
                stage=stage,
                gap_days=gap,
                interval_days=every if stage is Stage.MAINTENANCE else gap,
                dose_mcg=event.dose_mcg or 0.0,
                volume_ml=event.volume_ml,
                syringe_units=event.syringe_units,
                route=event.route or Route.IM,
                provisional=event.provisional,
                rules=tuple(dict.fromkeys(event.rules)),
            )
        )
    if maintenance is None or maintenance.route is Route.ORAL:
        return slots, None
    last = next((s for s in reversed(slots) if s.stage is Stage.MAINTENANCE), None)
    start_rule = rules.find_logic("schedule.maintenance_start")
    tail = Slot(
        index=len(slots),
        stage=Stage.MAINTENANCE,
        gap_days=every,
        interval_days=every,
        dose_mcg=maintenance.dose_mcg,
        volume_ml=maintenance.volume_ml,
        syringe_units=maintenance.syringe_units,
        route=maintenance.route,
        provisional=any(p.stage is Stage.REPLETION and p.doses is None for p in phases),
        rules=last.rules if last else (*maintenance.rules, *([start_rule.id] if start_rule else [])),
    )
    return slots, tail


class Course:
    """The current plan's course and the injections given so far, in the order they were given."""

    def __init__(self, version: PlanVersion | None, rules: RuleSet) -> None:
        self.version = version
        self.plan = version.plan if version is not None else None
        self.start = self.plan.generated_for if self.plan is not None else None
        self._slots, self._tail = _planned(self.plan, rules)
        self.repletion_doses = sum(1 for s in self._slots if s.stage is Stage.REPLETION)
        self.given: list[Given] = []
        self.extras: list[Extra] = []
        self.last: dt.date | None = None  # the last injection day, whatever its kind
        self.days: list[dt.date] = []  # every injection day from the start, once each
        self.cycles: list[tuple[dt.date, int]] = []  # maintenance cycles: first day, planned length
        self._per_day: dict[dt.date, float] = {}
        self.no_double = followup_rule(rules, "followup.no_double")
        self.volume_match = followup_rule(rules, "followup.volume_match")

    def slot(self, index: int) -> Slot | None:
        """The planned dose at `index` (0: the first), or None past the last injected phase."""
        if index < len(self._slots):
            return self._slots[index]
        if self._tail is None:
            return None
        return replace(self._tail, index=index, gap_days=self._tail.gap_days if index else 0)

    @property
    def pending(self) -> Slot | None:
        """The next planned dose not yet given."""
        return self.slot(len(self.given))

    def due(self, slot: Slot) -> dt.date:
        """When `slot` falls due: the plan's start for the first dose, else its gap after the last one."""
        if self.start is None:
            raise ValueError("no plan: nothing is due")
        if slot.index == 0 or self.last is None:
            return self.start
        return self.last + dt.timedelta(days=slot.gap_days)

    def first_maintenance(self, slot: Slot) -> bool:
        return slot.stage is Stage.MAINTENANCE and 0 < self.repletion_doses == slot.index

    def place(self, day: dt.date, dose_mcg: float) -> Kind:
        """What an injection of `dose_mcg` on `day`, after every injection so far, would be."""
        if self.start is None or day < self.start:
            return "before_plan"
        if day in self._per_day:
            planned = self.given[-1].slot.dose_mcg if self.given and self.given[-1].day == day else dose_mcg
            tolerance = 1 + number(self.volume_match, "fraction")
            return "split" if self._per_day[day] + dose_mcg <= planned * tolerance else "same_day"
        slot = self.pending
        if slot is None:
            return "beyond_plan"
        if slot.index == 0 or self.last is None:
            return "dose"
        gap, share = (day - self.last).days, number(self.no_double, "fraction")
        if self.first_maintenance(slot):
            before = self.slot(slot.index - 1)
            if before is not None and gap < share * before.gap_days:
                return "too_soon"
            return "extra_loading" if gap < share * slot.gap_days else "dose"
        return "too_soon" if gap < share * slot.gap_days else "dose"

    def add(self, day: dt.date, dose_mcg: float, kind: Kind) -> None:
        """Record an injection placed by `place`."""
        slot = self.pending
        if kind == "dose" and slot is not None:
            self.given.append(Given(slot=slot, due=self.due(slot), day=day))
        elif kind in EXTRA_KINDS:
            self.extras.append(Extra(day=day, kind=kind, pending=slot, after=self.last))
        self._per_day[day] = self._per_day.get(day, 0.0) + dose_mcg
        self.last = day if self.last is None else max(self.last, day)
        if kind == "before_plan" or (self.days and self.days[-1] == day):
            return
        self.days.append(day)
        after = self.pending
        if after is not None and after.stage is Stage.MAINTENANCE and after.gap_days > 0:
            self.cycles.append((day, after.gap_days))

    def cycle_end(self, first: dt.date) -> dt.date | None:
        """The next injection day after `first`, which ends the cycle that `first` began."""
        return next((d for d in self.days if d > first), None)


def build_course(record: TreatmentRecord, rules: RuleSet, on: dt.date | None = None) -> Course:
    """The current plan's course with every injection given by `on` (all of them when None) laid on it."""
    course = Course(current_version(record, on), rules)
    for adm in injections(record, on):
        course.add(adm.day, adm.dose_mcg, course.place(adm.day, adm.dose_mcg))
    return course
