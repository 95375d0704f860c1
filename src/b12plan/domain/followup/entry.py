"""Checking a dose before it is recorded: what b12plan refuses, each refusal naming the field.

Refused: a dose in the future; a volume that does not hold the dose at the product's strength
(FU-VOLUME-MATCH); an unknown site, or one not used for the route; an expired product; a vial past its
discard day or without enough left; and a doubled dose (FU-NO-DOUBLE): a second injection the same day, a
catch-up dose on top of the due dose, or loading doses beyond a fixed loading course.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from b12plan.domain.followup.course import Course, build_course
from b12plan.domain.followup.finding import followup_rule, number
from b12plan.domain.followup.record import Administration, TreatmentRecord, later_than, version_at
from b12plan.domain.followup.sites import Site
from b12plan.domain.followup.vials import discard_day
from b12plan.domain.products import Catalogue
from b12plan.domain.rules import RuleSet
from b12plan.errors import FieldProblem, UnknownProductError

__all__ = ["check_administration", "volume_mismatch"]


def _strength(
    adm: Administration, record: TreatmentRecord, catalogue: Catalogue
) -> tuple[float | None, str, list[FieldProblem]]:
    """The product's strength (micrograms per mL) and name: the dose's product, else its vial's, else the
    product of the plan in force that day."""
    product_id = adm.product_id
    if product_id is None and adm.vial_id is not None:
        product_id = next((v.product_id for v in record.vials if v.id == adm.vial_id), None)
    if product_id is not None:
        try:
            product = catalogue.get(product_id)
        except UnknownProductError as exc:
            return None, product_id, [FieldProblem("product_id", p.problem) for p in exc.problems]
        if product.form != "injection" and adm.injected:
            return None, product.name, [FieldProblem("product_id", f"{product.name} is not an injection")]
        return product.strength_mcg_per_ml, product.name, []
    version = version_at(record, adm.day)
    regimen = version.plan.regimen if version is not None else None
    if regimen is None:
        return None, "", []
    return regimen.product.strength_mcg_per_ml, regimen.product.name, []


def volume_mismatch(
    volume_ml: float, strength_mcg_per_ml: float, dose_mcg: float, rules: RuleSet
) -> float | None:
    """The micrograms `volume_ml` holds at the strength, when that is not `dose_mcg` (FU-VOLUME-MATCH)."""
    holds = volume_ml * strength_mcg_per_ml
    tolerance = number(followup_rule(rules, "followup.volume_match"), "fraction")
    return holds if abs(holds - dose_mcg) > tolerance * dose_mcg else None


def _volume(
    adm: Administration, record: TreatmentRecord, rules: RuleSet, catalogue: Catalogue
) -> list[FieldProblem]:
    strength, name, problems = _strength(adm, record, catalogue)
    if adm.volume_ml is None or strength is None or not adm.injected:
        return problems
    holds = volume_mismatch(adm.volume_ml, strength, adm.dose_mcg, rules)
    if holds is not None:
        problems.append(
            FieldProblem(
                "volume_ml",
                f"{adm.volume_ml:g} mL of {name} ({strength:g} micrograms/mL) holds {holds:g} micrograms, "
                f"not the {adm.dose_mcg:g} micrograms recorded: check the dose against the label's strength",
            )
        )
    return problems


def _site(adm: Administration, sites: Sequence[Site] | None) -> list[FieldProblem]:
    if sites is None or adm.site is None:
        return []
    site = next((s for s in sites if s.id == adm.site), None)
    if site is None:
        known = ", ".join(s.id for s in sites if s.takes(adm.route)) or ", ".join(s.id for s in sites)
        return [FieldProblem("site", f"{adm.site!r} is not an injection site; use one of {known}")]
    if not site.takes(adm.route):
        used = " or ".join(r.value for r in site.routes)
        return [
            FieldProblem(
                "site", f"{site.id} ({site.label}) is a site for {used} injections, not {adm.route.value}"
            )
        ]
    return []


def _vial(adm: Administration, record: TreatmentRecord) -> list[FieldProblem]:
    if adm.vial_id is None:
        return []
    vial = next((v for v in record.vials if v.id == adm.vial_id), None)
    if vial is None:
        return [FieldProblem("vial_id", f"no opened vial {adm.vial_id} in this record")]
    problems: list[FieldProblem] = []
    discard_on = discard_day(vial)
    if discard_on is not None and adm.day >= discard_on:
        problems.append(
            FieldProblem(
                "vial_id",
                f"vial {vial.id} was opened on {vial.opened.isoformat()} and was to be discarded on "
                f"{discard_on.isoformat()}: open a new vial",
            )
        )
    if adm.volume_ml is not None and adm.volume_ml > vial.volume_left_ml:
        problems.append(
            FieldProblem(
                "volume_ml",
                f"vial {vial.id} has only {vial.volume_left_ml:g} mL left, not {adm.volume_ml:g} mL",
            )
        )
    return problems


def _doubled(adm: Administration, course: Course) -> list[FieldProblem]:
    kind = course.place(adm.day, adm.dose_mcg)
    pending = course.pending
    if kind == "same_day":
        return [
            FieldProblem(
                "at",
                f"an injection was already given on {adm.day.isoformat()}: a second one the same day "
                "doubles the dose (only the parts of one split dose share a day)",
            )
        ]
    if pending is None or course.last is None or kind not in ("too_soon", "extra_loading"):
        return []
    due = course.due(pending).isoformat()
    if kind == "too_soon":
        gap = (adm.day - course.last).days
        return [
            FieldProblem(
                "at",
                f"only {gap} days after the injection on {course.last.isoformat()}: dose {pending.number} is "
                f"due on {due}. A late dose is given once, as soon as possible; a catch-up dose on top of "
                "the due dose doubles it. A shorter interval needs a new plan version",
            )
        ]
    if pending.provisional:  # an open-ended loading phase goes on until a clinician's review
        return []
    return [
        FieldProblem(
            "at",
            f"the {course.repletion_doses} planned loading doses have been given: the next dose is the first "
            f"maintenance dose, due on {due}. More loading doses need a new plan version",
        )
    ]


def check_administration(
    adm: Administration,
    record: TreatmentRecord,
    rules: RuleSet,
    catalogue: Catalogue,
    now: dt.datetime,
    *,
    sites: Sequence[Site] | None = None,
) -> list[FieldProblem]:
    """Why `adm` cannot be recorded in `record` (as it stands before it), as `field: problem` items; empty
    when it can. The site is checked against `sites` when they are given (`rulebook.load_sites()`).
    """
    problems: list[FieldProblem] = []
    if later_than(adm.at, now):
        problems.append(
            FieldProblem(
                "at", f"{adm.at.isoformat(timespec='minutes')} is in the future: record a dose once given"
            )
        )
    if adm.expiry is not None and adm.expiry < adm.day:
        problems.append(
            FieldProblem("expiry", f"the product expired on {adm.expiry.isoformat()}: do not give it")
        )
    problems += _volume(adm, record, rules, catalogue)
    problems += _site(adm, sites)
    problems += _vial(adm, record)
    if adm.injected:
        problems += _doubled(adm, build_course(record, rules, adm.day))
    return problems
