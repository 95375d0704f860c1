"""The only reader of `b12plan/data/`: rule sets, the product catalogue, injection sites and code tables,
each read and validated once.

Rule sets are TOML files in `data/rulesets/` (grammar in the header of `nice-ng239.toml`); a file may pull in
partials with `includes = [...]`. A broken shipped file raises `DataError` naming the file and the rule.
A data file an adapter parses (`codes.toml`, parsed by `adapters.fhir.codes.parse_codes`) is read here too,
through `load_data` with the adapter's parser: the rule book reads every data file and imports no adapter.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from b12plan.domain.followup.sites import Site, parse_sites
from b12plan.domain.products import Catalogue, parse_catalogue
from b12plan.domain.rules import RuleSet
from b12plan.errors import DataError, FieldProblem, UnknownRulesetError

__all__ = ["load_catalogue", "load_data", "load_ruleset", "load_sites", "parse_ruleset", "ruleset_ids"]

DEFAULT_RULESET = "nice-ng239"

_T = TypeVar("_T")


def _data() -> Any:
    return resources.files("b12plan") / "data"


def ruleset_ids() -> list[str]:
    """The ids of the shipped rule sets, default first."""
    names = sorted(
        p.name.removesuffix(".toml") for p in (_data() / "rulesets").iterdir() if p.name.endswith(".toml")
    )
    return sorted(names, key=lambda n: (n != DEFAULT_RULESET, n))


def _describe(exc: ValidationError, doc: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ".".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = doc.get("rule", [])
        rid = rules[loc[1]].get("id", "?") if loc[1] < len(rules) else "?"
        where = f"rule {rid}: " + ".".join(str(p) for p in loc[2:])
    return f"{where}: {err['msg']}"


def parse_ruleset(text: str, *, origin: str, read_include: Callable[[str], str]) -> RuleSet:
    """Parse one rule-set file (and its includes) into a validated RuleSet."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{origin}: not valid TOML: {exc}") from exc
    sources: dict[str, Any] = {}
    rules: list[Any] = []
    for include in doc.get("includes", []):
        try:
            part = tomllib.loads(read_include(include))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DataError(f"{origin}: include {include!r}: {exc}") from exc
        sources.update(part.get("sources", {}))
        rules.extend(part.get("rule", []))
    sources.update(doc.get("sources", {}))
    rules.extend(doc.get("rule", []))
    merged = {"rule": rules}
    try:
        return RuleSet.model_validate({"ruleset": doc.get("ruleset"), "sources": sources, "rules": rules})
    except ValidationError as exc:
        raise DataError(f"{origin}: {_describe(exc, merged)}") from exc


@cache
def load_ruleset(ruleset_id: str) -> RuleSet:
    """A shipped rule set by id; `UnknownRulesetError` names the choices."""
    folder = _data() / "rulesets"
    ids = ruleset_ids()
    if ruleset_id not in ids:
        raise UnknownRulesetError(
            [FieldProblem("ruleset", f"{ruleset_id!r} is not a rule set; use one of {', '.join(ids)}")]
        )
    text = (folder / f"{ruleset_id}.toml").read_text(encoding="utf-8")
    ruleset = parse_ruleset(
        text,
        origin=f"rulesets/{ruleset_id}.toml",
        read_include=lambda name: (folder / name).read_text(encoding="utf-8"),
    )
    if ruleset.id != ruleset_id:
        raise DataError(f"rulesets/{ruleset_id}.toml declares id {ruleset.id!r}")
    return ruleset


def load_data(name: str, parse: Callable[[str], _T]) -> _T:
    """The shipped data file `data/<name>` parsed by `parse` (text -> checked values), read and parsed once
    per file and parser; `parse` raises `DataError` for a broken file."""
    return cast(_T, _parsed(name, parse))


@cache
def _parsed(name: str, parse: Callable[[str], object]) -> object:
    return parse((_data() / name).read_text(encoding="utf-8"))


def load_catalogue() -> Catalogue:
    """The shipped product catalogue."""
    return load_data("products.toml", parse_catalogue)


def load_sites() -> tuple[Site, ...]:
    """The shipped injection sites (`data/sites.toml`), in rotation order."""
    return load_data("sites.toml", parse_sites)
