"""Use cases of the patient record: patients, plan versions, doses, vials, labs, symptom diary, the due
list, reviews and the timeline. The CLI and the web app call these; they hold no SQL and no clinical rule.

Every function is one transaction: it checks everything first and refuses bad input with `field: problem`
(UserError) before writing anything, so a refused command changes nothing. Clinical judgement comes from
`b12plan.domain.followup` (due dates, adherence, mistakes, reviews, dose checks), fed with the stored
record. `now` is the local wall-clock time (injected by tests); dates in the future are refused.

Export, import and backup live in `b12plan.services.record_files`.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from b12plan import services
from b12plan.domain import followup, units
from b12plan.domain.codes import LabTest, Route, Symptom
from b12plan.domain.plan import Plan
from b12plan.domain.products import Product, dose_volume_ml
from b12plan.domain.rules import PlausibleRule, RuleSet
from b12plan.errors import FieldProblem, UserError
from b12plan.rulebook import DEFAULT_RULESET, load_catalogue, load_ruleset, load_sites
from b12plan.store import PatientFile, PatientInfo, Store, StoredPlanVersion, StoredVial

__all__ = [
    "DueEntry",
    "GivenDose",
    "PatientOverview",
    "TimelineEntry",
    "add_lab",
    "add_patient",
    "add_symptom",
    "check_lab",
    "check_patient_id",
    "check_symptom",
    "due_list",
    "give_dose",
    "history",
    "list_patients",
    "new_ref",
    "open_vial",
    "parse_dose",
    "plan_for_patient",
    "review_patient",
    "save_plan_version",
    "show_patient",
    "stored_plan",
    "timeline",
    "to_treatment_record",
]

Progress = Callable[[int, int], None]
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now().replace(microsecond=0)


def _not_future(field: str, day: dt.date, now: dt.datetime) -> None:
    if day > now.date():
        raise UserError([FieldProblem(field, f"{day.isoformat()} is in the future")])


# -- the stored record as domain values ---------------------------------------------------------------------


PLAN_CACHE_SIZE = 256
"""Parsed plans kept per process (`stored_plan`): a clinic's current plans, each ~20 kB of JSON."""


@lru_cache(maxsize=PLAN_CACHE_SIZE)
def _parse_plan(plan_json: str) -> Plan:
    return Plan.model_validate_json(plan_json)


def stored_plan(version: StoredPlanVersion) -> Plan:
    """The plan of a stored plan version, parsed (and so validated) from its JSON text.

    Parsing is most of the cost of reading a record (the dashboard reads every current plan of a clinic), so
    parsed plans are kept by their text: the same text always parses to the same plan, whichever version,
    database or process it came from, so a kept plan can never be out of date. Plans are frozen values,
    shared by whoever asks: never change one in place.
    """
    return _parse_plan(version.plan_json)


def _plan(version: StoredPlanVersion) -> Plan:
    return stored_plan(version)


def to_treatment_record(file: PatientFile) -> followup.TreatmentRecord:
    """The stored record of one patient as the follow-up core reads it.

    Built with `model_construct`: every row was checked when it was written (the services, the import and
    the schema's constraints), and re-validating thousands of them made the due list slow. The plan is
    parsed (and so validated) from its JSON text.
    """
    return followup.TreatmentRecord.model_construct(
        plan_versions=tuple(
            followup.PlanVersion.model_construct(
                version=v.version, created_at=v.created_at, plan=_plan(v), reason=v.reason
            )
            for v in file.plan_versions
        ),
        administrations=tuple(
            followup.Administration.model_construct(
                at=a.at,
                dose_mcg=a.dose_mcg,
                route=Route(a.route),
                volume_ml=a.volume_ml,
                site=a.site,
                lot=a.lot,
                expiry=a.expiry,
                product_id=a.product_id,
                given_by=a.given_by,
                vial_id=a.vial_id,
            )
            for a in file.administrations
        ),
        labs=tuple(
            followup.LabEntry.model_construct(
                date=lab.taken_on, test=LabTest(lab.test), value=lab.value, unit=lab.unit
            )
            for lab in file.labs
        ),
        symptoms=tuple(
            followup.SymptomEntry.model_construct(date=s.scored_on, symptom=Symptom(s.symptom), score=s.score)
            for s in file.symptoms
        ),
        vials=tuple(
            followup.VialInUse.model_construct(
                id=v.id,
                product_id=v.product_id,
                opened=v.opened_on,
                volume_ml=v.volume_ml,
                volume_left_ml=v.volume_left_ml,
                discard_after_days=(v.discard_on - v.opened_on).days,
            )
            for v in file.vials
        ),
    )


def _rules_for(file: PatientFile) -> RuleSet:
    latest = file.latest_plan
    return load_ruleset(latest.ruleset if latest else DEFAULT_RULESET)


def _needs_plan(file: PatientFile) -> StoredPlanVersion:
    latest = file.latest_plan
    if latest is None:
        ref = file.patient.ref
        raise UserError(
            [
                FieldProblem(
                    "patient", f"{ref!r} has no saved plan; save one with `b12plan plan CASE --patient {ref}`"
                )
            ]
        )
    return latest


# -- patients -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientOverview:
    """One patient's record at a glance: what is stored, the current plan and the next dose."""

    file: PatientFile
    plan: Plan | None
    next_due: followup.DueDose | None


def check_patient_id(ref: str, field: str = "id") -> str:
    """A pseudonymous id as typed: 1-64 letters, digits, `.`, `_`, `-`; refused with `field: problem`."""
    ref = ref.strip()
    if not _REF.match(ref):
        raise UserError(
            [
                FieldProblem(
                    field, "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                )
            ]
        )
    return ref


def new_ref() -> str:
    """A fresh pseudonymous patient id such as `P-7K3QX9`: it carries nothing about the person."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(6))


def add_patient(
    store: Store, ref: str | None = None, *, name: str | None = None, clinic: str | None = None
) -> PatientInfo:
    """Add a patient under a pseudonymous id (`ref`, generated when not given); the name is optional."""
    chosen = check_patient_id(ref) if ref else new_ref()
    for field, text in (("name", name), ("clinic", clinic)):
        if text is not None and (not text.strip() or len(text) > 200):
            raise UserError([FieldProblem(field, "must be 1-200 characters")])
    with store.transaction() as records:
        return records.add_patient(chosen, name=name, clinic=clinic)


def list_patients(store: Store, *, clinic: str | None = None) -> list[PatientInfo]:
    with store.transaction(write=False) as records:
        return records.patients(clinic=clinic)


def show_patient(store: Store, ref: str, *, now: dt.datetime | None = None) -> PatientOverview:
    with store.transaction(write=False) as records:
        file = records.patient_file(records.patient(ref, field="patient"))
    latest = file.latest_plan
    if latest is None:
        return PatientOverview(file, None, None)
    due = followup.next_due(to_treatment_record(file), _rules_for(file), _now(now).date())
    return PatientOverview(file, _plan(latest), due)


# -- plan versions ------------------------------------------------------------------------------------------


def save_plan_version(
    store: Store,
    ref: str,
    *,
    case: dict[str, Any],
    plan: Plan,
    reason: str | None,
    now: dt.datetime | None = None,
) -> StoredPlanVersion:
    """Save `plan` (made from `case` by `services.plan_document`) as the patient's next plan version,
    in force from `now` (local time; the follow-up core reads the version made by a day as the plan then).

    A second or later version must say why the plan changed: the reason is part of the clinical record.
    """
    if reason is not None and not reason.strip():
        reason = None
    with store.transaction() as records:
        patient = records.patient(ref, lock=True, field="patient")
        if reason is None and records.patient_file(patient).plan_versions:
            raise UserError([FieldProblem("reason", "a new plan version needs the reason for the change")])
        return records.add_plan_version(
            patient.id,
            case=case,
            plan=plan.to_json_dict(),
            ruleset=plan.ruleset.id,
            reason=reason,
            created_at=_now(now),
        )


def plan_for_patient(
    store: Store,
    ref: str,
    case: dict[str, Any],
    *,
    today: dt.date,
    reason: str | None,
    ruleset: str | None = None,
    horizon_months: int = 12,
    now: dt.datetime | None = None,
) -> tuple[Plan, StoredPlanVersion]:
    """Plan a case (`services.plan_document`) and save the plan as the patient's next version."""
    plan = services.plan_document(case, today=today, ruleset=ruleset, horizon_months=horizon_months)
    return plan, save_plan_version(store, ref, case=case, plan=plan, reason=reason, now=now)


# -- doses and vials ----------------------------------------------------------------------------------------

# Micrograms in one of each unit (SI prefixes, not clinical numbers).
_MICROGRAMS_PER = {
    "mcg": 1,
    "ug": 1,
    "microgram": 1,
    "micrograms": 1,
    "mg": 1000,
    "milligram": 1000,
    "milligrams": 1000,
}
_NOT_A_DOSE = {
    "ml": "a volume",
    "l": "a volume",
    "cc": "a volume",
    "unit": "syringe units",
    "units": "syringe units",
}
_DOSE = re.compile(r"^\s*(?P<number>[0-9]+(?:[.,][0-9]+)?)\s*(?P<unit>[^\s0-9].*?)?\s*$")


def parse_dose(text: str, *, field: str = "dose") -> float:
    """A dose in micrograms from `1000mcg`, `1000 µg` or `1 mg`. A bare number, a volume (`1 mL`) or any
    other unit is refused: the volume follows from the dose and the product, never the other way round."""
    match = _DOSE.match(text)
    if match is None:
        raise UserError([FieldProblem(field, f"{text!r} is not a dose; write e.g. 1000mcg or 1mg")])
    number = float(match["number"].replace(",", "."))
    unit = (match["unit"] or "").strip().lower().replace("µ", "u").replace("μ", "u")
    if not unit:
        raise UserError([FieldProblem(field, f"{text!r} has no unit; write e.g. {match['number']}mcg")])
    if unit in _NOT_A_DOSE:
        raise UserError(
            [
                FieldProblem(
                    field,
                    f"{match['unit']!r} is {_NOT_A_DOSE[unit]}, not a dose; give micrograms (mcg) or "
                    "milligrams (mg): the volume is worked out from the product",
                )
            ]
        )
    if unit not in _MICROGRAMS_PER:
        raise UserError([FieldProblem(field, f"{match['unit']!r} is not a unit of dose; use mcg or mg")])
    dose = number * _MICROGRAMS_PER[unit]
    if not math.isfinite(dose) or dose <= 0:
        raise UserError([FieldProblem(field, "must be more than zero")])
    return dose


@dataclass(frozen=True)
class GivenDose:
    """A dose recorded: the administration as stored, what is left in its vial, and the site to use next."""

    administration: followup.Administration
    id: int
    vial_left_ml: float | None
    next_site: str | None


def _product_of(plan: Plan, product_id: str | None) -> tuple[str | None, Product | None]:
    """The product a dose is drawn from: the given id, else the plan's product in hand."""
    catalogue = load_catalogue()
    if product_id:
        try:
            return product_id, catalogue.get(product_id)
        except UserError as exc:
            raise UserError([FieldProblem("product_id", p.problem) for p in exc.problems]) from None
    if plan.regimen is None:
        return None, None
    in_hand = plan.regimen.product
    if in_hand.id and in_hand.id in catalogue.ids():
        return in_hand.id, catalogue.get(in_hand.id)
    described = in_hand.model_dump(include=set(Product.model_fields))
    container = "vial" if in_hand.multi_dose else "ampoule"
    return in_hand.id, Product.model_validate({**described, "container": container})


def _volume(dose_mcg: float, product: Product | None) -> float | None:
    """mL of the product that hold the dose, to the syringe's resolution (`products.dose_volume_ml`)."""
    if product is None or product.strength_mcg_per_ml is None:
        return None
    try:
        return dose_volume_ml(dose_mcg, product, load_catalogue().defaults.syringe)
    except ValueError as exc:
        raise UserError([FieldProblem("dose", str(exc))]) from None


def _ml(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _route(text: str) -> Route:
    for route in Route:
        if text.strip().lower() == route.value.lower():
            return route
    raise UserError([FieldProblem("route", f"{text!r} is not a route; use IM, SC or oral")])


def give_dose(
    store: Store,
    ref: str,
    *,
    at: dt.datetime | None = None,
    dose: str | None = None,
    route: str | None = None,
    site: str | None = None,
    lot: str | None = None,
    expiry: dt.date | None = None,
    vial: int | None = None,
    product: str | None = None,
    given_by: str | None = None,
    now: dt.datetime | None = None,
) -> GivenDose:
    """Record one dose given. Defaults: now, the dose and route due in the plan, given by the acting user
    (`self` for a dose the patient gave themselves); the volume follows from the dose and the product.

    Refused, with nothing written (`field: problem`, fields named as in `followup.Administration`): an
    unknown patient, a dose not in mcg or mg, and everything `followup.check_administration` refuses: a
    time in the future, an unknown site or one not used for the route, an expired product, a vial past its
    discard day or with too little left, a doubled dose.
    """
    clock = _now(now)
    when = at or clock
    dose_mcg = parse_dose(dose, field="dose") if dose is not None else None
    chosen_route = _route(route) if route else None
    with store.transaction() as records:
        patient = records.patient(ref, lock=True, field="patient")
        file = records.patient_file(patient)
        plan, rules = _plan(_needs_plan(file)), _rules_for(file)
        record = to_treatment_record(file)
        due = followup.next_due(record, rules, when.date())
        drawn_from = records.vial(vial, patient.id, field="vial_id") if vial is not None else None
        product_id, product_def = _product_of(
            plan, product or (drawn_from.product_id if drawn_from else None)
        )
        if due is None and (dose_mcg is None or chosen_route is None):
            missing = "dose" if dose_mcg is None else "route"
            raise UserError([FieldProblem(missing, f"no injection is due in the plan: give the {missing}")])
        if due is not None:
            dose_mcg = dose_mcg if dose_mcg is not None else due.dose_mcg
            chosen_route = chosen_route or due.route
        assert dose_mcg is not None
        assert chosen_route is not None
        volume = _volume(dose_mcg, product_def) if chosen_route is not Route.ORAL else None
        administration = followup.Administration(
            at=when,
            dose_mcg=dose_mcg,
            route=chosen_route,
            volume_ml=volume,
            site=site.strip().lower() if site else None,
            lot=lot or (drawn_from.lot if drawn_from else None),
            expiry=expiry or (drawn_from.expiry if drawn_from else None),
            product_id=product_id,
            given_by=given_by or records.actor,
            vial_id=vial,
        )
        sites = load_sites()
        problems = followup.check_administration(
            administration, record, rules, load_catalogue(), clock, sites=sites
        )
        if problems:
            raise UserError(problems)
        stored = records.add_administration(
            patient.id, route=administration.route.value, **administration.model_dump(exclude={"route"})
        )
        left = None
        if drawn_from is not None and volume is not None:
            left = _ml(drawn_from.volume_left_ml - volume)
            records.set_vial_left(drawn_from, left)
    after = record.model_copy(update={"administrations": (*record.administrations, administration)})
    fitting = [s.id for s in sites if s.takes(chosen_route)]
    next_site = followup.suggest_site(after, fitting) if fitting else None
    return GivenDose(administration, stored.id, left, next_site)


def open_vial(
    store: Store,
    ref: str,
    *,
    product: str | None = None,
    opened: dt.date | None = None,
    lot: str | None = None,
    expiry: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StoredVial:
    """Record a multi-dose vial opened (first puncture) for one patient.

    Its discard day, the first day it may no longer be used, is `discard_after_days` after opening (the
    product's, else the catalogue default: 28 days, CDC), or the day after the label's expiry if sooner.
    """
    clock = _now(now)
    day = opened or clock.date()
    _not_future("opened", day, clock)
    if expiry is not None and expiry < day:
        raise UserError([FieldProblem("expiry", f"{expiry.isoformat()} is before the vial was opened")])
    with store.transaction() as records:
        patient = records.patient(ref, lock=True, field="patient")
        product_id, product_def = _product_of(_plan(_needs_plan(records.patient_file(patient))), product)
        if product_def is None or product_id is None or not product_def.multi_dose:
            what = product_id or "the plan's product"
            problem = (
                f"{what} is not a multi-dose vial from the catalogue; only those are tracked once opened"
            )
            raise UserError([FieldProblem("product_id", problem)])
        keep = product_def.discard_after_days or load_catalogue().defaults.multi_dose_discard_after_days
        discard = day + dt.timedelta(days=keep)
        if expiry is not None:
            discard = min(discard, expiry + dt.timedelta(days=1))
        assert product_def.container_ml is not None  # a catalogue vial always says its size
        return records.open_vial(
            patient.id,
            product_id=product_id,
            opened_on=day,
            volume_ml=product_def.container_ml,
            discard_on=discard,
            lot=lot,
            expiry=expiry,
        )


# -- labs and symptoms --------------------------------------------------------------------------------------


def _field(where: str | None, name: str) -> str:
    """`value` for one entry, `labs[2].value` in an imported file."""
    return name if where is None else f"{where}.{name}"


def _lab_test(text: str, where: str | None) -> LabTest:
    from b12plan.domain.codes import LOINC_ALIASES

    code = text.strip()
    if code in LOINC_ALIASES:
        return LOINC_ALIASES[code]
    for test in LabTest:
        if code.lower() == test.value:
            return test
    known = ", ".join(t.value for t in LabTest)
    problem = f"{text!r} is not a known test; use one of {known} (or a LOINC code)"
    raise UserError([FieldProblem(_field(where, "test"), problem)])


def check_lab(
    test_text: str, value_text: str | float, unit: str | None, rules: RuleSet, *, where: str | None = None
) -> tuple[LabTest, float | str, str | None]:
    """A lab entry checked like a case's `labs[]`: test code, value, unit (`domain.units`), plausibility.

    `where` names the entry in messages (`labs[2]`); the command line's argument names when None.
    """
    test = _lab_test(test_text, where)
    value_field, unit_field = _field(where, "value"), _field(where, "unit")
    value: float | str
    text = str(value_text).strip().lower()
    if text in ("positive", "negative"):
        if test is not LabTest.IFAB:
            raise UserError([FieldProblem(value_field, f"{text!r} is only for ifab; give a number")])
        return test, text, None
    if test is LabTest.IFAB:
        raise UserError([FieldProblem(value_field, "ifab is reported as positive or negative")])
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise UserError([FieldProblem(value_field, f"{value_text!r} is not a number")]) from None
    if not math.isfinite(value) or value < 0:
        raise UserError([FieldProblem(value_field, "must be a number, zero or more")])
    try:
        canonical = units.check_unit(test, unit)
    except units.UnitProblem as exc:
        raise UserError([FieldProblem(unit_field, str(exc))]) from None
    for limits in rules.of(PlausibleRule):
        rule_unit = None if test is LabTest.INR else limits.unit
        if limits.test is not test or not units.same_dimension(test, canonical, rule_unit):
            continue
        in_rule_unit = value if test is LabTest.INR else units.convert(test, value, canonical, rule_unit)
        if not limits.min < in_rule_unit <= limits.max:
            shown = units.format_quantity(value, canonical)
            raise UserError(
                [
                    FieldProblem(
                        value_field,
                        f"{shown} is not a plausible {test.value} (must be above {limits.min:g} and at most "
                        f"{limits.max:g} {limits.unit}); check the entry [{limits.id}]",
                    )
                ]
            )
    return test, value, canonical


def add_lab(
    store: Store,
    ref: str,
    test: str,
    value: str | float,
    unit: str | None,
    *,
    date: dt.date | None = None,
    upper_limit: float | None = None,
    lower_limit: float | None = None,
    now: dt.datetime | None = None,
) -> followup.LabEntry:
    """Record a lab result: same test codes (or LOINC) and units as the case contract; refused when the unit
    is not one for the test, the value is implausible or the date is in the future."""
    clock = _now(now)
    day = date or clock.date()
    _not_future("date", day, clock)
    for field, limit in (("upper_limit", upper_limit), ("lower_limit", lower_limit)):
        if limit is not None and not limit > 0:
            raise UserError([FieldProblem(field, "must be above zero")])
    with store.transaction() as records:
        patient = records.patient(ref, lock=True, field="patient")
        checked_test, checked_value, canonical = check_lab(
            test, value, unit, _rules_for(records.patient_file(patient))
        )
        records.add_lab(
            patient.id,
            taken_on=day,
            test=checked_test.value,
            value=checked_value,
            unit=canonical,
            upper_limit=upper_limit,
            lower_limit=lower_limit,
        )
    return followup.LabEntry(date=day, test=checked_test, value=checked_value, unit=canonical)


def check_symptom(symptom: str, score: int | str, *, where: str | None = None) -> tuple[Symptom, int]:
    """A symptom code of the case contract and a whole score from 0 (none) to 10 (worst)."""
    code = symptom.strip().lower()
    if code not in {s.value for s in Symptom}:
        known = ", ".join(s.value for s in Symptom)
        raise UserError(
            [FieldProblem(_field(where, "symptom"), f"{symptom!r} is not a symptom code; use one of {known}")]
        )
    try:
        number = int(str(score).strip())
    except ValueError:
        number = -1
    if not 0 <= number <= 10:
        raise UserError(
            [FieldProblem(_field(where, "score"), f"{score!r} is not a whole number from 0 to 10")]
        )
    return Symptom(code), number


def add_symptom(
    store: Store,
    ref: str,
    symptom: str,
    score: int | str,
    *,
    date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> followup.SymptomEntry:
    """Record a symptom diary score (0-10) for a day."""
    clock = _now(now)
    day = date or clock.date()
    _not_future("date", day, clock)
    code, number = check_symptom(symptom, score)
    with store.transaction() as records:
        patient = records.patient(ref, lock=True, field="patient")
        records.add_symptom(patient.id, scored_on=day, symptom=code.value, score=number)
    return followup.SymptomEntry(date=day, symptom=code, score=number)


# -- the due list, reviews and the timeline ----------------------------------------------------------------


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector during bulk work. Thousands of records held at once made each
    collection walk all of them (half the due list's time for 5,000 patients); the work makes no reference
    cycles, so reference counting frees everything as usual meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class DueEntry:
    """A patient with a dose due on or before the day asked about."""

    patient: PatientInfo
    due: followup.DueDose
    days_late: int


def due_list(store: Store, *, on: dt.date | None = None, progress: Progress | None = None) -> list[DueEntry]:
    """Everyone with a dose due or overdue on `on` (default today), most overdue first.

    Reads the whole store in one query per table (never one per patient), then asks the follow-up core.
    """
    day = on or _now(None).date()
    entries: list[DueEntry] = []
    rules_cache: dict[str, RuleSet] = {}
    with _bulk():
        with store.transaction(write=False) as records:
            files = records.patient_files()
        for done, file in enumerate(files, start=1):
            if progress and (done % 250 == 0 or done == len(files)):
                progress(done, len(files))
            latest = file.latest_plan
            if latest is None:
                continue
            if latest.ruleset not in rules_cache:
                rules_cache[latest.ruleset] = load_ruleset(latest.ruleset)
            due = followup.next_due(to_treatment_record(file), rules_cache[latest.ruleset], day)
            if due is not None and due.due <= day:
                entries.append(DueEntry(file.patient, due, due.days_late))
    return sorted(entries, key=lambda e: (-e.days_late, e.patient.ref))


def review_patient(store: Store, ref: str, *, on: dt.date | None = None) -> followup.Review:
    """The follow-up review of one patient on `on`: response checks, symptom course, mistakes, next steps."""
    day = on or _now(None).date()
    with store.transaction(write=False) as records:
        file = records.patient_file(records.patient(ref, field="patient"))
    _needs_plan(file)
    return followup.review(to_treatment_record(file), _rules_for(file), day)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a patient's history: when, what kind (plan, dose, vial, lab, symptom) and what."""

    at: dt.datetime
    kind: str
    summary: str


def timeline(file: PatientFile) -> list[TimelineEntry]:
    """A patient's stored record as one list in time order (ties: plan, vial, dose, lab, symptom)."""
    entries: list[tuple[dt.datetime, int, TimelineEntry]] = []

    def add(at: dt.datetime, order: int, kind: str, summary: str) -> None:
        entries.append((at, order, TimelineEntry(at, kind, summary)))

    for v in file.plan_versions:
        why = f": {v.reason}" if v.reason else ""
        add(v.created_at, 0, "plan", f"plan version {v.version} ({v.ruleset}) saved by {v.created_by}{why}")
    for vial in file.vials:
        add(
            dt.datetime.combine(vial.opened_on, dt.time()),
            1,
            "vial",
            f"vial {vial.id} opened: {vial.product_id}, {vial.volume_ml:g} mL, {vial.volume_left_ml:g} mL "
            f"left, discard on {vial.discard_on.isoformat()}",
        )
    for a in file.administrations:
        parts = [f"{a.dose_mcg:g} mcg {a.route}"]
        parts += [f"{a.volume_ml:g} mL" if a.volume_ml is not None else ""]
        parts += [f"site {a.site}" if a.site else "", f"lot {a.lot}" if a.lot else ""]
        parts += [f"vial {a.vial_id}" if a.vial_id else "", f"given by {a.given_by}" if a.given_by else ""]
        add(a.at, 2, "dose", ", ".join(p for p in parts if p))
    for lab in file.labs:
        shown = lab.value_text if lab.value_num is None else units.format_quantity(lab.value_num, lab.unit)
        add(dt.datetime.combine(lab.taken_on, dt.time()), 3, "lab", f"{lab.test} {shown}")
    for s in file.symptoms:
        add(dt.datetime.combine(s.scored_on, dt.time()), 4, "symptom", f"{s.symptom} {s.score}/10")
    return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1]))]


def history(store: Store, ref: str) -> tuple[PatientInfo, list[TimelineEntry]]:
    with store.transaction(write=False) as records:
        file = records.patient_file(records.patient(ref, field="patient"))
    return file.patient, timeline(file)
