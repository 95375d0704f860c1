"""A synthetic population as FHIR R4 Bulk Data NDJSON: realistic in shape, invented in every detail.

`generate` draws people one by one from `Profile` (every probability and distribution is a field there and
in docs/screening.md); `write_ndjson` writes them as one NDJSON file per resource type plus a Bulk Data
manifest. The same seed, profile and reference date always give the same files. No real person's data is
used or needed: ids are random, dates are drawn around the reference date.

The values are drawn to look like a GP population's (prevalence rising with age, a mix of units and of
tests, missing units and dates, treatment that lapses); they are not clinical rules and the screen reads
none of them. `SynthPatient` keeps each lab as the FHIR reader will read it (`unit` is the UCUM code when
one is written, else the unit text), so tests can build the same person as a case.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from b12plan.adapters.fhir.codes import Coding, load_codes
from b12plan.domain import units
from b12plan.domain.codes import Cause, Condition, Formulation, LabTest, Route
from b12plan.screening.layout import B12_CLASS

__all__ = [
    "Profile",
    "SynthAdministration",
    "SynthCondition",
    "SynthLab",
    "SynthMedication",
    "SynthPatient",
    "SynthPhase",
    "SynthSummary",
    "generate",
    "write_ndjson",
]

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"

# ---------------------------------------------------------------- the distributions ---------------------

Band = tuple[int, int]


@dataclass(frozen=True)
class Profile:
    """Every number the generator draws from. Ages are at the reference date; p_ = a probability."""

    age_bands: tuple[Band, ...] = ((18, 39), (40, 59), (60, 74), (75, 95))
    age_weights: tuple[float, ...] = (0.36, 0.33, 0.19, 0.12)
    p_female: float = 0.51
    p_other_sex: float = 0.005
    history_days: int = 5 * 365
    # risk factors, by age band
    p_metformin: tuple[float, ...] = (0.02, 0.08, 0.15, 0.18)
    p_ppi: tuple[float, ...] = (0.05, 0.12, 0.20, 0.25)
    p_h2ra: float = 0.01
    p_pernicious_anaemia: tuple[float, ...] = (0.001, 0.003, 0.01, 0.02)
    p_ckd: tuple[float, ...] = (0.01, 0.03, 0.08, 0.15)
    p_n2o_under_35: float = 0.03
    p_n2o_35_plus: float = 0.002
    p_folic_acid: float = 0.03
    # true B12 state: deficient (by age band, plus risk), borderline, else replete
    p_deficient: tuple[float, ...] = (0.02, 0.03, 0.05, 0.08)
    p_deficient_if_pa: float = 0.85
    p_deficient_add_metformin: float = 0.08
    p_deficient_add_acid: float = 0.04
    p_functional_if_n2o: float = 0.6
    p_borderline: float = 0.12
    # levels (total B12 in ng/L; lognormal median and sigma), holoTC as a fraction of total B12 in pmol/L
    b12_deficient: tuple[float, float] = (130.0, 0.25)
    b12_borderline: tuple[float, float] = (180.0, 350.0)  # uniform
    b12_replete: tuple[float, float] = (480.0, 0.35)
    b12_on_treatment: tuple[float, float] = (900.0, 0.4)
    holotc_fraction: tuple[float, float] = (0.06, 0.20)
    mma_umol: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"deficient": (0.6, 0.4), "functional": (0.7, 0.4), "other": (0.2, 0.3)}
    )
    hcy_umol: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"deficient": (28.0, 0.3), "functional": (35.0, 0.3), "other": (11.0, 0.25)}
    )
    # testing
    p_b12_test: float = 0.25
    p_b12_test_at_risk: float = 0.55
    p_second_b12_test: float = 0.2
    test_mix: tuple[float, float, float] = (0.82, 0.10, 0.08)  # total only, active only, both
    b12_units: tuple[tuple[str, float], ...] = (("ng/L", 0.55), ("pg/mL", 0.15), ("pmol/L", 0.30))
    mma_units: tuple[tuple[str, float], ...] = (("umol/L", 0.7), ("nmol/L", 0.3))
    hb_units: tuple[tuple[str, float], ...] = (("g/L", 0.75), ("g/dL", 0.25))
    folate_units: tuple[tuple[str, float], ...] = (("ug/L", 0.7), ("nmol/L", 0.3))
    p_mma_after_borderline: float = 0.4
    p_hcy_if_n2o: float = 0.7
    p_hcy_other: float = 0.03
    p_folate_with_b12: float = 0.6
    p_fbc_with_b12: float = 0.7
    mma_upper_limits_umol: tuple[float, ...] = (0.28, 0.35, 0.37, 0.40)
    hcy_upper_limit_umol: float = 15.0
    p_upper_limit_given: float = 0.7
    fbc_panels: tuple[tuple[int, float], ...] = (
        (0, 0.10),
        (1, 0.15),
        (2, 0.15),
        (3, 0.15),
        (4, 0.12),
        (5, 0.10),
        (6, 0.08),
        (8, 0.08),
        (10, 0.07),
    )
    p_potassium_with_fbc: float = 0.3
    # treatment
    p_treated_if_deficient: float = 0.8
    p_trial_if_borderline: float = 0.15
    p_late_start: float = 0.1
    p_injection: float = 0.7
    maintenance_weeks: tuple[tuple[float, float], ...] = ((12, 0.5), (8, 0.2), (13, 0.2), (4, 0.1))
    p_lapse: float = 0.2
    p_request_stopped: float = 0.1
    p_fbc_after_start: float = 0.7
    p_retest_on_treatment: float = 0.12
    p_folic_acid_first: float = 0.15
    # missing and messy data
    p_no_unit: float = 0.015
    p_bad_unit: float = 0.002
    p_text_unit: float = 0.1
    p_no_date: float = 0.005
    p_entered_in_error: float = 0.003
    p_zero_value: float = 0.001


# Unit text as labs print it (written as `unit` only, with no UCUM code): the core reads every one.
_TEXT_SPELLINGS = {
    "ng/L": "ng/l",
    "pg/mL": "pg/ml",
    "pmol/L": "pmol/l",
    "umol/L": "µmol/L",
    "nmol/L": "nmol/l",
    "g/L": "g/l",
    "g/dL": "g/dl",
    "ug/L": "µg/L",
    "fL": "fl",
    "mmol/L": "mmol/l",
}
_BAD_UNITS = {LabTest.B12_TOTAL: "mg/dL", LabTest.HB: "%", LabTest.MMA: "mg/L"}
# LOINC by unit where the mass and the amount measure have different codes (domain LOINC_ALIASES).
_LOINC = {
    (LabTest.B12_TOTAL, "pmol/L"): ("14685-2", "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma"),
    (LabTest.FOLATE, "nmol/L"): ("14732-2", "Folate [Moles/volume] in Serum or Plasma"),
}

# ---------------------------------------------------------------- the people ---------------------------


@dataclass(frozen=True, slots=True)
class SynthLab:
    id: str
    test: LabTest
    value: float
    unit: str | None  # as the reader reads it: the UCUM code when written, else the unit text
    ucum: bool  # written as system + code (UCUM) rather than unit text only
    date: dt.date | None
    upper_limit: float | None = None
    status: str = "final"


@dataclass(frozen=True, slots=True)
class SynthPhase:
    frequency: int
    period: float
    period_unit: Literal["d", "wk", "mo"]
    count: int | None


@dataclass(frozen=True, slots=True)
class SynthMedication:
    id: str
    resource_type: Literal["MedicationRequest", "MedicationStatement"]
    med_class: str  # b12 or a medicine class of data/codes.toml
    route: Literal["injection", "oral"]
    status: str
    start: dt.date
    end: dt.date | None
    phases: tuple[SynthPhase, ...] = ()


@dataclass(frozen=True, slots=True)
class SynthAdministration:
    id: str
    date: dt.date
    request_id: str


@dataclass(frozen=True, slots=True)
class SynthCondition:
    id: str
    code: Cause | Condition
    onset: dt.date | None


@dataclass(frozen=True, slots=True)
class SynthPatient:
    id: str
    birth_date: dt.date
    sex: str
    labs: tuple[SynthLab, ...]
    medications: tuple[SynthMedication, ...]
    administrations: tuple[SynthAdministration, ...]
    conditions: tuple[SynthCondition, ...]
    truth: str  # deficient, functional, borderline, replete (never read by the screen)


class _Draw:
    """One person's draws. All randomness goes through `rng`, in a fixed order: same seed, same people."""

    def __init__(self, rng: random.Random, profile: Profile, as_of: dt.date) -> None:
        self.rng, self.p, self.as_of = rng, profile, as_of

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, weighted: Iterable[tuple[object, float]]) -> object:
        items = list(weighted)
        return self.rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]

    def lognormal(self, median: float, sigma: float) -> float:
        return median * self.rng.lognormvariate(0.0, sigma)

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        span = (end - start).days
        return start + dt.timedelta(days=self.rng.randint(0, span)) if span > 0 else start


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class _Person:
    """Builds one SynthPatient."""

    def __init__(self, d: _Draw) -> None:
        self.d = d
        self.id = _uuid(d.rng)
        self.labs: list[SynthLab] = []
        self.meds: list[SynthMedication] = []
        self.given: list[SynthAdministration] = []
        self.conditions: list[SynthCondition] = []
        self.counter = 0

    def next_id(self, letter: str) -> str:
        self.counter += 1
        return f"{self.id}-{letter}{self.counter}"

    def lab(self, test: LabTest, value: float, unit: str, date: dt.date, upper: float | None = None) -> None:
        d, p = self.d, self.d.p
        written: str | None = unit
        ucum = True
        if d.chance(p.p_text_unit) and unit in _TEXT_SPELLINGS:
            written, ucum = _TEXT_SPELLINGS[unit], False
        if test in (LabTest.B12_TOTAL, LabTest.HOLOTC) and d.chance(p.p_no_unit):
            written, ucum = None, False
        elif test in _BAD_UNITS and d.chance(p.p_bad_unit):
            written, ucum = _BAD_UNITS[test], False
        if d.chance(p.p_zero_value):
            value = 0.0
        when: dt.date | None = None if d.chance(p.p_no_date) else date
        status = "entered-in-error" if d.chance(p.p_entered_in_error) else "final"
        self.labs.append(
            SynthLab(self.next_id("o"), test, round(value, 4), written, ucum, when, upper, status)
        )


def _in_unit(value_ng_l: float, unit: str) -> float:
    """A total B12 level drawn in ng/L, in the unit the lab reports it in."""
    return units.convert(LabTest.B12_TOTAL, value_ng_l, "ng/L", unit)


def _person(d: _Draw) -> SynthPatient:
    p, rng, as_of = d.p, d.rng, d.as_of
    me = _Person(d)
    band = rng.choices(range(len(p.age_bands)), weights=p.age_weights)[0]
    low, high = p.age_bands[band]
    age = rng.randint(low, high)
    birth = as_of - dt.timedelta(days=age * 365 + rng.randint(0, 364))
    sex = "other" if d.chance(p.p_other_sex) else ("female" if d.chance(p.p_female) else "male")
    history = as_of - dt.timedelta(days=p.history_days)

    metformin = d.chance(p.p_metformin[band])
    ppi = d.chance(p.p_ppi[band])
    h2ra = d.chance(p.p_h2ra)
    pa = d.chance(p.p_pernicious_anaemia[band])
    ckd = d.chance(p.p_ckd[band])
    n2o = d.chance(p.p_n2o_under_35 if age < 35 else p.p_n2o_35_plus)

    p_def = p.p_deficient_if_pa if pa else p.p_deficient[band]
    p_def += p.p_deficient_add_metformin * metformin + p.p_deficient_add_acid * (ppi or h2ra)
    if n2o and d.chance(p.p_functional_if_n2o):
        truth = "functional"
    elif d.chance(p_def):
        truth = "deficient"
    elif d.chance(p.p_borderline):
        truth = "borderline"
    else:
        truth = "replete"

    for cls, on in (("metformin", metformin), ("ppi", ppi), ("h2ra", h2ra)):
        if on:
            start = as_of - dt.timedelta(days=rng.randint(30, p.history_days))
            ongoing = d.chance(0.85)
            end = None if ongoing else d.day_between(start, as_of)
            me.meds.append(
                SynthMedication(
                    me.next_id("m"),
                    "MedicationStatement",
                    cls,
                    "oral",
                    "active" if ongoing else "completed",
                    start,
                    end,
                )
            )
    if n2o:
        start = as_of - dt.timedelta(days=rng.randint(30, 730))
        me.meds.append(
            SynthMedication(
                me.next_id("m"), "MedicationStatement", "nitrous_oxide", "oral", "active", start, None
            )
        )
    if pa:
        me.conditions.append(SynthCondition(me.next_id("c"), Cause.AUTOIMMUNE_GASTRITIS, history))
    if ckd:
        me.conditions.append(
            SynthCondition(me.next_id("c"), Condition.RENAL_IMPAIRMENT, d.day_between(history, as_of))
        )

    deficient = truth in ("deficient", "functional")
    male = sex == "male"

    def fbc(date: dt.date) -> None:
        hb = rng.gauss(145 if male else 132, 12) - (18 if truth == "deficient" else 0)
        hb_unit = str(d.pick(p.hb_units))
        me.lab(LabTest.HB, hb / 10 if hb_unit == "g/dL" else hb, hb_unit, date)
        me.lab(LabTest.MCV, rng.gauss(90, 5) + (12 if truth == "deficient" else 0), "fL", date)
        if d.chance(p.p_potassium_with_fbc):
            me.lab(LabTest.POTASSIUM, rng.gauss(4.3, 0.4), "mmol/L", date)

    panels = int(str(d.pick(p.fbc_panels)))
    for _ in range(panels):
        fbc(d.day_between(history, as_of))

    def b12_level() -> float:
        if truth == "deficient":
            return d.lognormal(*p.b12_deficient)
        if truth == "borderline":
            return rng.uniform(*p.b12_borderline)
        return d.lognormal(*p.b12_replete)

    def b12_test(date: dt.date, level: float) -> None:
        kind = rng.choices((0, 1, 2), weights=p.test_mix)[0]
        if kind in (0, 2):
            unit = str(d.pick(p.b12_units))
            me.lab(LabTest.B12_TOTAL, _in_unit(level, unit), unit, date)
        if kind in (1, 2):
            me.lab(
                LabTest.HOLOTC, _in_unit(level, "pmol/L") * rng.uniform(*p.holotc_fraction), "pmol/L", date
            )
        if d.chance(p.p_folate_with_b12):
            unit = str(d.pick(p.folate_units))
            folate = max(rng.gauss(8, 3), 1.0)  # ug/L
            me.lab(LabTest.FOLATE, units.convert(LabTest.FOLATE, folate, "ug/L", unit), unit, date)
        if d.chance(p.p_fbc_with_b12):
            fbc(date)

    def functional(test: LabTest, date: dt.date) -> None:
        group = "deficient" if truth == "deficient" else "functional" if truth == "functional" else "other"
        if test is LabTest.MMA:
            value = d.lognormal(*p.mma_umol[group])
            unit = str(d.pick(p.mma_units))
            limit = rng.choice(p.mma_upper_limits_umol) if d.chance(p.p_upper_limit_given) else None
            scale = 1000 if unit == "nmol/L" else 1
            me.lab(LabTest.MMA, value * scale, unit, date, None if limit is None else limit * scale)
        else:
            value = d.lognormal(*p.hcy_umol[group])
            limit = p.hcy_upper_limit_umol if d.chance(p.p_upper_limit_given) else None
            me.lab(LabTest.HOMOCYSTEINE, value, "umol/L", date, limit)

    at_risk = metformin or ppi or h2ra or pa or n2o
    tested = d.chance(p.p_b12_test_at_risk if at_risk else p.p_b12_test)
    first_test: dt.date | None = None
    if tested:
        first_test = d.day_between(history, as_of - dt.timedelta(days=7))
        level = b12_level()
        b12_test(first_test, level)
        if truth == "borderline" and d.chance(p.p_mma_after_borderline):
            functional(LabTest.MMA, first_test + dt.timedelta(days=rng.randint(7, 60)))
        if d.chance(p.p_second_b12_test):
            later = first_test + dt.timedelta(days=rng.randint(180, 540))
            if later < as_of:
                b12_test(later, b12_level())
    if (n2o and d.chance(p.p_hcy_if_n2o)) or d.chance(p.p_hcy_other):
        date = first_test or d.day_between(history, as_of)
        functional(LabTest.HOMOCYSTEINE, date)

    treat = (tested and deficient and d.chance(p.p_treated_if_deficient)) or (
        tested and truth == "borderline" and d.chance(p.p_trial_if_borderline)
    )
    if pa and not treat and d.chance(p.p_treated_if_deficient):
        treat = True
    if (tested and deficient) and d.chance(p.p_folic_acid_first):
        anchor = first_test or history
        start = anchor + dt.timedelta(days=rng.randint(0, 14))
        me.meds.append(
            SynthMedication(
                me.next_id("m"), "MedicationStatement", "folic_acid", "oral", "active", start, None
            )
        )
    elif d.chance(p.p_folic_acid):
        start = d.day_between(history, as_of)
        me.meds.append(
            SynthMedication(
                me.next_id("m"), "MedicationStatement", "folic_acid", "oral", "active", start, None
            )
        )
    if treat:
        anchor = first_test or d.day_between(history, as_of)
        delay = rng.randint(30, 120) if d.chance(p.p_late_start) else rng.randint(0, 21)
        start = anchor + dt.timedelta(days=delay)
        if start < as_of:
            _treatment(me, d, start)
    return SynthPatient(
        me.id,
        birth,
        sex,
        tuple(me.labs),
        tuple(me.meds),
        tuple(me.given),
        tuple(me.conditions),
        truth,
    )


def _treatment(me: _Person, d: _Draw, start: dt.date) -> None:
    p, rng, as_of = d.p, d.rng, d.as_of
    if d.chance(p.p_injection):
        weeks = float(str(d.pick(p.maintenance_weeks)))
        maintenance = SynthPhase(1, 3, "mo", None) if weeks == 13 else SynthPhase(1, weeks, "wk", None)
        stopped = d.chance(p.p_request_stopped)
        end = d.day_between(start, as_of) if stopped else None
        rid = me.next_id("r")
        me.meds.append(
            SynthMedication(
                rid,
                "MedicationRequest",
                B12_CLASS,
                "injection",
                "stopped" if stopped else "active",
                start,
                end,
                (SynthPhase(3, 1, "wk", 6), maintenance),
            )
        )
        lapse_after = rng.randint(0, 12) if d.chance(p.p_lapse) else None
        day = start
        for offset in (0, 2, 4, 7, 9, 11):
            day = start + dt.timedelta(days=offset)
            if day > as_of or (end is not None and day > end):
                break
            me.given.append(SynthAdministration(me.next_id("a"), day, rid))
        interval = round(weeks * 7) if weeks != 13 else 91
        n = 0
        while True:
            day = day + dt.timedelta(days=interval + rng.randint(-3, 5))
            if (
                day > as_of
                or (end is not None and day > end)
                or (lapse_after is not None and n >= lapse_after)
            ):
                break
            me.given.append(SynthAdministration(me.next_id("a"), day, rid))
            n += 1
    else:
        me.meds.append(
            SynthMedication(me.next_id("m"), "MedicationStatement", B12_CLASS, "oral", "active", start, None)
        )
    if d.chance(p.p_fbc_after_start):
        day = start + dt.timedelta(days=rng.randint(42, 80))
        if day <= as_of:
            hb_unit = str(d.pick(p.hb_units))
            me.lab(LabTest.HB, 130.0 / (10 if hb_unit == "g/dL" else 1), hb_unit, day)
    if d.chance(p.p_retest_on_treatment):
        day = start + dt.timedelta(days=rng.randint(60, 400))
        if day <= as_of:
            unit = str(d.pick(p.b12_units))
            me.lab(LabTest.B12_TOTAL, _in_unit(d.lognormal(*p.b12_on_treatment), unit), unit, day)


def generate(
    n: int, *, seed: int = 0, as_of: dt.date = dt.date(2025, 6, 30), profile: Profile | None = None
) -> Iterator[SynthPatient]:
    """`n` synthetic people; the same seed, profile and date always give the same people."""
    draw = _Draw(random.Random(seed), profile or Profile(), as_of)
    for _ in range(n):
        yield _person(draw)


# ---------------------------------------------------------------- FHIR NDJSON --------------------------


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _coding_json(c: Coding) -> str:
    return f'{{"system":{_s(c.uri)},"code":{_s(c.code)},"display":{_s(c.display)}}}'


class _Fhir:
    """Resource text, built from templates (json.dumps per resource is several times slower)."""

    def __init__(self) -> None:
        codes = load_codes()
        self.loinc = {t: (c.code, c.display) for t, c in codes.lab_tests.items()}
        med = {m.id: m for m in codes.medications}
        hydroxo = codes.formulations[Formulation.HYDROXOCOBALAMIN][0]
        cyano = codes.formulations[Formulation.CYANOCOBALAMIN][0]
        self.medicine = {
            (
                "b12",
                "injection",
            ): f'{{"coding":[{_coding_json(hydroxo)}],"text":"Hydroxocobalamin 1 mg/1 mL injection"}}',
            ("b12", "oral"): f'{{"coding":[{_coding_json(cyano)}],"text":"Cyanocobalamin 1 mg tablets"}}',
        }
        for cls in ("metformin", "ppi", "h2ra", "folic_acid", "nitrous_oxide"):
            coding = med[cls].codings[0]
            self.medicine[(cls, "oral")] = (
                f'{{"coding":[{_coding_json(coding)}],"text":{_s(cls.replace("_", " "))}}}'
            )
        self.route = {
            "injection": f'{{"coding":[{_coding_json(codes.routes[Route.IM])}]}}',
            "oral": f'{{"coding":[{_coding_json(codes.routes[Route.ORAL])}]}}',
        }
        finding = {}
        for f in codes.findings:
            key = f.cause or f.condition
            if key is not None and key not in finding and f.coding.system == "snomed":
                finding[key] = f.coding
        self.finding = finding

    def patient(self, p: SynthPatient) -> str:
        return (
            f'{{"resourceType":"Patient","id":"{p.id}","gender":"{p.sex}",'
            f'"birthDate":"{p.birth_date.isoformat()}"}}'
        )

    def observation(self, pid: str, lab: SynthLab) -> str:
        code, display = _LOINC.get((lab.test, lab.unit or ""), self.loinc[lab.test])
        if lab.unit is None:
            quantity = f'{{"value":{lab.value!r}}}'
        elif lab.ucum:
            quantity = (
                f'{{"value":{lab.value!r},"unit":{_s(lab.unit)},"system":"{UCUM}","code":{_s(lab.unit)}}}'
            )
        else:
            quantity = f'{{"value":{lab.value!r},"unit":{_s(lab.unit)}}}'
        when = f',"effectiveDateTime":"{lab.date.isoformat()}"' if lab.date else ""
        ranges = (
            f',"referenceRange":[{{"high":{{"value":{lab.upper_limit!r}}}}}]'
            if lab.upper_limit is not None
            else ""
        )
        return (
            f'{{"resourceType":"Observation","id":"{lab.id}","status":"{lab.status}",'
            '"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category",'
            '"code":"laboratory"}]}],'
            f'"code":{{"coding":[{{"system":"{LOINC}","code":"{code}","display":{_s(display)}}}]}},'
            f'"subject":{{"reference":"Patient/{pid}"}}{when},"valueQuantity":{quantity}{ranges}}}'
        )

    def medication(self, pid: str, m: SynthMedication) -> str:
        concept = self.medicine[(m.med_class, m.route)]
        subject = f'"subject":{{"reference":"Patient/{pid}"}}'
        if m.resource_type == "MedicationStatement":
            period = f'"start":"{m.start.isoformat()}"' + (f',"end":"{m.end.isoformat()}"' if m.end else "")
            return (
                f'{{"resourceType":"MedicationStatement","id":"{m.id}","status":"{m.status}",'
                f'"medicationCodeableConcept":{concept},{subject},"effectivePeriod":{{{period}}},'
                f'"dosage":[{{"route":{self.route[m.route]}}}]}}'
            )
        dosages = ",".join(
            f'{{"sequence":{i},"timing":{{"repeat":{{'
            + (f'"count":{ph.count},' if ph.count is not None else "")
            + f'"frequency":{ph.frequency},"period":{ph.period:g},"periodUnit":"{ph.period_unit}"}}}},'
            f'"route":{self.route[m.route]},'
            '"doseAndRate":[{"doseQuantity":{"value":1,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}]}'
            for i, ph in enumerate(m.phases, 1)
        )
        validity = f',"dispenseRequest":{{"validityPeriod":{{"end":"{m.end.isoformat()}"}}}}' if m.end else ""
        return (
            f'{{"resourceType":"MedicationRequest","id":"{m.id}","status":"{m.status}","intent":"order",'
            f'"medicationCodeableConcept":{concept},{subject},"authoredOn":"{m.start.isoformat()}",'
            f'"dosageInstruction":[{dosages}]{validity}}}'
        )

    def administration(self, pid: str, a: SynthAdministration) -> str:
        return (
            f'{{"resourceType":"MedicationAdministration","id":"{a.id}","status":"completed",'
            f'"medicationCodeableConcept":{self.medicine[("b12", "injection")]},'
            f'"subject":{{"reference":"Patient/{pid}"}},"effectiveDateTime":"{a.date.isoformat()}",'
            f'"request":{{"reference":"MedicationRequest/{a.request_id}"}},'
            f'"dosage":{{"route":{self.route["injection"]},"dose":{{"value":1,"unit":"mg","system":"{UCUM}","code":"mg"}}}}}}'
        )

    def condition(self, pid: str, c: SynthCondition) -> str:
        onset = f',"onsetDateTime":"{c.onset.isoformat()}"' if c.onset else ""
        return (
            f'{{"resourceType":"Condition","id":"{c.id}",'
            '"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},'
            '"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},'
            f'"code":{{"coding":[{_coding_json(self.finding[c.code])}]}},'
            f'"subject":{{"reference":"Patient/{pid}"}}{onset}}}'
        )

    def resources(self, p: SynthPatient) -> Iterator[tuple[str, str]]:
        """(resourceType, NDJSON line) of everything one person has."""
        yield "Patient", self.patient(p)
        for lab in p.labs:
            yield "Observation", self.observation(p.id, lab)
        for med in p.medications:
            yield med.resource_type, self.medication(p.id, med)
        for given in p.administrations:
            yield "MedicationAdministration", self.administration(p.id, given)
        for cond in p.conditions:
            yield "Condition", self.condition(p.id, cond)


@dataclass(frozen=True)
class SynthSummary:
    """What was written: resources per type, and people per true state."""

    files: dict[str, Path]
    resources: dict[str, int]
    truth: dict[str, int]
    patients: int


_TYPES = (
    "Patient",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Condition",
)


def resources_of(patient: SynthPatient) -> list[dict[str, object]]:
    """One person's FHIR resources as dicts (for tests and the single-case FHIR import)."""
    return [json.loads(line) for _, line in _Fhir().resources(patient)]


def write_ndjson(
    patients: Iterable[SynthPatient], out: Path, *, compress: bool = False, buffer_lines: int = 4096
) -> SynthSummary:
    """Write one `<Type>.ndjson` (or `.ndjson.gz`) per resource type and a Bulk Data `manifest.json`."""
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".ndjson.gz" if compress else ".ndjson"
    files = {t: out / f"{t}{suffix}" for t in _TYPES}
    buffers: dict[str, list[str]] = {t: [] for t in _TYPES}
    counts = dict.fromkeys(_TYPES, 0)
    truth: dict[str, int] = {}
    fhir = _Fhir()
    people = 0
    with ExitStack() as stack:
        handles: dict[str, IO[str]] = {
            t: stack.enter_context(
                gzip.open(path, "wt", encoding="utf-8", compresslevel=1)  # noqa: SIM115 - on the stack
                if compress
                else path.open("w", encoding="utf-8")
            )
            for t, path in files.items()
        }
        for patient in patients:
            people += 1
            truth[patient.truth] = truth.get(patient.truth, 0) + 1
            for kind, line in fhir.resources(patient):
                buf = buffers[kind]
                buf.append(line)
                if len(buf) >= buffer_lines:
                    handles[kind].write("\n".join(buf) + "\n")
                    counts[kind] += len(buf)
                    buf.clear()
        for kind, buf in buffers.items():
            if buf:
                handles[kind].write("\n".join(buf) + "\n")
                counts[kind] += len(buf)
    manifest = {
        "transactionTime": "synthetic",
        "request": "b12plan synth",
        "requiresAccessToken": False,
        "output": [{"type": t, "url": files[t].name, "count": counts[t]} for t in _TYPES],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return SynthSummary(files, counts, dict(sorted(truth.items())), people)
