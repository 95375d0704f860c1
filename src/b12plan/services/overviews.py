"""What the pages show, read for a signed-in user: the clinic dashboard, a patient's page, the interval
review report, the injection form and the series the charts draw. Each checks access first
(`as_user.patient`, `accounts.can_list_patients`) and reads the store in one transaction.

Nothing clinical is decided here: due doses, reviews and symptom cycles come from `domain.followup`;
this module gathers them per patient and per clinic. A planned test counts as awaited from its day until
a result of that test is recorded, taken after the previous planned test of that kind (or on or after the
plan's start for the first).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from b12plan.domain import followup, units
from b12plan.domain.codes import AlertLevel, EventKind, LabTest, Route, Stage
from b12plan.domain.plan import Event, Phase, Plan, RulesetRef
from b12plan.domain.rules import RuleSet
from b12plan.rulebook import load_ruleset, load_sites
from b12plan.services import as_user, records
from b12plan.services.accounts import Action, Actor, Role, can_list_patients, require
from b12plan.store import PatientFile, PatientInfo, Store, StoredLab, StoredVial

__all__ = [
    "AwaitedTest",
    "Board",
    "BoardAlert",
    "BoardCache",
    "BoardDose",
    "ChartData",
    "DoseForm",
    "IntervalReport",
    "PatientPage",
    "Series",
    "awaited_tests",
    "chart_data",
    "clinic_board",
    "dose_form",
    "interval_report",
    "patient_page",
]

_ALERT_LEVELS = (AlertLevel.CRITICAL, AlertLevel.WARNING)


@dataclass(frozen=True)
class AwaitedTest:
    """Tests planned for `planned_on` (on or before today) with no result recorded yet."""

    planned_on: dt.date
    tests: tuple[LabTest, ...]
    note: str | None


def _plan(file: PatientFile) -> Plan | None:
    latest = file.latest_plan
    return records.stored_plan(latest) if latest else None


def awaited_tests(plan: Plan, labs: Sequence[StoredLab], on: dt.date) -> list[AwaitedTest]:
    """The plan's tests due by `on` whose result is not in `labs` (see the module docstring)."""
    taken: dict[str, list[dt.date]] = {}
    for lab in labs:
        taken.setdefault(lab.test, []).append(lab.taken_on)
    last_planned: dict[LabTest, dt.date] = {}
    found: list[AwaitedTest] = []
    for event in sorted(plan.events, key=lambda e: e.date):
        if event.kind is not EventKind.TEST or not event.tests or event.date > on:
            continue
        missing: list[LabTest] = []
        for test in event.tests:
            after = last_planned.get(test)
            if not any(
                (day > after if after else day >= plan.generated_for) and day <= on
                for day in taken.get(test.value, [])
            ):
                missing.append(test)
            last_planned[test] = event.date
        if missing:
            found.append(AwaitedTest(event.date, tuple(missing), event.note))
    return found


# -- the clinic dashboard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardDose:
    patient: PatientInfo
    due: followup.DueDose


@dataclass(frozen=True)
class BoardAlert:
    patient: PatientInfo
    level: AlertLevel
    code: str
    message: str


@dataclass(frozen=True)
class Board:
    """One clinic's (an admin: every clinic's) day: doses due, overdue, alerts and results awaited."""

    on: dt.date
    clinic: str | None
    patients: int
    due: list[BoardDose]
    overdue: list[BoardDose]
    alerts: list[BoardAlert]
    awaited: list[tuple[PatientInfo, AwaitedTest]]
    without_plan: list[PatientInfo]


class BoardCache:
    """Clinic boards kept per database, clinic and day, each with the store's change marker
    (`Records.change_marker`) read in the transaction that read its records.

    A board is given out again only while the marker read now is the same, that is while nothing has been
    committed to the records since, by this process or any other sharing the database: never stale, however
    many processes share the store. Every request still reads the marker (one indexed query); a change
    anywhere costs each board one recomputation. Boards are shared by the requests that ask for them: never
    change one in place. Thread-safe; the `size` most recently used boards are kept.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._boards: OrderedDict[tuple[str, str | None, dt.date], tuple[str, Board]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str | None, dt.date], marker: str) -> Board | None:
        with self._lock:
            kept = self._boards.get(key)
            if kept is None or kept[0] != marker:
                return None
            self._boards.move_to_end(key)
            return kept[1]

    def put(self, key: tuple[str, str | None, dt.date], marker: str, board: Board) -> None:
        with self._lock:
            self._boards[key] = (marker, board)
            self._boards.move_to_end(key)
            while len(self._boards) > self.size:
                self._boards.popitem(last=False)


def clinic_board(store: Store, actor: Actor, *, on: dt.date, cache: BoardCache | None = None) -> Board:
    """The dashboard for `on`. Alerts are the current plan's critical alerts and the follow-up review's
    critical and warning findings (an overdue dose is listed under overdue, not again as an alert).

    With `cache`, a board read earlier is given again while the records have not changed (`BoardCache`)."""
    require(can_list_patients(actor), "the clinic dashboard is for clinicians and admins")
    clinic = None if actor.role is Role.ADMIN else actor.clinic
    key = (store.url.render_as_string(hide_password=True), clinic, on)
    with store.transaction(write=False) as rows:
        marker = rows.change_marker() if cache is not None else ""
        kept = cache.get(key, marker) if cache is not None else None
        if kept is not None:
            return kept
        files = rows.patient_files(rows.patients(clinic=clinic))
    board = _board(files, clinic, on)
    if cache is not None:
        cache.put(key, marker, board)
    return board


def _board(files: Sequence[PatientFile], clinic: str | None, on: dt.date) -> Board:
    rules: dict[str, RuleSet] = {}
    due: list[BoardDose] = []
    overdue: list[BoardDose] = []
    alerts: list[BoardAlert] = []
    awaited: list[tuple[PatientInfo, AwaitedTest]] = []
    without: list[PatientInfo] = []
    for file in files:
        latest, plan = file.latest_plan, _plan(file)
        if latest is None or plan is None:
            without.append(file.patient)
            continue
        ruleset = rules.setdefault(latest.ruleset, load_ruleset(latest.ruleset))
        found = followup.review(records.to_treatment_record(file), ruleset, on)
        if found.next_due is not None and found.next_due.due <= on:
            entry = BoardDose(file.patient, found.next_due)
            (overdue if found.next_due.status == "overdue" else due).append(entry)
        alerts += [
            BoardAlert(file.patient, a.level, a.code, a.message)
            for a in plan.alerts
            if a.level is AlertLevel.CRITICAL
        ]
        alerts += [
            BoardAlert(file.patient, f.level, f.code, f.message)
            for f in found.findings
            if f.level in _ALERT_LEVELS and f.code != "DOSE_OVERDUE"
        ]
        awaited += [(file.patient, a) for a in awaited_tests(plan, file.labs, on)]
    order = {AlertLevel.CRITICAL: 0, AlertLevel.WARNING: 1, AlertLevel.INFO: 2}
    return Board(
        on=on,
        clinic=clinic,
        patients=len(files),
        due=sorted(due, key=lambda d: (d.due.due, d.patient.ref)),
        overdue=sorted(overdue, key=lambda d: (-d.due.days_late, d.patient.ref)),
        alerts=sorted(alerts, key=lambda a: (order[a.level], a.patient.ref)),
        awaited=sorted(awaited, key=lambda p: (p[1].planned_on, p[0].ref)),
        without_plan=without,
    )


# -- one patient -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientPage:
    """A patient's page: the record, the current plan, the next dose, the review and the timeline."""

    file: PatientFile
    plan: Plan | None
    next_due: followup.DueDose | None
    review: followup.Review | None
    timeline: list[records.TimelineEntry]
    awaited: list[AwaitedTest]
    upcoming: list[Event]
    may_write: bool


def patient_page(store: Store, actor: Actor, ref: str, *, now: dt.datetime) -> PatientPage:
    found = as_user.patient(store, actor, ref)
    with store.transaction(write=False) as rows:
        file = rows.patient_file(found)
    plan, latest, today = _plan(file), file.latest_plan, now.date()
    review = None
    if plan is not None and latest is not None:
        review = followup.review(records.to_treatment_record(file), load_ruleset(latest.ruleset), today)
    upcoming = [e for e in plan.events if e.date >= today][:8] if plan else []
    return PatientPage(
        file=file,
        plan=plan,
        next_due=review.next_due if review else None,
        review=review,
        timeline=records.timeline(file),
        awaited=awaited_tests(plan, file.labs, today) if plan else [],
        upcoming=upcoming,
        may_write=actor.role is not Role.PATIENT,
    )


@dataclass(frozen=True)
class DoseForm:
    """What the injection form offers: the dose due, the sites (the suggested one first to hand) and the
    open vials of this patient that are not past their discard day."""

    patient: PatientInfo
    due: followup.DueDose | None
    route: Route
    sites: tuple[followup.Site, ...]
    suggested_site: str | None
    vials: list[StoredVial]


def dose_form(store: Store, actor: Actor, ref: str, *, now: dt.datetime) -> DoseForm:
    found = as_user.patient(store, actor, ref, Action.GIVE_DOSE)
    with store.transaction(write=False) as rows:
        file = rows.patient_file(found)
    latest, today = file.latest_plan, now.date()
    record = records.to_treatment_record(file)
    due = followup.next_due(record, load_ruleset(latest.ruleset), today) if latest else None
    route = due.route if due else Route.IM
    sites = load_sites()
    fitting = [s.id for s in sites if s.takes(route)]
    vials = [v for v in file.vials if v.discard_on > today and v.volume_left_ml > 0]
    return DoseForm(
        patient=found,
        due=due,
        route=route,
        sites=sites,
        suggested_site=followup.suggest_site(record, fitting) if fitting else None,
        vials=vials,
    )


# -- the interval review report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalReport:
    """Symptom scores by day since the injection that began each maintenance cycle, averaged across cycles,
    beside the plan's maintenance interval and the range the rule set allows for it: for the clinician
    deciding whether injections should be more frequent."""

    patient: PatientInfo
    on: dt.date
    ruleset: RulesetRef | None
    plan_version: int | None
    maintenance: Phase | None
    cycle: followup.SymptomCycle | None

    @property
    def interval_days(self) -> float | None:
        return self.maintenance.interval_days if self.maintenance else None

    @property
    def range_days(self) -> tuple[int, int] | None:
        return self.maintenance.interval_range_days if self.maintenance else None


def interval_report(store: Store, actor: Actor, ref: str, *, on: dt.date) -> IntervalReport:
    found = as_user.patient(store, actor, ref)
    with store.transaction(write=False) as rows:
        file = rows.patient_file(found)
    plan, latest = _plan(file), file.latest_plan
    if plan is None or latest is None:
        return IntervalReport(found, on, None, None, None, None)
    phases = plan.regimen.phases if plan.regimen else []
    maintenance = next(
        (p for p in phases if p.stage is Stage.MAINTENANCE and p.route is not Route.ORAL), None
    )
    rules = load_ruleset(latest.ruleset)
    cycle = followup.symptom_cycle(records.to_treatment_record(file), rules, on)
    return IntervalReport(found, on, plan.ruleset, latest.version, maintenance, cycle)


# -- chart series ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Dated values of one measure in one unit (for people: `unit` as shown on an axis)."""

    label: str
    unit: str
    points: tuple[tuple[dt.date, float], ...]


@dataclass(frozen=True)
class ChartData:
    hb: Series
    mcv: Series
    symptoms: dict[str, Series]
    injections: tuple[dt.date, ...]


def _lab_series(labs: Sequence[StoredLab], test: LabTest, label: str) -> Series:
    unit = units.default_unit(test)
    points = [
        (lab.taken_on, units.convert(test, lab.value_num, lab.unit, unit))
        for lab in labs
        if lab.test == test.value and lab.value_num is not None
    ]
    return Series(label, unit or "", tuple(points))


def chart_data(file: PatientFile) -> ChartData:
    """Hb (in g/L) and MCV (fL) results, diary scores (0-10) by symptom, and the days injections were
    given, from one patient's record."""
    symptoms: dict[str, list[tuple[dt.date, float]]] = {}
    for entry in file.symptoms:
        symptoms.setdefault(entry.symptom, []).append((entry.scored_on, float(entry.score)))
    return ChartData(
        hb=_lab_series(file.labs, LabTest.HB, "Haemoglobin"),
        mcv=_lab_series(file.labs, LabTest.MCV, "Mean cell volume"),
        symptoms={
            name: Series(name.replace("_", " "), "score 0-10", tuple(points))
            for name, points in sorted(symptoms.items())
        },
        injections=tuple(sorted({a.at.date() for a in file.administrations if a.route != Route.ORAL.value})),
    )
