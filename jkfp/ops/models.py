"""运维记录 What the operation of an installation records in its database."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DemoStamp(models.Model):
    """示例数据标记 Written by ``jkfp demo`` when it builds the demo county in an empty database.

    ``jkfp demo`` (and ``--reset``) run only on a database that has this stamp or holds nothing at all,
    so a real county's data — even under the demo's county code — is never overwritten or deleted.
    """

    county_code = models.CharField("示例县代码", max_length=6)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "示例数据标记"
        verbose_name_plural = "示例数据标记"

    def __str__(self) -> str:
        return f"示例县 {self.county_code}（{self.created_at:%Y-%m-%d}）"


class ExportStatus(models.TextChoices):
    """导出状态 Where a background export stands."""

    QUEUED = "queued", "排队中"
    RUNNING = "running", "导出中"
    DONE = "done", "完成"
    FAILED = "failed", "失败"


class ExportRun(models.Model):
    """后台导出 One heavy export (reconciliation, ledger, indicator drill-down) run by the worker.

    Queued by its owner's request, written by the worker with progress, downloaded by its owner only
    (each download audited as an export); housekeeping deletes the file after ``EXPORT_KEEP_HOURS``.
    """

    kind = models.CharField("类型", max_length=20)
    title = models.CharField("导出内容", max_length=200)
    params = models.JSONField("参数", default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="导出人", on_delete=models.CASCADE, related_name="export_runs"
    )
    status = models.CharField(
        "状态", max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    row_count = models.PositiveIntegerField("行数", default=0)
    summary = models.CharField("汇总", max_length=300, blank=True)
    file_path = models.CharField("文件", max_length=500, blank=True)
    file_name = models.CharField("下载文件名", max_length=200)
    message = models.CharField("说明", max_length=1000, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "后台导出"
        verbose_name_plural = "后台导出"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "status"], name="exportrun_user_status")]

    def __str__(self) -> str:
        return f"{self.title}（{self.get_status_display()}）"

    @property
    def active(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)
