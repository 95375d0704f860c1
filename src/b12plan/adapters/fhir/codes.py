"""The code tables of data/codes.toml as frozen values, and the code checks fhir.resources does not do.

`parse_codes` reads the TOML text and refuses a bad table with `DataError` naming the item (a shipped data
file that is wrong is a bug in b12plan); `load_codes` has the rule book (`b12plan.rulebook`, the one reader of
data files) read and parse the shipped file once. Checks: every SNOMED CT id passes the Verhoeff check digit
and has a concept partition, every ATC code has the shape of its level, every RxNorm id is a plain number,
every cause/condition is a contract code, and every test and route of the contract has a coding.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from b12plan.domain.codes import LOINC_ALIASES, Cause, Condition, Formulation, LabTest, Route
from b12plan.errors import DataError
from b12plan.rulebook import load_data

__all__ = [
    "CodeTables",
    "Coding",
    "Finding",
    "MedicationClass",
    "Qualitative",
    "atc_valid",
    "load_codes",
    "parse_codes",
    "snomed_id_valid",
    "verhoeff_check_digit",
    "verhoeff_valid",
]

_E = TypeVar("_E", bound=StrEnum)

# Verhoeff's dihedral-group tables (multiplication, permutation, inverse).
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_valid(code: str) -> bool:
    """True when the last digit of `code` is its Verhoeff check digit (as in every SNOMED CT id)."""
    if not code.isascii() or not code.isdigit():
        return False
    check = 0
    for i, digit in enumerate(reversed(code)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def verhoeff_check_digit(digits: str) -> str:
    """The Verhoeff check digit to append to `digits`."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{digits!r} is not a string of digits")
    check = 0
    for i, digit in enumerate(reversed(digits)):
        check = _D[check][_P[(i + 1) % 8][int(digit)]]
    return str(_INV[check])


def snomed_id_valid(code: str) -> bool:
    """A well-formed SNOMED CT concept id: 6-18 digits, no leading zero, concept partition, check digit."""
    return (
        6 <= len(code) <= 18
        and code.isascii()
        and code.isdigit()
        and code[0] != "0"
        and code[-3:-1] in ("00", "10")
        and verhoeff_valid(code)
    )


_ATC_LEVELS = (r"[A-Z]", r"[A-Z]\d\d", r"[A-Z]\d\d[A-Z]", r"[A-Z]\d\d[A-Z]{2}", r"[A-Z]\d\d[A-Z]{2}\d\d")
_ATC_RE = re.compile("|".join(f"(?:{level})" for level in _ATC_LEVELS))
_ATC_MAIN_GROUPS = frozenset("ABCDGHJLMNPRSV")


def atc_valid(code: str, *, substance: bool = False) -> bool:
    """An ATC code of any level (`B03BA` group, `B03BA03` substance), or only a substance when asked."""
    if not _ATC_RE.fullmatch(code) or code[0] not in _ATC_MAIN_GROUPS:
        return False
    return len(code) == 7 or not substance


@dataclass(frozen=True)
class Coding:
    """One code: its system (name and canonical URI), display and the URL where it is defined."""

    system: str
    uri: str
    code: str
    display: str
    source: str
    verify: bool = False

    def to_fhir(self) -> dict[str, str]:
        return {"system": self.uri, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Qualitative:
    value: str
    codings: tuple[Coding, ...]
    interpretation: frozenset[str]
    words: frozenset[str]


@dataclass(frozen=True)
class Finding:
    """A Condition/Procedure code and what it means in the case: a cause, a condition, or pregnancy."""

    coding: Coding
    cause: Cause | None = None
    condition: Condition | None = None
    pregnant: bool = False


@dataclass(frozen=True)
class MedicationClass:
    """Medicines (or allergens) that mean one case code: every PPI -> cause `ppi`, cobalt -> condition
    `cobalt_allergy`; `b12_replacement` for B12 itself (the case's `treatment_started`)."""

    id: str
    codings: tuple[Coding, ...]
    names: tuple[str, ...]
    cause: Cause | None = None
    condition: Condition | None = None
    b12_replacement: bool = False


@dataclass(frozen=True)
class CodeTables:
    uris: Mapping[str, str]  # system name -> canonical URI
    aliases: Mapping[str, str]  # any accepted URI -> system name
    hierarchical: frozenset[str]
    formulations: Mapping[Formulation, tuple[Coding, ...]]
    routes: Mapping[Route, Coding]
    units: Mapping[str, Coding]
    lab_tests: Mapping[LabTest, Coding]
    qualitative: Mapping[str, Qualitative]
    findings: tuple[Finding, ...]
    medications: tuple[MedicationClass, ...]
    allergens: tuple[MedicationClass, ...] = ()

    def system_name(self, uri: str | None) -> str | None:
        return self.aliases.get(uri or "")

    def matches(self, coding: Coding, uri: str | None, code: str | None) -> bool:
        """Does a (system URI, code) read from a resource mean `coding`?"""
        if not code or self.system_name(uri) != coding.system:
            return False
        if coding.system in self.hierarchical:
            return code.replace(".", "").upper().startswith(coding.code.replace(".", "").upper())
        return code == coding.code

    def find_finding(self, uri: str | None, code: str | None) -> Finding | None:
        return next((f for f in self.findings if self.matches(f.coding, uri, code)), None)

    def find_medication(
        self, codes: Sequence[tuple[str | None, str | None]], text: str
    ) -> MedicationClass | None:
        """The medicine class of these codings, else of an ingredient word in `text` (lower-cased)."""
        for med in self.medications:
            if any(self.matches(c, uri, code) for c in med.codings for uri, code in codes):
                return med
        for med in self.medications:
            if any(re.search(rf"\b{re.escape(name)}\b", text) for name in med.names):
                return med
        return None

    def find_all(
        self,
        classes: Sequence[MedicationClass],
        codes: Sequence[tuple[str | None, str | None]],
        text: str,
    ) -> list[MedicationClass]:
        """Every class (of `medications` or `allergens`) these codings or ingredient words in `text`
        (lower-cased) mean, in table order: a combined product (B12 with folic acid) means both."""
        return [
            med
            for med in classes
            if any(self.matches(c, uri, code) for c in med.codings for uri, code in codes)
            or any(re.search(rf"\b{re.escape(name)}\b", text) for name in med.names)
        ]

    def all_codings(self) -> Iterator[Coding]:
        for codings in self.formulations.values():
            yield from codings
        yield from self.routes.values()
        yield from self.units.values()
        yield from self.lab_tests.values()
        for q in self.qualitative.values():
            yield from q.codings
        yield from (f.coding for f in self.findings)
        for m in (*self.medications, *self.allergens):
            yield from m.codings


def _coding(raw: Any, where: str, uris: Mapping[str, str]) -> Coding:
    if not isinstance(raw, dict):
        raise DataError(f"codes.toml {where}: must be a table")
    missing = [k for k in ("system", "code", "display", "source") if not isinstance(raw.get(k), str)]
    if missing:
        raise DataError(f"codes.toml {where}: needs {', '.join(missing)}")
    system, code = raw["system"], raw["code"]
    if system not in uris:
        raise DataError(f"codes.toml {where}: system {system!r} is not in [systems]")
    if system == "snomed" and not snomed_id_valid(code):
        raise DataError(f"codes.toml {where}: {code!r} is not a valid SNOMED CT concept id (check digit)")
    if system == "atc" and not atc_valid(code):
        raise DataError(f"codes.toml {where}: {code!r} is not an ATC code")
    if system == "loinc" and not re.fullmatch(r"\d{1,7}-\d", code):
        raise DataError(f"codes.toml {where}: {code!r} is not a LOINC code")
    if system == "rxnorm" and not re.fullmatch(r"[1-9][0-9]{0,9}", code):
        raise DataError(f"codes.toml {where}: {code!r} is not an RxNorm concept id")
    return Coding(system, uris[system], code, raw["display"], raw["source"], bool(raw.get("verify", False)))


def _enum_key(enum: type[_E], key: str, where: str) -> _E:
    try:
        return enum(key)
    except ValueError:
        raise DataError(f"codes.toml {where}: {key!r} is not a {enum.__name__} code") from None


def _meaning(
    raw: dict[str, Any], where: str, keys: tuple[str, ...] = ("cause", "condition", "patient")
) -> dict[str, Any]:
    """The one case code an import entry means: cause, condition, patient = "pregnant" (findings) or
    treatment = "b12_replacement" (medicines), of those `keys` allows."""
    given = [k for k in ("cause", "condition", "patient", "treatment") if k in raw]
    if len(given) != 1 or given[0] not in keys:
        raise DataError(f"codes.toml {where}: needs exactly one of {', '.join(keys)}")
    if "treatment" in raw:
        if raw["treatment"] != "b12_replacement":
            raise DataError(f"codes.toml {where}: treatment must be 'b12_replacement'")
        return {"b12_replacement": True}
    if "patient" in raw:
        if raw["patient"] != "pregnant":
            raise DataError(f"codes.toml {where}: patient must be 'pregnant'")
        return {"pregnant": True}
    if "cause" in raw:
        return {"cause": _enum_key(Cause, raw["cause"], where)}
    return {"condition": _enum_key(Condition, raw["condition"], where)}


def _medication_class(
    raw: dict[str, Any], table: str, uris: Mapping[str, str], keys: tuple[str, ...]
) -> MedicationClass:
    where = f"{table}.{raw.get('id')}"
    if not isinstance(raw.get("id"), str):
        raise DataError(f"codes.toml {where}: needs an id")
    return MedicationClass(
        raw["id"],
        tuple(_coding(c, f"{where}[{j}]", uris) for j, c in enumerate(raw.get("coding", []))),
        tuple(n.lower() for n in raw.get("names", [])),
        **_meaning(raw, where, keys),
    )


def parse_codes(text: str) -> CodeTables:
    """Parse the text of codes.toml (grammar at its top) into checked tables."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"codes.toml: {exc}") from None
    systems = data.get("systems", {})
    uris = {name: s["uri"] for name, s in systems.items()}
    aliases = {uri: name for name, uri in uris.items()}
    for name, s in systems.items():
        aliases.update(dict.fromkeys(s.get("aliases", []), name))
    hierarchical = frozenset(name for name, s in systems.items() if s.get("hierarchical"))

    formulations = {
        _enum_key(Formulation, key, f"formulation.{key}"): tuple(
            _coding(c, f"formulation.{key}[{i}]", uris) for i, c in enumerate(raw)
        )
        for key, raw in data.get("formulation", {}).items()
    }
    routes = {
        _enum_key(Route, key, f"route.{key}"): _coding(raw, f"route.{key}", uris)
        for key, raw in data.get("route", {}).items()
    }
    units = {key: _coding(raw, f"unit.{key}", uris) for key, raw in data.get("unit", {}).items()}
    lab_tests: dict[LabTest, Coding] = {}
    for key, raw in data.get("lab_test", {}).items():
        test = _enum_key(LabTest, key, f"lab_test.{key}")
        coding = _coding(raw, f"lab_test.{key}", uris)
        if LOINC_ALIASES.get(coding.code) is not test:
            raise DataError(f"codes.toml lab_test.{key}: {coding.code} is not a LOINC alias of {key}")
        lab_tests[test] = coding
    qualitative = {
        key: Qualitative(
            key,
            tuple(_coding(c, f"qualitative.{key}.codings[{i}]", uris) for i, c in enumerate(raw["codings"])),
            frozenset(raw.get("interpretation", [])),
            frozenset(w.lower() for w in raw.get("words", [])),
        )
        for key, raw in data.get("qualitative", {}).items()
    }
    findings = tuple(
        Finding(_coding(raw, f"finding[{i}]", uris), **_meaning(raw, f"finding[{i}] ({raw.get('code')})"))
        for i, raw in enumerate(data.get("finding", []))
    )
    medications = tuple(
        _medication_class(raw, "medication", uris, ("cause", "condition", "treatment"))
        for raw in data.get("medication", [])
    )
    allergens = tuple(
        _medication_class(raw, "allergen", uris, ("condition",)) for raw in data.get("allergen", [])
    )
    for enum, table, name in (
        (Formulation, formulations, "formulation"),
        (Route, routes, "route"),
        (LabTest, lab_tests, "lab_test"),
    ):
        absent = [member.value for member in enum if member not in table]
        if absent:
            raise DataError(f"codes.toml [{name}]: no coding for {', '.join(absent)}")
    for needed in ("ug", "mL", "d"):
        if needed not in units:
            raise DataError(f"codes.toml [unit]: {needed} is required")
    if set(qualitative) != {"positive", "negative"}:
        raise DataError("codes.toml [qualitative]: needs exactly positive and negative")
    return CodeTables(
        uris,
        aliases,
        hierarchical,
        formulations,
        routes,
        units,
        lab_tests,
        qualitative,
        findings,
        medications,
        allergens,
    )


def load_codes() -> CodeTables:
    """The shipped code tables, read once by the rule book (`rulebook.load_data`)."""
    return load_data("codes.toml", parse_codes)
