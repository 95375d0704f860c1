"""Words for the written plan: codes, dates, quantities and intervals as a reader says them.

The one table of these words for every output people read: the calendar (`adapters.icalendar`), the FHIR
texts (`adapters.fhir.export`) and the CDS cards take theirs from here too.

Formatting only. Nothing here decides a dose, an interval or a threshold: every number comes from the plan.
Names of days and months are spelt here rather than taken from the C locale, so output does not change
with the machine's language settings.

Quantities follow ISMP's advice on error-prone notation: units spelt out ("micrograms", "units"), a zero
before a decimal point ("0.1 mL") and never a trailing zero ("1 mL", not "1.0 mL", which is misread as 10).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from b12plan.domain.codes import AlertLevel, Cause, EventKind, Formulation, LabTest, Route, Stage, Status

__all__ = [
    "ALERT_LEVEL_WORDS",
    "CAUSE_WORDS",
    "EVENT_WORDS",
    "EVIDENCE_WORDS",
    "FORMULATION_WORDS",
    "ROUTE_WORDS",
    "STAGE_WORDS",
    "STANDALONE_TEST_WORDS",
    "STATUS_WORDS",
    "TEST_WORDS",
    "date_words",
    "dose_words",
    "every_words",
    "glue",
    "join_words",
    "month_words",
    "number",
    "plain_every_words",
    "range_words",
    "test_words",
    "until_words",
    "yes_no",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FULL_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Each test's name, as (short, standalone). Short beside the plan's results, tables and notes; standalone
# where the name is read away from the plan (a calendar event, a phone's reminder), so it says a little more
# of what the test is. None: the short name stands alone too.
_TEST_NAMES: dict[LabTest, tuple[str, str | None]] = {
    LabTest.B12_TOTAL: ("total vitamin B12", "vitamin B12 (total)"),
    LabTest.HOLOTC: ("active B12 (holotranscobalamin)", None),
    LabTest.MMA: ("methylmalonic acid (MMA)", None),
    LabTest.HOMOCYSTEINE: ("homocysteine", None),
    LabTest.HB: ("haemoglobin", "haemoglobin (full blood count)"),
    LabTest.MCV: ("MCV", "mean cell volume (MCV)"),
    LabTest.FOLATE: ("folate", None),
    LabTest.POTASSIUM: ("potassium", None),
    LabTest.RETICULOCYTES: ("reticulocyte count", None),
    LabTest.IFAB: ("intrinsic factor antibody", "intrinsic factor antibodies"),
    LabTest.INR: ("INR", "INR (clotting)"),
}

TEST_WORDS: dict[LabTest, str] = {test: short for test, (short, _) in _TEST_NAMES.items()}
"""A test's short name, beside the plan's results and notes: `haemoglobin`, `MCV`."""

STANDALONE_TEST_WORDS: dict[LabTest, str] = {
    test: standalone or short for test, (short, standalone) in _TEST_NAMES.items()
}
"""A test's name where it is read on its own (a calendar event): `haemoglobin (full blood count)`."""

CAUSE_WORDS: dict[Cause, str] = {
    Cause.DIET_VEGAN: "vegan diet",
    Cause.DIET_LOW_ANIMAL: "diet low in animal foods",
    Cause.AUTOIMMUNE_GASTRITIS: "autoimmune gastritis (pernicious anaemia)",
    Cause.GASTRECTOMY: "gastrectomy",
    Cause.BARIATRIC_SURGERY: "bariatric surgery",
    Cause.ILEAL_RESECTION: "ileal resection",
    Cause.CROHNS: "Crohn's disease",
    Cause.METFORMIN: "metformin",
    Cause.PPI: "proton pump inhibitor",
    Cause.H2RA: "H2-receptor antagonist",
    Cause.COLCHICINE: "colchicine",
    Cause.ANTICONVULSANT: "anticonvulsant medicine",
    Cause.NITROUS_OXIDE: "nitrous oxide",
    Cause.UNKNOWN: "cause not known",
}

STATUS_WORDS: dict[Status, str] = {
    Status.DEFICIENT: "vitamin B12 deficiency",
    Status.INDETERMINATE: "indeterminate: B12 deficiency possible, not confirmed",
    Status.UNLIKELY: "B12 deficiency unlikely",
    Status.UNINTERPRETABLE: "results cannot be interpreted",
    Status.INSUFFICIENT_DATA: "not enough information to decide",
}

FORMULATION_WORDS: dict[Formulation, str] = {
    Formulation.HYDROXOCOBALAMIN: "hydroxocobalamin",
    Formulation.CYANOCOBALAMIN: "cyanocobalamin",
    Formulation.METHYLCOBALAMIN: "methylcobalamin (mecobalamin)",
}

STAGE_WORDS: dict[Stage, str] = {Stage.REPLETION: "loading", Stage.MAINTENANCE: "maintenance"}

EVENT_WORDS: dict[EventKind, str] = {
    EventKind.INJECTION: "Injection",
    EventKind.ORAL: "Dose by mouth",
    EventKind.TEST: "Blood test",
    EventKind.REVIEW: "Clinical review",
}

ALERT_LEVEL_WORDS: dict[AlertLevel, str] = {
    AlertLevel.CRITICAL: "URGENT",
    AlertLevel.WARNING: "Warning",
    AlertLevel.INFO: "Note",
}

EVIDENCE_WORDS: dict[str, str] = {
    "P": "primary source",
    "Q": "quoted by others",
    "D": "b12plan design rule",
}

ROUTE_WORDS: dict[Route, str] = {
    Route.IM: "by intramuscular injection",
    Route.SC: "by subcutaneous injection",
    Route.IV: "by intravenous injection",
    Route.ORAL: "by mouth",
}

_UNTIL_WORDS: dict[str, str] = {
    "no_further_improvement": "until no further improvement",
    "clinical_review": "until the clinical review",
    "lifelong": "for life",
}

NBSP = "\u00a0"
_GLUED = re.compile(
    r"(?<=\d) (?=(?:micrograms|mg|mL|units|days|weeks|months|fL|[a-zµ]*/[a-zA-Z]+)\b)"  # 1 mL, 80 g/L
    r"|(?<==) (?=\d)"  # `= 1 mL` stays together
    rf"|(?<=\b(?:{'|'.join(_DAYS)})) (?=\d)|(?<=\d) (?=(?:{'|'.join(_MONTHS)}) \d{{4}})"  # Mon 7 Dec
    rf"|(?<=\b(?:{'|'.join(_MONTHS)})) (?=\d{{4}}\b)"  # Dec 2026
)

_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}


def glue(text: str) -> str:
    """`text` with no-break spaces where a line must not break: `1 mL`, `1000 micrograms`, `Mon 7 Dec 2026`.

    A wrapped dose must never leave `= 1` at the end of one line and `mL` at the start of the next.
    """
    return _GLUED.sub(NBSP, text)


def date_words(day: dt.date) -> str:
    """`Mon 7 Dec 2026`: short, unambiguous in every country, and independent of the locale."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def month_words(day: dt.date) -> str:
    """`December 2026`: the calendar's month heading."""
    return f"{_FULL_MONTHS[day.month - 1]} {day.year}"


def number(value: float, places: int = 3) -> str:
    """A quantity with no trailing zeros and a leading zero: 1000.0 -> `1000`, 0.10 -> `0.1`."""
    text = f"{round(value, places):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def join_words(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def test_words(tests: Iterable[LabTest]) -> str:
    """Test codes as the reader says them: `reticulocyte count, haemoglobin and MCV`."""
    return join_words(TEST_WORDS.get(test, str(test)) for test in tests)


def yes_no(value: bool | None, unknown: str = "not known") -> str:
    return unknown if value is None else ("yes" if value else "no")


def dose_words(
    dose_mcg: float,
    volume_ml: float | None,
    syringe_units: float | None,
    route: Route | None,
    *,
    injected: bool,
    tablets: int | None = None,
) -> str:
    """One dose in micrograms and millilitres: `1000 micrograms (1 mg) = 1 mL by intramuscular injection`.

    SC doses also give U-100 insulin-syringe units (1 unit = 0.01 mL), oral doses tablets when known. An
    injected dose whose volume the plan does not give says so rather than leaving the reader to guess.
    """
    text = f"{number(dose_mcg)} micrograms ({number(dose_mcg / 1000, 4)} mg)"
    if volume_ml is not None:
        text += f" = {number(volume_ml)} mL"
        if syringe_units is not None:
            text += f" ({number(syringe_units, 1)} units on a U-100 insulin syringe)"
    elif tablets is not None:
        text += f" = {tablets} tablet{'s' if tablets != 1 else ''}"
    elif injected:
        text += " (volume not given in this plan: ask the prescriber)"
    if route is not None:
        return f"{text} {ROUTE_WORDS.get(route, f'by {route}')}"
    return f"{text} {'by injection' if injected else 'by mouth'}"


def _days(days: float) -> str:
    if days % 7 == 0:
        weeks = int(days // 7)
        return f"{weeks} weeks ({number(days)} days)"
    return f"{number(days)} days"


def every_words(interval_days: float, times_per_week: int | None = None) -> str:
    """How often, in words: `daily`, `on alternate days`, `three times a week`, `every 12 weeks (84 days)`."""
    if times_per_week is not None:
        return f"{_TIMES.get(times_per_week, f'{times_per_week} times')} a week"
    if interval_days == 1:
        return "daily"
    if interval_days == 2:
        return "on alternate days"
    if interval_days == 7:
        return "once a week"
    return f"every {_days(interval_days)}"


def plain_every_words(interval_days: float, times_per_week: int | None = None) -> str:
    """How often, as FHIR dosage text and calendar events say it: `3 times a week`, `every day`, `every 84
    days` (always in days; the written plan says it with `every_words`)."""
    if times_per_week:
        return f"{times_per_week} times a week"
    if interval_days == 1:
        return "every day"
    return f"every {number(interval_days)} days"


def range_words(low_days: int, high_days: int) -> str:
    """The interval range a rule set allows: `every 8 to 12 weeks (56 to 84 days)`."""
    if low_days % 7 == 0 and high_days % 7 == 0:
        return f"every {low_days // 7} to {high_days // 7} weeks ({low_days} to {high_days} days)"
    return f"every {low_days} to {high_days} days"


def until_words(until: str) -> str:
    """An open-ended phase's end condition: `no_further_improvement` -> `until no further improvement`."""
    return _UNTIL_WORDS.get(until, f"until {until.replace('_', ' ')}")
