"""The JSON API (mounted at /api) over the same services as the pages, behind the same access rules.

    POST /api/token                       OAuth2 password form -> {"access_token", "token_type": "bearer"}
    POST /api/plan                        a case -> its plan, exactly the CLI's `plan --format json`
    GET  /api/me                          who the token is for
    POST /api/me/password                 change your own password (the current one required): a new token
    GET|POST /api/users                   the accounts; add one (admins)
    POST /api/users/{username}/password   set an account's password (admins)
    POST /api/users/{username}/disable, /enable   disable an account (someone who left), enable it (admins)
    GET  /api/due                         doses due or overdue (a clinician: their clinic)
    GET|POST /api/patients                list, add
    GET  /api/patients/{id}               the patient, plan versions, next dose
    GET|POST /api/patients/{id}/plans     plan versions; save a new one
    GET  /api/patients/{id}/plans/{n}     one version with its case and plan
    GET|POST /api/patients/{id}/administrations, /vials, /labs, /symptoms
    GET  /api/patients/{id}/review        the follow-up review today

Every route but /token needs `Authorization: Bearer <token>` (401 without). Errors: errors.py.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm

from b12plan import services
from b12plan.domain import followup
from b12plan.errors import FieldProblem, NotSignedInError, UserError
from b12plan.schemas import json_schema
from b12plan.services import accounts, as_user
from b12plan.web.api_models import (
    AdministrationIn,
    AdministrationOut,
    DueOut,
    GivenOut,
    LabIn,
    LabOut,
    MeOut,
    PasswordChangeIn,
    PasswordIn,
    PatientDetail,
    PatientIn,
    PatientOut,
    PlanVersionIn,
    PlanVersionOut,
    PlanVersionSummary,
    SymptomIn,
    SymptomOut,
    TokenOut,
    UserIn,
    UserOut,
    VialIn,
    VialOut,
)
from b12plan.web.deps import ApiActor, ApiStore, Clock, State
from b12plan.web.errors import ERROR_RESPONSES, ErrorBody, TooManyAttempts
from b12plan.web.routes.auth import client_address

__all__ = ["contract_schemas", "router"]

router = APIRouter(tags=["api"], responses={401: ERROR_RESPONSES[401]})
_READ: dict[int | str, dict[str, Any]] = {
    403: ERROR_RESPONSES[403],
    404: ERROR_RESPONSES[404],
    422: ERROR_RESPONSES[422],
}
_WRITE = _READ
_PATIENT = Annotated[str, "the patient's pseudonymous id"]


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in: an OAuth2 password form gives a bearer token",
    responses={
        401: ERROR_RESPONSES[401],
        422: ERROR_RESPONSES[422],
        429: {"model": ErrorBody, "description": "Too many failed sign-ins: wait Retry-After seconds"},
    },
)
def token(request: Request, state: State, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    address = client_address(request)
    wait = state.limiter.retry_after(address, form.username)
    if wait is not None:
        raise TooManyAttempts(wait)
    actor = accounts.authenticate(state.store("api"), form.username, form.password)
    if actor is None:
        state.limiter.failed(address, form.username)
        raise NotSignedInError("the username or password is wrong", field="password")
    state.limiter.succeeded(address, form.username)
    return TokenOut(access_token=state.signer.token(actor.user_id, actor.stamp))


def _plan_response(status: int = 200) -> dict[int | str, dict[str, Any]]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Plan"}}}
    return {status: {"description": "The plan (b12plan.plan/1)", "content": content}, **_READ}


_CASE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}},
    }
}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError([FieldProblem("body", "is not valid JSON")]) from None
    if not isinstance(body, dict):
        raise UserError([FieldProblem("case", "must be a JSON object with at least `patient`")])
    return body


@router.post(
    "/plan",
    summary="Plan a case (the same JSON as `b12plan plan CASE --format json`)",
    response_class=Response,
    responses=_plan_response(),
    openapi_extra=_CASE_BODY,
)
async def plan(
    request: Request,
    actor: ApiActor,
    now: Clock,
    ruleset: Annotated[str | None, Query(max_length=64, description="Overrides the case's rule set.")] = None,
    horizon: Annotated[int, Query(ge=1, le=60, description="Months of maintenance in the calendar.")] = 12,
) -> Response:
    case = await _json_object(request)
    # Planning is pure computation (about a millisecond; the body is capped at 1 MB): it runs here on the
    # event loop, like the JSON writing. A hop to the thread pool cost a good part of that again and, under
    # the GIL, bought no parallelism.
    made = as_user.preview_plan(actor, case, today=now.date(), ruleset=ruleset, horizon_months=horizon)
    text = services.render_plan(made, "json")
    return Response(text, media_type="application/json")


@router.get("/me", response_model=MeOut, summary="The account this token is for")
async def me(actor: ApiActor) -> MeOut:  # no I/O: on the event loop, not the thread pool
    return MeOut(
        username=actor.username, role=actor.role.value, clinic=actor.clinic, patient=actor.patient_ref
    )


@router.post(
    "/me/password",
    response_model=TokenOut,
    summary="Change your own password: every other token and session ends; a new token comes back",
    responses={
        403: ERROR_RESPONSES[403],
        422: ERROR_RESPONSES[422],
        429: {"model": ErrorBody, "description": "Too many wrong passwords: wait Retry-After seconds"},
    },
)
def change_my_password(
    request: Request, body: PasswordChangeIn, actor: ApiActor, store: ApiStore, state: State
) -> TokenOut:
    address = client_address(request)
    wait = state.limiter.retry_after(address, actor.username)
    if wait is not None:
        raise TooManyAttempts(wait)
    try:
        changed = accounts.change_password(store, actor, body.current_password, body.new_password)
    except UserError as exc:
        if any(p.field == "current_password" for p in exc.problems):
            state.limiter.failed(address, actor.username)
        raise
    return TokenOut(access_token=state.signer.token(changed.user_id, changed.stamp))


@router.get("/users", response_model=list[UserOut], summary="The accounts (admins)", responses=_READ)
def users(actor: ApiActor, store: ApiStore) -> list[UserOut]:
    return [UserOut.of(u) for u in accounts.list_users_as(store, actor)]


@router.post(
    "/users", response_model=UserOut, status_code=201, summary="Add an account (admins)", responses=_WRITE
)
def add_user(body: UserIn, actor: ApiActor, store: ApiStore) -> UserOut:
    added = accounts.add_user_as(
        store, actor, body.username, body.password, body.role, clinic=body.clinic, patient=body.patient
    )
    return UserOut.of(added)


@router.post(
    "/users/{username}/password",
    response_model=UserOut,
    summary="Set an account's password (admins): its sessions and tokens end",
    responses=_WRITE,
)
def reset_password(username: str, body: PasswordIn, actor: ApiActor, store: ApiStore) -> UserOut:
    return UserOut.of(accounts.reset_password(store, actor, username, body.password))


@router.post(
    "/users/{username}/disable",
    response_model=UserOut,
    summary="Disable an account (admins; not your own, nor the last active admin): it cannot sign in",
    responses=_WRITE,
)
def disable_user(username: str, actor: ApiActor, store: ApiStore) -> UserOut:
    return UserOut.of(accounts.disable_user(store, actor, username))


@router.post(
    "/users/{username}/enable",
    response_model=UserOut,
    summary="Enable a disabled account again (admins)",
    responses=_WRITE,
)
def enable_user(username: str, actor: ApiActor, store: ApiStore) -> UserOut:
    return UserOut.of(accounts.enable_user(store, actor, username))


@router.get("/due", response_model=list[DueOut], summary="Doses due or overdue on a day", responses=_READ)
def due(actor: ApiActor, store: ApiStore, now: Clock) -> list[DueOut]:
    return [DueOut.of(e.patient.ref, e.due) for e in as_user.due_list(store, actor, on=now.date())]


@router.get("/patients", response_model=list[PatientOut], summary="Patients you may see", responses=_READ)
def patients(actor: ApiActor, store: ApiStore) -> list[PatientOut]:
    return [PatientOut.of(p) for p in as_user.patients(store, actor)]


@router.post(
    "/patients", response_model=PatientOut, status_code=201, summary="Add a patient", responses=_WRITE
)
def add_patient(body: PatientIn, actor: ApiActor, store: ApiStore) -> PatientOut:
    added = as_user.add_patient(store, actor, body.id, name=body.name, clinic=body.clinic)
    return PatientOut.of(added)


@router.get("/patients/{ref}", response_model=PatientDetail, summary="One patient", responses=_READ)
def patient(ref: _PATIENT, actor: ApiActor, store: ApiStore, now: Clock) -> PatientDetail:
    overview = as_user.overview(store, actor, ref, now=now)
    return PatientDetail(
        patient=PatientOut.of(overview.file.patient),
        plan_versions=[PlanVersionSummary.of(v) for v in overview.file.plan_versions],
        next_due=DueOut.of(ref, overview.next_due) if overview.next_due else None,
    )


@router.get(
    "/patients/{ref}/plans", response_model=list[PlanVersionSummary], summary="Plan versions", responses=_READ
)
def plan_versions(ref: _PATIENT, actor: ApiActor, store: ApiStore) -> list[PlanVersionSummary]:
    return [PlanVersionSummary.of(v) for v in as_user.plan_versions(store, actor, ref)]


@router.post(
    "/patients/{ref}/plans",
    response_model=PlanVersionOut,
    status_code=201,
    summary="Plan a case and save it as the next plan version",
    responses=_WRITE,
)
def save_plan(
    ref: _PATIENT, body: PlanVersionIn, actor: ApiActor, store: ApiStore, now: Clock
) -> PlanVersionOut:
    _made, stored = as_user.save_plan(store, actor, ref, body.case, reason=body.reason, now=now)
    return PlanVersionOut.full(stored)


@router.get(
    "/patients/{ref}/plans/{version}",
    response_model=PlanVersionOut,
    summary="One plan version",
    responses=_READ,
)
def plan_version(ref: _PATIENT, version: int, actor: ApiActor, store: ApiStore) -> PlanVersionOut:
    return PlanVersionOut.full(as_user.plan_version(store, actor, ref, version).stored)


@router.get(
    "/patients/{ref}/administrations",
    response_model=list[AdministrationOut],
    summary="Doses given",
    responses=_READ,
)
def administrations(ref: _PATIENT, actor: ApiActor, store: ApiStore) -> list[AdministrationOut]:
    return [AdministrationOut.of(a) for a in as_user.patient_file(store, actor, ref).administrations]


@router.post(
    "/patients/{ref}/administrations",
    response_model=GivenOut,
    status_code=201,
    summary="Record a dose given",
    responses=_WRITE,
)
def give(ref: _PATIENT, body: AdministrationIn, actor: ApiActor, store: ApiStore, now: Clock) -> GivenOut:
    at = body.at.astimezone().replace(tzinfo=None) if body.at and body.at.tzinfo else body.at
    given = as_user.give_dose(
        store,
        actor,
        ref,
        now=now,
        at=at,
        dose=body.dose,
        route=body.route,
        site=body.site,
        lot=body.lot,
        expiry=body.expiry,
        vial=body.vial_id,
        product=body.product_id,
    )
    a = given.administration
    return GivenOut(
        id=given.id,
        at=a.at,
        dose_mcg=a.dose_mcg,
        route=a.route.value,
        volume_ml=a.volume_ml,
        site=a.site,
        given_by=a.given_by,
        vial_left_ml=given.vial_left_ml,
        next_site=given.next_site,
    )


@router.get(
    "/patients/{ref}/vials", response_model=list[VialOut], summary="Multi-dose vials opened", responses=_READ
)
def vials(ref: _PATIENT, actor: ApiActor, store: ApiStore) -> list[VialOut]:
    return [VialOut.of(v) for v in as_user.patient_file(store, actor, ref).vials]


@router.post(
    "/patients/{ref}/vials",
    response_model=VialOut,
    status_code=201,
    summary="Record a multi-dose vial opened (its discard day is worked out)",
    responses=_WRITE,
)
def open_vial(ref: _PATIENT, body: VialIn, actor: ApiActor, store: ApiStore, now: Clock) -> VialOut:
    opened = as_user.open_vial(
        store,
        actor,
        ref,
        now=now,
        product=body.product_id,
        opened=body.opened,
        lot=body.lot,
        expiry=body.expiry,
    )
    return VialOut.of(opened)


@router.get("/patients/{ref}/labs", response_model=list[LabOut], summary="Lab results", responses=_READ)
def labs(ref: _PATIENT, actor: ApiActor, store: ApiStore) -> list[LabOut]:
    return [LabOut.of(lab) for lab in as_user.patient_file(store, actor, ref).labs]


@router.post(
    "/patients/{ref}/labs",
    response_model=LabOut,
    status_code=201,
    summary="Record a lab result",
    responses=_WRITE,
)
def add_lab(ref: _PATIENT, body: LabIn, actor: ApiActor, store: ApiStore, now: Clock) -> LabOut:
    entry = as_user.add_lab(
        store,
        actor,
        ref,
        test=body.test,
        value=body.value,
        unit=body.unit,
        date=body.date,
        upper_limit=body.upper_limit,
        lower_limit=body.lower_limit,
        now=now,
    )
    return LabOut(
        id=None,
        date=entry.date,
        test=entry.test.value,
        value=entry.value,
        unit=entry.unit,
        upper_limit=body.upper_limit,
        lower_limit=body.lower_limit,
    )


@router.get(
    "/patients/{ref}/symptoms", response_model=list[SymptomOut], summary="Symptom diary", responses=_READ
)
def symptoms(ref: _PATIENT, actor: ApiActor, store: ApiStore) -> list[SymptomOut]:
    return [SymptomOut.of(s) for s in as_user.patient_file(store, actor, ref).symptoms]


@router.post(
    "/patients/{ref}/symptoms",
    response_model=SymptomOut,
    status_code=201,
    summary="Record a symptom diary score (0-10)",
    responses=_WRITE,
)
def add_symptom(ref: _PATIENT, body: SymptomIn, actor: ApiActor, store: ApiStore, now: Clock) -> SymptomOut:
    entry = as_user.add_diary(store, actor, ref, {body.symptom: body.score}, date=body.date, now=now)[0]
    return SymptomOut(id=None, date=entry.date, symptom=entry.symptom.value, score=entry.score)


@router.get(
    "/patients/{ref}/review",
    response_model=followup.Review,
    summary="The follow-up review today",
    responses=_READ,
)
def review(ref: _PATIENT, actor: ApiActor, store: ApiStore, now: Clock) -> followup.Review:
    return as_user.review(store, actor, ref, on=now.date())


def contract_schemas(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the contract's JSON Schemas (`Case`, `Plan`, and their definitions) to an OpenAPI document's
    components, with their `#/$defs/...` references pointed at the components."""
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, which in (("Case", "case"), ("Plan", "plan")):
        schema = json_schema(which)
        text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
        moved: dict[str, Any] = json.loads(text)
        for key in ("$schema", "$id"):
            moved.pop(key, None)
        for def_name, definition in moved.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components[name] = moved
    return openapi
