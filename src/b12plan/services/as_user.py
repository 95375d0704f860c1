"""The patient-record use cases as a signed-in user: the web pages, the JSON API and CDS Hooks call these.

Every function takes the acting user (`accounts.Actor`) and checks the access policy before it reads or
writes anything, so a route that forgot a check still cannot leak a record. The work itself is done by
`b12plan.services.records` and `b12plan.services`; this module adds who may, and nothing clinical.

To a user who is not an admin, a patient id that does not exist and one they may not see are refused the
same way (`ForbiddenError`, `patient: ...`): the answer never tells which ids exist.

`store` is opened for the acting user (`Store(engine, actor=actor.username)`), so the audit log names them.
`now` is the local wall-clock time (the app's clock; injected by tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from b12plan import services
from b12plan.domain import followup
from b12plan.domain.plan import Plan
from b12plan.errors import FieldProblem, ForbiddenError, UnknownPatientError, UserError
from b12plan.rulebook import load_ruleset
from b12plan.services import records
from b12plan.services.accounts import (
    Action,
    Actor,
    Role,
    can_add_patient,
    can_list_patients,
    can_plan,
    feed_signature,
    feed_signature_ok,
    may,
    require,
)
from b12plan.store import PatientFile, PatientInfo, Store, StoredPlanVersion, StoredVial

__all__ = [
    "PlanVersionView",
    "add_diary",
    "add_lab",
    "add_patient",
    "calendar_feed",
    "due_list",
    "feed_query",
    "give_dose",
    "open_vial",
    "overview",
    "patient",
    "patient_file",
    "patients",
    "plan_version",
    "plan_versions",
    "preview_plan",
    "review",
    "save_plan",
]

_NOT_YOURS = "no patient by that id that you can see"
_WHAT = {
    Action.READ: "see this patient's record",
    Action.DIARY: "add to this patient's symptom diary",
    Action.GIVE_DOSE: "record a dose for this patient",
    Action.CLINICAL: "change this patient's plan, labs or vials: a clinician does",
}


def patient(store: Store, actor: Actor, ref: str, action: Action = Action.READ) -> PatientInfo:
    """The patient `ref`, if `actor` may do `action` to their record; else ForbiddenError (or, for an
    admin, UnknownPatientError when there is no such patient)."""
    if actor.role is Role.PATIENT and ref != actor.patient_ref:
        raise ForbiddenError(_NOT_YOURS, field="patient")
    with store.transaction(write=False) as rows:
        found = rows.find_patient(ref)
    if found is None:
        if actor.role is Role.ADMIN:
            raise UnknownPatientError([FieldProblem("patient", f"no patient {ref!r} in this database")])
        raise ForbiddenError(_NOT_YOURS, field="patient")
    if not may(actor, Action.READ, found):
        raise ForbiddenError(_NOT_YOURS, field="patient")
    require(may(actor, action, found), f"you may not {_WHAT[action]}", field="patient")
    return found


# -- patients ----------------------------------------------------------------------------------------------


def patients(store: Store, actor: Actor) -> list[PatientInfo]:
    """The patients `actor` may list: an admin everyone, a clinician their clinic's."""
    require(can_list_patients(actor), "the patient list is for clinicians and admins")
    clinic = None if actor.role is Role.ADMIN else actor.clinic
    return records.list_patients(store, clinic=clinic)


def add_patient(
    store: Store, actor: Actor, ref: str | None, *, name: str | None, clinic: str | None
) -> PatientInfo:
    """Add a patient; a clinician adds to their own clinic (the default), an admin to any."""
    chosen = (clinic or "").strip() or None
    if actor.role is Role.CLINICIAN and chosen is None:
        chosen = actor.clinic
    require(
        can_add_patient(actor, chosen),
        "a clinician adds patients to their own clinic" if actor.role is Role.CLINICIAN else "not allowed",
        field="clinic",
    )
    return records.add_patient(store, ref or None, name=(name or "").strip() or None, clinic=chosen)


def overview(store: Store, actor: Actor, ref: str, *, now: dt.datetime) -> records.PatientOverview:
    """One patient's record at a glance: what is stored, the current plan and the next dose on `now`."""
    patient(store, actor, ref)
    return records.show_patient(store, ref, now=now)


def patient_file(store: Store, actor: Actor, ref: str) -> PatientFile:
    """Everything stored about one patient."""
    found = patient(store, actor, ref)
    with store.transaction(write=False) as rows:
        return rows.patient_file(found)


# -- plans -------------------------------------------------------------------------------------------------


def preview_plan(
    actor: Actor,
    case: dict[str, Any],
    *,
    today: dt.date,
    ruleset: str | None = None,
    horizon_months: int = 12,
) -> Plan:
    """Plan a case without saving it (the planner, the wizard's live preview): clinicians and admins."""
    require(can_plan(actor), "planning is for clinicians and admins")
    return services.plan_document(case, today=today, ruleset=ruleset, horizon_months=horizon_months)


def save_plan(
    store: Store,
    actor: Actor,
    ref: str,
    case: dict[str, Any],
    *,
    reason: str | None,
    now: dt.datetime,
) -> tuple[Plan, StoredPlanVersion]:
    """Plan `case` and save it as the patient's next plan version (a second or later one needs a reason)."""
    patient(store, actor, ref, Action.CLINICAL)
    return records.plan_for_patient(store, ref, case, today=now.date(), reason=reason, now=now)


@dataclass(frozen=True)
class PlanVersionView:
    """A stored plan version with its plan as a value."""

    stored: StoredPlanVersion
    plan: Plan


def plan_versions(store: Store, actor: Actor, ref: str) -> tuple[StoredPlanVersion, ...]:
    return patient_file(store, actor, ref).plan_versions


def plan_version(store: Store, actor: Actor, ref: str, version: int | None = None) -> PlanVersionView:
    """One plan version (default: the current one, the latest saved)."""
    versions = plan_versions(store, actor, ref)
    chosen = versions[-1] if versions and version is None else None
    chosen = chosen or next((v for v in versions if v.version == version), None)
    if chosen is None:
        problem = "has no saved plan yet" if not versions else f"has no plan version {version}"
        raise UserError([FieldProblem("version" if versions else "patient", f"{ref} {problem}")])
    return PlanVersionView(chosen, records.stored_plan(chosen))


# -- doses, labs, diary ------------------------------------------------------------------------------------


def give_dose(
    store: Store,
    actor: Actor,
    ref: str,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    dose: str | None = None,
    route: str | None = None,
    site: str | None = None,
    lot: str | None = None,
    expiry: dt.date | None = None,
    vial: int | None = None,
    product: str | None = None,
) -> records.GivenDose:
    """Record a dose given (`records.give_dose`), given by the acting user (`self` for a patient)."""
    patient(store, actor, ref, Action.GIVE_DOSE)
    return records.give_dose(
        store,
        ref,
        at=at,
        dose=dose,
        route=route,
        site=site,
        lot=lot,
        expiry=expiry,
        vial=vial,
        product=product,
        given_by=actor.given_by,
        now=now,
    )


def open_vial(
    store: Store,
    actor: Actor,
    ref: str,
    *,
    now: dt.datetime,
    product: str | None = None,
    opened: dt.date | None = None,
    lot: str | None = None,
    expiry: dt.date | None = None,
) -> StoredVial:
    """Record a multi-dose vial opened for the patient (`records.open_vial`): a clinician's entry."""
    patient(store, actor, ref, Action.CLINICAL)
    return records.open_vial(store, ref, product=product, opened=opened, lot=lot, expiry=expiry, now=now)


def add_lab(
    store: Store,
    actor: Actor,
    ref: str,
    *,
    test: str,
    value: str | float,
    unit: str | None,
    date: dt.date | None,
    upper_limit: float | None = None,
    lower_limit: float | None = None,
    now: dt.datetime,
) -> followup.LabEntry:
    patient(store, actor, ref, Action.CLINICAL)
    return records.add_lab(
        store,
        ref,
        test,
        value,
        unit,
        date=date,
        upper_limit=upper_limit,
        lower_limit=lower_limit,
        now=now,
    )


def add_diary(
    store: Store,
    actor: Actor,
    ref: str,
    scores: Mapping[str, int | str],
    *,
    date: dt.date | None,
    now: dt.datetime,
) -> list[followup.SymptomEntry]:
    """Record diary scores (symptom code -> 0-10) for one day, all or none: every score is checked first."""
    found = patient(store, actor, ref, Action.DIARY)
    day = date or now.date()
    if day > now.date():
        raise UserError([FieldProblem("date", f"{day.isoformat()} is in the future")])
    if not scores:
        raise UserError([FieldProblem("score", "score at least one symptom from 0 (none) to 10 (worst)")])
    checked = [records.check_symptom(symptom, score) for symptom, score in scores.items()]
    with store.transaction() as rows:
        for code, number in checked:
            rows.add_symptom(found.id, scored_on=day, symptom=code.value, score=number)
    return [followup.SymptomEntry(date=day, symptom=code, score=number) for code, number in checked]


# -- reviews and calendar feeds ----------------------------------------------------------------------------


def review(store: Store, actor: Actor, ref: str, *, on: dt.date) -> followup.Review:
    """The follow-up review on `on`: next dose, adherence, response, symptom cycle, mistakes, next steps."""
    patient(store, actor, ref)
    return records.review_patient(store, ref, on=on)


def feed_query(store: Store, actor: Actor, ref: str, *, secret: str) -> str:
    """The query (`sig=...`) of a patient's private calendar feed URL, for those who may read the record."""
    patient(store, actor, ref)
    return f"sig={feed_signature(secret, ref)}"


def calendar_feed(
    store: Store, ref: str, signature: str, *, secret: str, tz: str
) -> tuple[bytes, StoredPlanVersion]:
    """The current plan's calendar (ICS) for a feed URL: the signature is the whole access check (a phone's
    calendar cannot sign in). Its stamp is when the plan version was saved, so the feed changes only with a
    new version, and the calendar id is the patient id, so a new version replaces the events it updates."""
    if not feed_signature_ok(secret, ref, signature):
        raise ForbiddenError(
            "this calendar link is not valid; copy it again from the patient page", field="sig"
        )
    with store.transaction(write=False) as rows:
        found = rows.find_patient(ref)
        versions = rows.patient_file(found).plan_versions if found else ()
    if not versions:
        raise UserError([FieldProblem("patient", f"{ref} has no saved plan yet")])
    current = versions[-1]
    plan = records.stored_plan(current)
    stamp = current.created_at.astimezone(dt.UTC)  # local wall-clock time as stored (store/tables.py)
    ics = services.render_plan(plan, "ics", tz=tz, calendar_id=ref, now=stamp)
    assert isinstance(ics, bytes)
    return ics, current


def due_list(store: Store, actor: Actor, *, on: dt.date) -> list[records.DueEntry]:
    """Patients with a dose due or overdue on `on` that `actor` may list, most overdue first."""
    require(can_list_patients(actor), "the due list is for clinicians and admins")
    clinic = None if actor.role is Role.ADMIN else actor.clinic
    with store.transaction(write=False) as rows:
        files = rows.patient_files(rows.patients(clinic=clinic))
    entries: list[records.DueEntry] = []
    for file in files:
        latest = file.latest_plan
        if latest is None:
            continue
        due = followup.next_due(records.to_treatment_record(file), load_ruleset(latest.ruleset), on)
        if due is not None and due.due <= on:
            entries.append(records.DueEntry(file.patient, due, due.days_late))
    return sorted(entries, key=lambda e: (-e.days_late, e.patient.ref))
