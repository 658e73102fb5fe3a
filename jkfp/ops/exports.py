"""后台导出 Heavy exports as background tasks of the worker: queued with a per-user limit, written with
progress, downloaded by their owner only, deleted by housekeeping.

A web thread no longer writes the reconciliation of a county (a million persons took 3.5 minutes), a
ledger or an indicator drill-down: the page queues an ``ExportRun`` (``export_run_create``, at most
``settings.EXPORT_MAX_PER_USER`` queued or running per user, more refused with a Chinese message) and
the worker runs it (``export_run_execute``, called by the task in ``jkfp.web.exports`` that knows the
writers). Which exports stay synchronous, and why, is in ``docs/architecture.md`` §6.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from jkfp.accounts.models import User
from jkfp.core.replica import reading_replica
from jkfp.ops.models import ExportRun, ExportStatus

logger = logging.getLogger(__name__)

ACTIVE = (ExportStatus.QUEUED, ExportStatus.RUNNING)
ERR_EXPORT_LIMIT = (
    "您已有 {count} 个导出在排队或进行中（每人最多同时 {limit} 个），请等其完成后再导出。"
    " / you already have {count} exports queued or running (at most {limit} per user)"
)
MSG_INTERNAL = "导出失败：系统内部错误，请联系管理员（详情见服务器日志）"
MSG_NO_USER = "导出失败：导出人账号已不存在或已停用"
MSG_EXPIRED = "文件已过保留期，已删除；如需要请重新导出"


def export_dir() -> Path:
    """导出目录 Where finished background exports wait for their download."""
    path = Path(settings.VAR_DIR) / "exports" / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_run_create(
    *, user: User, kind: str, title: str, params: dict[str, Any], file_name: str
) -> ExportRun:
    """排队导出 Record a queued export of ``user`` (the caller enqueues its task after the commit).

    Refused with ``ValidationError(ERR_EXPORT_LIMIT)`` when the user already has
    ``settings.EXPORT_MAX_PER_USER`` exports queued or running. The user's row is locked while
    counting, so two requests at once cannot both pass the limit.
    """
    limit = int(settings.EXPORT_MAX_PER_USER)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        count = ExportRun.objects.filter(user=user, status__in=ACTIVE).count()
        if count >= limit:
            raise ValidationError(ERR_EXPORT_LIMIT.format(count=count, limit=limit), code="limit")
        return ExportRun.objects.create(
            user=user, kind=kind, title=title[:200], params=params, file_name=file_name[:200]
        )


def export_runs_of(*, user: Any) -> QuerySet[ExportRun]:
    """我的导出 The user's own exports, newest first (nobody sees another's)."""
    if not getattr(user, "is_authenticated", False):
        return ExportRun.objects.none()
    return ExportRun.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def export_run_of(*, user: Any, pk: int) -> ExportRun | None:
    """一个导出 The user's own export ``pk``, or None (another's is not found)."""
    return export_runs_of(user=user).filter(pk=pk).first()


def export_file(run: ExportRun) -> Path | None:
    """导出文件 The finished file of ``run`` when it is still there (only under the export directory)."""
    if run.status != ExportStatus.DONE or not run.file_path:
        return None
    path = Path(run.file_path).resolve()
    if not path.is_file() or not path.is_relative_to(export_dir().resolve()):
        return None
    return path


class ExportProgress:
    """进度回写 Writes the run's progress percentage when it changes (one UPDATE per step)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.percent = 0

    def __call__(self, done: int, total: int) -> None:
        percent = max(0, min(99, done * 100 // total if total else 0))
        if percent != self.percent:
            self.percent = percent
            ExportRun.objects.filter(pk=self.run_id).update(progress=percent)


@dataclass(frozen=True)
class ExportResult:
    """导出结果 What a writer produced: its file (moved into ``export_dir``), rows and a one-line summary."""

    path: Path
    rows: int
    summary: str


Writer = Callable[[ExportRun, ExportProgress], ExportResult]


def export_run_execute(run_id: int, writer: Writer) -> dict[str, Any]:
    """执行导出 Run ``writer`` for one queued export and record the outcome on the run.

    The run's owner must still be an active user (the writer reads through the owner's scope). Any
    exception fails the run with ``MSG_INTERNAL`` (the message of a ``ValidationError``) and is
    logged, so a run never stays "running"; a half-written file is deleted.
    """
    run = ExportRun.objects.select_related("user", "user__region", "user__institution").get(pk=run_id)
    if run.status != ExportStatus.QUEUED:
        return {"skipped": run.status}
    ExportRun.objects.filter(pk=run_id).update(status=ExportStatus.RUNNING, started_at=timezone.now())
    if not run.user.is_active:
        _finish(run_id, status=ExportStatus.FAILED, message=MSG_NO_USER)
        return {"error": "no user"}
    try:
        with reading_replica():  # a read-only job: the replica when one is up and current
            result = writer(run, ExportProgress(run_id))
    except ValidationError as exc:
        _finish(run_id, status=ExportStatus.FAILED, message="导出失败：" + "；".join(exc.messages))
        return {"error": exc.messages}
    except Exception:
        logger.exception("后台导出失败 / export %s failed", run_id)
        _finish(run_id, status=ExportStatus.FAILED, message=MSG_INTERNAL)
        raise
    target = export_dir() / f"{run_id}-{result.path.name}"
    try:
        result.path.replace(target)
    except BaseException:
        result.path.unlink(missing_ok=True)
        raise
    _finish(
        run_id,
        status=ExportStatus.DONE,
        file_path=str(target),
        row_count=result.rows,
        summary=result.summary[:300],
    )
    return {"rows": result.rows, "summary": result.summary}


def _finish(run_id: int, *, status: str, **fields: Any) -> None:
    progress = 100 if status == ExportStatus.DONE else ExportRun.objects.get(pk=run_id).progress
    ExportRun.objects.filter(pk=run_id).update(
        status=status, finished_at=timezone.now(), progress=progress, **fields
    )


def exports_expire(*, before: Any) -> int:
    """过期导出 Delete the files of exports finished before ``before``; the runs say so. Returns how many."""
    count = 0
    for run in ExportRun.objects.filter(finished_at__lt=before).exclude(file_path=""):
        Path(run.file_path).unlink(missing_ok=True)
        logger.info("已删除过期导出 / deleted expired export: %s", run.file_path)
        ExportRun.objects.filter(pk=run.pk).update(file_path="", message=MSG_EXPIRED)
        count += 1
    return count
