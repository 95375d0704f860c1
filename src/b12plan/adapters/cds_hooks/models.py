"""CDS Hooks 2.0 request and response bodies as pydantic models.

Built from the specification's logical models (https://cds-hooks.hl7.org/2.0/ : Discovery, Calling a CDS
Service, CDS Service Response, Data Types), not from the public JSON schemas, which predate 1.0. Python names
are snake_case; the JSON names are the specification's (`hookInstance`, `selectionBehavior`; `access_token`
inside `fhirAuthorization`).

Requests are read leniently where the specification lets a hook grow (unknown fields are kept, never read)
and strictly where b12plan relies on a field (types, required fields, `token_type` = `Bearer`). Responses are
strict: a card b12plan builds that breaks the specification (a summary of 140 characters or more,
suggestions without `selectionBehavior`, an update action without its resource) fails here, in b12plan,
before any client sees it. Empty optional arrays are refused: the specification says to omit them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "SUMMARY_MAX",
    "Action",
    "Card",
    "CdsResponse",
    "Coding",
    "DiscoveryResponse",
    "FhirAuthorization",
    "HookRequest",
    "Indicator",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "PatientViewContext",
    "SelectionBehavior",
    "Service",
    "Source",
    "Suggestion",
]

SUMMARY_MAX = 139
"""A card summary is a "one-sentence, <140-character" message: at most 139 characters."""

JSON = dict[str, Any]
Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]
Text = Annotated[str, Field(min_length=1)]


def _absolute_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


class _Out(BaseModel):
    """A response part: JSON names on the wire, snake_case in Python, nothing unknown."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        extra="forbid",
    )


class _In(BaseModel):
    """A request part: only the JSON names are accepted; fields b12plan does not read are kept, unread."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        frozen=True,
        extra="allow",
    )


# -- discovery ---------------------------------------------------------------------------------------------


class Service(_Out):
    """One CDS Service in the discovery response; called at `{baseUrl}/cds-services/{id}`."""

    hook: Text
    title: str | None = None
    description: Text
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-._~]+$")]
    prefetch: dict[str, str] | None = None
    usage_requirements: str | None = None


class DiscoveryResponse(_Out):
    services: list[Service]

    def to_json(self) -> JSON:
        return self.model_dump(mode="json", exclude_none=True)


# -- the request -------------------------------------------------------------------------------------------


class FhirAuthorization(BaseModel):
    """OAuth 2.0 bearer token for the client's FHIR server. b12plan never calls FHIR servers, so the token
    is checked for shape only, never used, logged or echoed."""

    model_config = ConfigDict(frozen=True, extra="allow", hide_input_in_errors=True)

    access_token: Annotated[str, Field(min_length=1, repr=False)]
    token_type: Literal["Bearer"]
    expires_in: int
    scope: Text
    subject: Text
    patient: str | None = None


class HookRequest(_In):
    """The body POSTed to a CDS Service. `context` and `prefetch` are read per hook by the service."""

    model_config = ConfigDict(hide_input_in_errors=True)

    hook: Text
    hook_instance: Text
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    context: JSON
    prefetch: dict[str, Any] | None = None
    extension: JSON | None = None

    @field_validator("fhir_server")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _absolute_url(value)

    @field_validator("fhir_authorization")
    @classmethod
    def _server_with_token(
        cls, value: FhirAuthorization | None, info: ValidationInfo
    ) -> FhirAuthorization | None:
        if value is not None and not info.data.get("fhir_server"):
            raise ValueError("is given without fhirServer, which is then required")
        return value


class PatientViewContext(_In):
    """patient-view 1.0 context."""

    user_id: Text
    patient_id: Text
    encounter_id: str | None = None


class OrderSignContext(PatientViewContext):
    """order-sign context: `draftOrders` is a FHIR R4 Bundle of the unsigned orders."""

    draft_orders: JSON


class OrderSelectContext(OrderSignContext):
    """order-select context: `selections` names the newly selected orders (`MedicationRequest/103`)."""

    selections: Annotated[list[Text], Field(min_length=1)]


# -- the response ------------------------------------------------------------------------------------------


class Coding(_Out):
    code: Text
    system: Text
    display: str | None = None


class Source(_Out):
    label: Text
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _absolute_url(value)


class Action(_Out):
    """`create`/`update` carry the whole resource; `delete` names it by `resourceId` (`Type/id`)."""

    type: Literal["create", "update", "delete"]
    description: Text
    resource: JSON | None = None
    resource_id: str | None = None

    @model_validator(mode="after")
    def _target(self) -> Action:
        if self.type in ("create", "update"):
            if not self.resource or not isinstance(self.resource.get("resourceType"), str):
                raise ValueError(f"a {self.type} action needs a FHIR resource")
        elif not self.resource_id:
            raise ValueError("a delete action needs resourceId")
        return self


class Suggestion(_Out):
    label: Text
    uuid: str | None = None
    is_recommended: bool | None = None
    actions: Annotated[list[Action] | None, Field(min_length=1)] = None


class Link(_Out):
    label: Text
    url: str
    type: Literal["absolute", "smart"]
    app_context: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _absolute_url(value) or value

    @model_validator(mode="after")
    def _app_context_is_smart(self) -> Link:
        if self.app_context is not None and self.type != "smart":
            raise ValueError("appContext is only valid for smart links")
        return self


class Card(_Out):
    uuid: str | None = None
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: Annotated[list[Suggestion] | None, Field(min_length=1)] = None
    selection_behavior: SelectionBehavior | None = None
    override_reasons: Annotated[list[Coding] | None, Field(min_length=1)] = None
    links: Annotated[list[Link] | None, Field(min_length=1)] = None

    @model_validator(mode="after")
    def _spec_rules(self) -> Card:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when suggestions are given")
        recommended = sum(1 for s in self.suggestions or () if s.is_recommended)
        if self.selection_behavior == "at-most-one" and recommended > 1:
            raise ValueError("at most one suggestion is recommended when selectionBehavior is at-most-one")
        if self.override_reasons and any(not r.display for r in self.override_reasons):
            raise ValueError("every override reason needs a display")
        return self


class CdsResponse(_Out):
    cards: list[Card]
    system_actions: Annotated[list[Action] | None, Field(min_length=1)] = None

    def to_json(self) -> JSON:
        return self.model_dump(mode="json", exclude_none=True)
