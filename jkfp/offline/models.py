"""村医离线应用 Devices (the doctor's phones) and the entries their outboxes sent (issue 20).

A ``SyncEntry`` is keyed by the UUID the phone gave the entry: re-sending it returns the stored
result (idempotent), and a concurrent resend waits on the unique key and then reads that result.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Device(models.Model):
    """离线设备 One installation of the app on a phone, bound to the account that first synced it."""

    device_id = models.UUIDField("设备编号", unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="账号", on_delete=models.CASCADE, related_name="devices"
    )
    label = models.CharField("设备说明", max_length=300, blank=True)
    created_at = models.DateTimeField("首次同步", auto_now_add=True)
    last_sync_at = models.DateTimeField("最近同步", null=True, blank=True)
    session_key = models.CharField("会话", max_length=40, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    revoked_by = models.CharField("吊销人", max_length=150, blank=True)
    revoke_reason = models.CharField("吊销原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "离线设备"
        verbose_name_plural = "离线设备"
        ordering = ["-last_sync_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {str(self.device_id)[:8]}"


class EntryKind(models.TextChoices):
    """离线记录类型 What a phone entry records."""

    VISIT = "visit", "随访"
    DELIVERY = "delivery", "送药"
    CHECKUP = "checkup", "体检"


class EntryStatus(models.TextChoices):
    """离线记录结果 What the server did with an entry."""

    ACCEPTED = "accepted", "已接收"
    REFUSED = "refused", "待处理（被拒绝）"


class RefusalCode(models.TextChoices):
    """拒收原因 Why the server refused an entry (the phone keeps it in 待处理 with the message)."""

    OUT_OF_SCOPE = "out_of_scope", "人员不在管辖范围内"
    DEAD = "dead", "人员已死亡"
    DUPLICATE = "duplicate", "当天已有记录"
    INVALID = "invalid", "不符合登记规则"
    FORBIDDEN = "forbidden", "无权登记"
    UUID_CONFLICT = "uuid_conflict", "记录编号冲突"


class SyncEntry(models.Model):
    """离线记录 One entry a phone sent, with the result the server gave it (returned again on a resend)."""

    uuid = models.UUIDField("记录编号", unique=True)
    device = models.ForeignKey(
        Device, verbose_name="设备", null=True, on_delete=models.SET_NULL, related_name="entries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="账号", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField("类型", max_length=10, choices=EntryKind.choices)
    person_id = models.BigIntegerField("人员", null=True)
    payload = models.JSONField("内容", default=dict)
    recorded_at = models.DateTimeField("手机登记时间", null=True, blank=True)
    received_at = models.DateTimeField("接收时间", auto_now_add=True)
    received_count = models.PositiveIntegerField("收到次数", default=1)
    status = models.CharField("结果", max_length=10, choices=EntryStatus.choices)
    code = models.CharField("拒收原因", max_length=20, choices=RefusalCode.choices, blank=True)
    result = models.JSONField("返回结果", default=dict)

    class Meta:
        verbose_name = "离线记录"
        verbose_name_plural = "离线记录"
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["device", "received_at"], name="offline_entry_device_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uuid}"
