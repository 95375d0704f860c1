"""A patient's private calendar feed: `GET /feeds/{id}.ics?sig=...`, subscribed to by a phone's calendar.

The signature (`accounts.feed_signature`) is the access check, made by `as_user.calendar_feed`; the
link is shown on the patient's page to those who may read the record. One VEVENT per planned injection,
test and review of the current plan version, with stable UIDs (the calendar id is the patient id), so a
new plan version updates the phone's events instead of adding new ones. Changing the server's secret
changes every feed link.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from b12plan.services import as_user
from b12plan.web.deps import State
from b12plan.web.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["calendar"])


@router.get(
    "/feeds/{ref}.ics",
    name="feed",
    summary="A patient's calendar feed (iCalendar)",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The current plan's events"},
        403: ERROR_RESPONSES[403],
        422: ERROR_RESPONSES[422],
    },
)
def feed(ref: str, state: State, sig: Annotated[str, Query(max_length=200)] = "") -> Response:
    ics, version = as_user.calendar_feed(
        state.store("calendar-feed"),
        ref,
        sig,
        secret=state.settings.secret_key,
        tz=state.settings.timezone,
    )
    headers = {
        "content-disposition": f'inline; filename="b12plan-{ref}.ics"',
        "etag": f'"{ref}-v{version.version}"',
    }
    return Response(ics, media_type="text/calendar; charset=utf-8", headers=headers)
