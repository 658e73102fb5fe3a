"""村医离线写操作 Devices and the sync of a phone's outbox (issue 20).

Every entry is validated and written by the care services the web forms use
(``followup_record``, ``drug_delivery_record``, ``checkup_record``): the sync adds only the
idempotency by the entry's UUID, the mapping of a refusal to a code the phone understands, and
devices that the county administrator can revoke.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from jkfp.accounts import scoping
from jkfp.accounts.models import AuditAction, Role, User
from jkfp.accounts.permissions import ERR_OFFLINE_ROLE
from jkfp.accounts.scoping import user_sees_code
from jkfp.accounts.services import audit_record
from jkfp.care import selectors as care_selectors
from jkfp.care import services as care
from jkfp.care.models import FollowUp
from jkfp.offline.models import Device, EntryStatus, RefusalCode, SyncEntry

# Who may use the offline app (domain.md §2: the village doctor records visits and deliveries in
# their own villages). The API and the app's page check exactly this.
FIELD_ROLES = frozenset({Role.VILLAGE_DOCTOR})

ERR_ROLE_FIELD = ERR_OFFLINE_ROLE  # the permission matrix refuses other roles with the same words
ERR_DEVICE_REVOKED = "此手机已被县卫健局吊销：手机上的数据已清除，请联系县卫健局"
ERR_DEVICE_OTHER_USER = "此手机已绑定其他账号，请先在手机上退出登录"
ERR_OUT_OF_SCOPE = "此人已不在您的管辖范围内（可能已迁出）或不存在"
ERR_UUID_CONFLICT = "记录编号已被其他账号使用，请重新登记"
ERR_REVOKE_ROLE = "只有县卫健局管理员可以吊销设备"
ERR_REVOKE_SCOPE = "该设备不在您的管辖范围内"
ERR_REVOKE_DONE = "该设备已于{when}吊销"
ERR_REVOKE_REASON = "请填写吊销原因（2–200字）"
MSG_DUPLICATE_BY = "{message}（{who}已登记）"

# Chinese names of the entry fields, for the messages the phone shows.
FIELD_LABELS = {
    "person": "人员",
    "visited_on": "随访日期",
    "kind": "随访方式",
    "disease_ids": "本次随访疾病",
    "systolic": "收缩压",
    "diastolic": "舒张压",
    "glucose": "空腹血糖",
    "weight": "体重",
    "medication": "用药情况",
    "delivered_on": "送药日期",
    "drugs": "药品",
    "supply_days": "用药天数",
    "checked_on": "体检日期",
    "items": "体检项目",
    "conclusion": "体检结论",
}


class DeviceRevoked(Exception):
    """设备已吊销 The phone must wipe its copy (the API answers 410)."""


@dataclass(frozen=True)
class VisitData:
    """随访内容 What the phone's visit form holds (the web form's fields)."""

    visited_on: date
    kind: str
    disease_ids: list[int]
    systolic: int | None = None
    diastolic: int | None = None
    glucose: Decimal | None = None
    weight: Decimal | None = None
    medication: str = ""
    adverse_reaction: bool = False
    new_complication: bool = False
    unstable: bool = False


@dataclass(frozen=True)
class DeliveryData:
    """送药内容 A drug delivery typed on the phone."""

    delivered_on: date
    drugs: str
    supply_days: int


@dataclass(frozen=True)
class CheckupData:
    """体检内容 A health check typed on the phone."""

    checked_on: date
    items: dict[str, str] = field(default_factory=dict)
    conclusion: str = ""


EntryData = VisitData | DeliveryData | CheckupData


@dataclass(frozen=True)
class IncomingEntry:
    """离线记录 One outbox entry as received: its UUID, what it records, and its parsed content (or
    the field errors that made it unreadable)."""

    uuid: uuid_module.UUID
    kind: str
    person_id: int
    payload: dict[str, Any]
    recorded_at: datetime | None = None
    data: EntryData | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)


def field_role_check(*, user: Any) -> None:
    """离线应用角色 ``PermissionDenied`` unless the user is a village doctor."""
    if getattr(user, "role", None) not in FIELD_ROLES:
        raise PermissionDenied(ERR_ROLE_FIELD)


def device_for_sync(
    *, user: User, device_id: uuid_module.UUID, label: str = "", session_key: str = ""
) -> Device:
    """同步设备 The user's device ``device_id`` (registered at its first sync), stamped with this sync.

    ``DeviceRevoked`` when the county administrator revoked it; ``PermissionDenied`` when another
    account registered it.
    """
    field_role_check(user=user)
    device, _ = Device.objects.get_or_create(
        device_id=device_id, defaults={"user": user, "label": label[:300], "session_key": session_key[:40]}
    )
    if device.revoked_at is not None:
        raise DeviceRevoked(ERR_DEVICE_REVOKED)
    if device.user_id != user.pk:
        raise PermissionDenied(ERR_DEVICE_OTHER_USER)
    device.last_sync_at = timezone.now()
    device.session_key = session_key[:40] or device.session_key
    device.label = label[:300] or device.label
    device.save(update_fields=["last_sync_at", "session_key", "label"])
    return device


def device_is_revoked(*, device_id: uuid_module.UUID) -> bool:
    """设备是否已吊销 True when ``device_id`` was revoked (asked by a phone whose session ended)."""
    return Device.objects.filter(device_id=device_id, revoked_at__isnull=False).exists()


def device_revoke(*, user: User, device: Device, reason: str, request: Any = None) -> Device:
    """吊销设备 Revoke a phone left logged in: its session ends now and its next sync wipes its copy."""
    if user.role != Role.COUNTY_ADMIN:
        raise PermissionDenied(ERR_REVOKE_ROLE)
    if not user_sees_code(user, device.user.region_id):
        raise PermissionDenied(ERR_REVOKE_SCOPE)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise ValidationError({"reason": ERR_REVOKE_REASON})
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if locked.revoked_at is not None:
            when = timezone.localtime(locked.revoked_at).strftime("%Y-%m-%d %H:%M")
            raise ValidationError({"device": ERR_REVOKE_DONE.format(when=when)})
        locked.revoked_at = timezone.now()
        locked.revoked_by = user.username
        locked.revoke_reason = reason
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        if locked.session_key:
            Session.objects.filter(session_key=locked.session_key).delete()
        audit_record(
            user=user,
            action=AuditAction.CHANGE,
            object_type="offline_device",
            object_id=str(locked.device_id),
            detail=f"吊销离线设备 {locked.user.username} {locked.label[:80]} 原因：{reason}",
            region_code=locked.user.region_id or "",
            request=request,
        )
    return locked


def field_snapshot_audit(*, user: User, device: Device, persons: int, request: Any = None) -> None:
    """离线数据下载审计 A phone's copy of the doctor's scope is an export of persons: audited."""
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        object_type="offline_scope",
        object_id=str(device.device_id),
        detail=f"离线数据同步 {persons}人",
        region_code=user.region_id or "",
        request=request,
    )


# --- the outbox --------------------------------------------------------------------------------


def _label(field_name: str) -> str:
    return FIELD_LABELS.get(field_name, field_name)


def _errors(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"field": f, "message": f"{_label(f)}：{m}" if f in FIELD_LABELS else m} for f, m in pairs]


def _refused(code: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    errors = _errors(pairs)
    return {
        "status": EntryStatus.REFUSED.value,
        "code": code,
        "message": "；".join(e["message"] for e in errors),
        "errors": errors,
    }


def _who_recorded_visit(person_id: int, on: date) -> str:
    visit = (
        FollowUp.objects.filter(person_id=person_id, visited_on=on)
        .select_related("doctor", "recorded_by")
        .first()
    )
    if visit is None:
        return ""
    if visit.doctor is not None:
        return visit.doctor.name
    return str(visit.recorded_by) if visit.recorded_by is not None else ""


def _refusal_of(exc: ValidationError, entry: IncomingEntry) -> dict[str, Any]:
    pairs = [(f, str(m)) for f, messages in exc.message_dict.items() for m in messages]
    texts = {m for _, m in pairs}
    if care.ERR_DEAD in texts:
        return _refused(RefusalCode.DEAD, pairs)
    if care.ERR_VISIT_EXISTS in texts or care.ERR_CHECKUP_EXISTS in texts:
        if care.ERR_VISIT_EXISTS in texts and isinstance(entry.data, VisitData):
            who = _who_recorded_visit(entry.person_id, entry.data.visited_on)
            if who:
                pairs = [
                    (f, MSG_DUPLICATE_BY.format(message=m, who=who) if m == care.ERR_VISIT_EXISTS else m)
                    for f, m in pairs
                ]
        return _refused(RefusalCode.DUPLICATE, pairs)
    return _refused(RefusalCode.INVALID, pairs)


def _record(*, user: User, entry: IncomingEntry) -> dict[str, Any]:
    """Write the entry with the care service of its kind; the accepted result or the refusal."""
    if entry.errors or entry.data is None:
        return _refused(RefusalCode.INVALID, entry.errors or [("kind", "无法识别的记录")])
    try:
        person = care_selectors.person_get(user=user, pk=entry.person_id)
    except Http404:
        return _refused(RefusalCode.OUT_OF_SCOPE, [("person", ERR_OUT_OF_SCOPE)])
    data = entry.data
    try:
        with transaction.atomic():
            if isinstance(data, VisitData):
                visit = care.followup_record(
                    user=user,
                    person=person,
                    visited_on=data.visited_on,
                    kind=data.kind,
                    disease_ids=data.disease_ids,
                    systolic=data.systolic,
                    diastolic=data.diastolic,
                    glucose=data.glucose,
                    weight=data.weight,
                    medication=data.medication,
                    adverse_reaction=data.adverse_reaction,
                    new_complication=data.new_complication,
                    unstable=data.unstable,
                )
                obj_id, next_on = visit.pk, visit.next_on
            elif isinstance(data, DeliveryData):
                delivery = care.drug_delivery_record(
                    user=user,
                    person=person,
                    delivered_on=data.delivered_on,
                    drugs=data.drugs,
                    supply_days=data.supply_days,
                )
                obj_id, next_on = delivery.pk, None
            else:
                checkup = care.checkup_record(
                    user=user,
                    person=person,
                    checked_on=data.checked_on,
                    items=data.items,
                    conclusion=data.conclusion,
                    replace=False,
                )
                obj_id, next_on = checkup.pk, None
    except ValidationError as exc:
        return _refusal_of(exc, entry)
    except PermissionDenied as exc:
        if str(exc) == scoping.ERR_OUT_OF_SCOPE:
            return _refused(RefusalCode.OUT_OF_SCOPE, [("person", ERR_OUT_OF_SCOPE)])
        return _refused(RefusalCode.FORBIDDEN, [("person", str(exc))])
    except IntegrityError:
        # Another writer recorded the same person and day between the check and the insert.
        message = care.ERR_VISIT_EXISTS if isinstance(data, VisitData) else care.ERR_CHECKUP_EXISTS
        field_name = "visited_on" if isinstance(data, VisitData) else "checked_on"
        return _refused(RefusalCode.DUPLICATE, [(field_name, message)])
    return {
        "status": EntryStatus.ACCEPTED.value,
        "code": "",
        "message": "",
        "errors": [],
        "object_id": obj_id,
        "next_on": next_on.isoformat() if next_on else None,
    }


def _stored(row: SyncEntry, user: User) -> dict[str, Any]:
    """The first result of an entry sent again (counted), or a conflict when another account owns it."""
    if row.user_id != user.pk:
        return _refused(RefusalCode.UUID_CONFLICT, [("uuid", ERR_UUID_CONFLICT)])
    SyncEntry.objects.filter(pk=row.pk).update(received_count=F("received_count") + 1)
    return dict(row.result)


def sync_entry_apply(*, user: User, device: Device, entry: IncomingEntry) -> dict[str, Any]:
    """同步一条离线记录 Apply one outbox entry once: the same UUID again returns the first result.

    The UUID row is inserted first, in the entry's transaction: a concurrent resend blocks on the
    unique key until this one commits, then fails to insert and reads the stored result, so an
    entry is never written twice. A refusal is stored too (the phone shows it in 待处理; a
    corrected entry is sent under a new UUID).
    """
    field_role_check(user=user)
    existing = SyncEntry.objects.filter(uuid=entry.uuid).first()
    if existing is not None:
        return {"uuid": str(entry.uuid), **_stored(existing, user)}
    try:
        with transaction.atomic():
            row = SyncEntry.objects.create(
                uuid=entry.uuid,
                device=device,
                user=user,
                kind=entry.kind,
                person_id=entry.person_id,
                payload=entry.payload,
                recorded_at=entry.recorded_at,
                status=EntryStatus.ACCEPTED,
            )
            result = _record(user=user, entry=entry)
            row.status = result["status"]
            row.code = result["code"]
            row.result = result
            row.save(update_fields=["status", "code", "result"])
    except IntegrityError:
        existing = SyncEntry.objects.filter(uuid=entry.uuid).first()
        if existing is None:
            raise
        return {"uuid": str(entry.uuid), **_stored(existing, user)}
    return {"uuid": str(entry.uuid), **result}
