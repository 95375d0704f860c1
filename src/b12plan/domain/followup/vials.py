"""Opened multi-dose vials: when each is to be discarded, how long it has left, what is left in it.

A multi-dose vial is discarded `discard_after_days` after first puncture (28 days unless the label says
otherwise: CDC, REFERENCE 4.3) and kept to one person; it is not drawn from on or after its discard day
(the same reading as `products.supply_for`).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from b12plan.domain.codes import AlertLevel
from b12plan.domain.followup.finding import Finding, make_finding
from b12plan.domain.followup.record import TreatmentRecord, VialInUse
from b12plan.domain.rules import RuleSet

__all__ = ["VialStatus", "discard_day", "vial_status"]


class VialStatus(BaseModel):
    """One opened vial on a day. `days_left` counts the days it may still be used (0 once expired);
    `finding` (VIAL_DISCARD) is set for an expired vial with something left, when rules were given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    product_id: str | None
    opened: dt.date
    discard_on: dt.date | None
    days_left: int | None
    volume_ml: float
    volume_left_ml: float
    empty: bool
    expired: bool
    finding: Finding | None = None


def discard_day(vial: VialInUse) -> dt.date | None:
    """The first day the vial may no longer be used, or None when it has no discard rule."""
    if vial.discard_after_days is None:
        return None
    return vial.opened + dt.timedelta(days=vial.discard_after_days)


def vial_status(record: TreatmentRecord, on: dt.date, rules: RuleSet | None = None) -> list[VialStatus]:
    """Every vial opened by `on`, in opening order. With `rules`, an expired vial that still holds some
    volume carries a VIAL_DISCARD finding citing the rule set's MULTIDOSE_DISCARD alert rule."""
    out: list[VialStatus] = []
    alert = rules.alert("MULTIDOSE_DISCARD") if rules is not None else None
    for vial in sorted((v for v in record.vials if v.opened <= on), key=lambda v: (v.opened, v.id)):
        discard_on = discard_day(vial)
        expired = discard_on is not None and on >= discard_on
        empty = vial.volume_left_ml <= 0
        finding = None
        if expired and not empty and rules is not None and alert is not None and discard_on is not None:
            message = (
                f"Vial {vial.id} (opened {vial.opened.isoformat()}) was to be discarded on "
                f"{discard_on.isoformat()}: do not draw from it; discard the {vial.volume_left_ml:g} mL left "
                "and open a new vial."
            )
            finding = make_finding(rules, "VIAL_DISCARD", AlertLevel.WARNING, message, [alert.id])
        out.append(
            VialStatus(
                id=vial.id,
                product_id=vial.product_id,
                opened=vial.opened,
                discard_on=discard_on,
                days_left=None if discard_on is None else max(0, (discard_on - on).days),
                volume_ml=vial.volume_ml,
                volume_left_ml=vial.volume_left_ml,
                empty=empty,
                expired=expired,
                finding=finding,
            )
        )
    return out
