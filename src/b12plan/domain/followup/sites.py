"""Injection sites: the shipped list (`data/sites.toml`, parsed here from its text) and site rotation."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from b12plan.domain.codes import Route
from b12plan.domain.followup.record import TreatmentRecord
from b12plan.errors import DataError

__all__ = ["Site", "parse_sites", "suggest_site"]


class Site(BaseModel):
    """One injection site: a stable id (`deltoid-left`), a label for people, the routes it is used for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z]+(-[a-z]+)*$")]
    label: Annotated[str, Field(min_length=1)]
    routes: Annotated[tuple[Route, ...], Field(min_length=1)]

    def takes(self, route: Route) -> bool:
        return route in self.routes


def parse_sites(text: str) -> tuple[Site, ...]:
    """The sites of a `sites.toml` text, in file order; a bad entry raises DataError naming it."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"sites.toml: not valid TOML: {exc}") from exc
    raw = doc.get("site", [])
    if not isinstance(raw, list) or not raw:
        raise DataError("sites.toml: no [[site]] entries")
    sites: list[Site] = []
    for i, item in enumerate(raw):
        name = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
        try:
            site = Site.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "entry"
            raise DataError(f"sites.toml: site {name!r}: {where}: {err['msg']}") from None
        if Route.ORAL in site.routes:
            raise DataError(f"sites.toml: site {name!r}: routes: oral is not an injection route")
        if any(s.id == site.id for s in sites):
            raise DataError(f"sites.toml: site {name!r}: id: appears more than once")
        sites.append(site)
    return tuple(sites)


def suggest_site(record: TreatmentRecord, sites: Sequence[str]) -> str:
    """The site to use next: one never used yet (in the order given), else the least recently used.

    `sites` are site ids (pass only those that fit the route, e.g. `[s.id for s in sites if s.takes(route)]`).
    Rotating sites is ordinary injection practice; the order is b12plan's choice.
    """
    if not sites:
        raise ValueError("no injection sites to choose from")
    last_used: dict[str, dt.datetime] = {}
    for adm in record.administrations:
        if adm.site is None:
            continue
        moment = adm.at.replace(tzinfo=None)  # wall-clock time: the record may mix aware and naive times
        if adm.site not in last_used or moment > last_used[adm.site]:
            last_used[adm.site] = moment
    never = [s for s in sites if s not in last_used]
    if never:
        return never[0]
    return min(sites, key=lambda s: last_used[s])
