"""村医离线接口 ``/api/v1/offline/``: the phone app's scope download and outbox sync (issue 20).

Session login (the phone logs in on the site's login page) with Django's CSRF check on every
write (header ``X-CSRFToken``); only village doctors (``jkfp.offline.services.FIELD_ROLES``).
Handlers parse, call one selector or service of ``jkfp.offline`` and render. Errors use the one
error shape: ``401`` not logged in, ``403`` another role / CSRF / a device of another account,
``410`` a revoked device (the phone wipes its copy), ``422`` an unreadable body.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, cast
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.views.decorators.gzip import gzip_page
from ninja import Field, Router, Schema
from ninja.decorators import decorate_view
from ninja.security import SessionAuth
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from jkfp.accounts.http import SessionApiRequest
from jkfp.accounts.models import User
from jkfp.api.errors import ApiError, ErrorOut, validation_errors
from jkfp.offline import selectors, services
from jkfp.offline.services import CheckupData, DeliveryData, IncomingEntry, VisitData

router = Router(tags=["村医离线 offline"], auth=SessionAuth(csrf=True))

MAX_ENTRIES = 50
ERRORS = {401: ErrorOut, 403: ErrorOut, 410: ErrorOut, 422: ErrorOut}


# --- bodies ------------------------------------------------------------------------------------


class VisitIn(BaseModel):
    """随访 The visit form of the phone (the web form's fields)."""

    model_config = ConfigDict(extra="forbid")

    visited_on: date
    kind: str
    disease_ids: list[int]
    systolic: int | None = None
    diastolic: int | None = None
    glucose: Decimal | None = Field(None, max_digits=4, decimal_places=1)
    weight: Decimal | None = Field(None, max_digits=5, decimal_places=1)
    medication: str = ""
    adverse_reaction: bool = False
    new_complication: bool = False
    unstable: bool = False


class DeliveryIn(BaseModel):
    """送药 A drug delivery."""

    model_config = ConfigDict(extra="forbid")

    delivered_on: date
    drugs: str
    supply_days: int


class CheckupIn(BaseModel):
    """体检 A health check: items (name → result) and a conclusion."""

    model_config = ConfigDict(extra="forbid")

    checked_on: date
    items: dict[str, str] = {}
    conclusion: str = ""


class EntryIn(Schema):
    """离线记录 One outbox entry: the UUID the phone gave it, its kind, the person, the form's content."""

    model_config = ConfigDict(extra="forbid")

    uuid: UUID = Field(..., description="手机生成的记录编号（重发同一编号返回第一次的结果） / client UUID")
    kind: Literal["visit", "delivery", "checkup"] = Field(..., description="随访 / 送药 / 体检")
    person_id: int
    recorded_at: datetime | None = Field(None, description="手机上登记的时间 / when it was typed")
    data: dict[str, Any] = Field(
        ..., description="表单内容：visit 见 VisitIn，delivery 见 DeliveryIn，checkup 见 CheckupIn"
    )


class SyncIn(Schema):
    """同步请求 A batch of outbox entries from one device (at most 50)."""

    model_config = ConfigDict(extra="forbid")

    device_id: UUID
    entries: list[EntryIn] = Field(..., max_length=MAX_ENTRIES)


class FieldErrorOut(Schema):
    field: str
    message: str


class EntryResultOut(Schema):
    """同步结果 What the server did with one entry (the same answer for every resend of its UUID)."""

    uuid: str
    status: Literal["accepted", "refused"]
    code: str = Field(
        ..., description="拒收原因：out_of_scope, dead, duplicate, invalid, forbidden, uuid_conflict"
    )
    message: str
    errors: list[FieldErrorOut] = []
    object_id: int | None = None
    next_on: date | None = None


class SyncOut(Schema):
    results: list[EntryResultOut]


class DeviceStatusOut(Schema):
    status: Literal["active", "revoked", "unknown"]


class ScopeOut(Schema):
    """离线数据包 The doctor's scope: persons (masked ID numbers), follow-up rules, 数据截至 time."""

    as_of: datetime
    today: date
    user: dict[str, Any]
    rules: dict[str, Any]
    diseases: dict[str, str]
    labels: dict[str, dict[str, str]]
    persons: list[dict[str, Any]]


# --- handlers ----------------------------------------------------------------------------------

DATA_SCHEMAS: dict[str, type[BaseModel]] = {"visit": VisitIn, "delivery": DeliveryIn, "checkup": CheckupIn}


def _user(request: HttpRequest) -> User:
    return cast(SessionApiRequest, request).auth


def _device(request: HttpRequest, device_id: UUID) -> Any:
    """The device of this sync, or the API error the phone acts on (403, 410)."""
    try:
        return services.device_for_sync(
            user=_user(request),
            device_id=device_id,
            label=request.headers.get("User-Agent", ""),
            session_key=request.session.session_key or "",
        )
    except services.DeviceRevoked as exc:
        raise ApiError(410, "device_revoked", str(exc)) from exc
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc


def _incoming(entry: EntryIn) -> IncomingEntry:
    """The entry with its content parsed by the schema of its kind (or the field errors found)."""
    try:
        parsed = DATA_SCHEMAS[entry.kind].model_validate(entry.data)
    except PydanticValidationError as exc:
        raw = [{**e, "loc": ("body", "data", *e["loc"])} for e in exc.errors()]
        pairs = [(e["field"], e["message"].split("：", 1)[-1]) for e in validation_errors(raw)]
        return IncomingEntry(
            uuid=entry.uuid,
            kind=entry.kind,
            person_id=entry.person_id,
            payload=entry.data,
            recorded_at=entry.recorded_at,
            errors=pairs,
        )
    data: VisitData | DeliveryData | CheckupData
    if isinstance(parsed, VisitIn):
        data = VisitData(**parsed.model_dump())
    elif isinstance(parsed, DeliveryIn):
        data = DeliveryData(**parsed.model_dump())
    else:
        data = CheckupData(**parsed.model_dump())
    return IncomingEntry(
        uuid=entry.uuid,
        kind=entry.kind,
        person_id=entry.person_id,
        payload=entry.data,
        recorded_at=entry.recorded_at,
        data=data,
    )


@router.get("/scope", response={200: ScopeOut, **ERRORS}, summary="下载离线数据 / the doctor's scope")
@decorate_view(gzip_page)  # 1,000 persons: ≈ 480 KB of JSON, ≈ 20 KB gzipped (no secret in the body)
def scope(request: HttpRequest, device_id: UUID) -> Any:
    """离线数据 The persons of the doctor's villages with their conditions, schedules, last readings,
    contract and family doctor, and the follow-up rules as data; audited as an export."""
    device = _device(request, device_id)
    snapshot = selectors.field_snapshot(user=_user(request))
    services.field_snapshot_audit(
        user=_user(request), device=device, persons=len(snapshot.data["persons"]), request=request
    )
    return snapshot.data


class CsrfOut(Schema):
    csrf_token: str = Field(
        description="发回时放在 X-CSRFToken 头里 / send it back in the X-CSRFToken header"
    )


@router.get("/csrf", response={200: CsrfOut, **ERRORS}, summary="安全校验令牌 / the CSRF token for writes")
def csrf(request: HttpRequest) -> Any:
    """安全校验令牌 The token the app sends with each write: the CSRF cookie is HttpOnly, so no script
    reads it (Django masks the token anew on every call)."""
    return {"csrf_token": get_token(request)}


@router.post("/sync", response={200: SyncOut, **ERRORS}, summary="上传离线记录 / sync the outbox")
def sync(request: HttpRequest, payload: SyncIn) -> Any:
    """同步 Apply each entry once, in order; every entry gets its own result (accepted or refused with
    a Chinese reason). Re-sending an entry's UUID returns its first result."""
    device = _device(request, payload.device_id)
    user = _user(request)
    results = [
        services.sync_entry_apply(user=user, device=device, entry=_incoming(entry))
        for entry in payload.entries
    ]
    return {"results": results}


@router.get(
    "/devices/{device_id}",
    auth=None,
    response={200: DeviceStatusOut},
    summary="设备状态 / is this device revoked",
)
def device_status(request: HttpRequest, device_id: UUID) -> Any:
    """设备状态 Asked by a phone whose session has ended: a revoked device wipes its copy."""
    if services.device_is_revoked(device_id=device_id):
        return {"status": "revoked"}
    return {"status": "unknown"}
