"""数据清理 Housekeeping: what an installation must not keep forever, deleted by a daily task.

- error reports of imports older than ``ERROR_REPORT_DAYS`` (the run then says it has none);
- uploaded source files still lying in IMPORT_DIR a day after their run finished (normally the
  import deletes its file itself as soon as it finishes, jkfp.registry.tasks);
- temporary export files older than a day (a download deletes its file once opened), and the files of
  background exports (``jkfp.ops.exports``) finished more than ``EXPORT_KEEP_HOURS`` ago;
- expired sessions, task results finished more than ``TASK_RESULT_DAYS`` ago, and login-throttling
  records (django-axes) older than ``THROTTLE_RECORD_DAYS``.

Every deletion is logged (logger ``jkfp.housekeeping``, INFO, which the settings always keep).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from jkfp.ops.exports import export_dir, exports_expire
from jkfp.ops.models import ExportRun
from jkfp.registry.models import ImportRun, ImportStatus

logger = logging.getLogger("jkfp.housekeeping")

DAY = 24 * 3600
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED)


@dataclass
class HousekeepingSummary:
    """清理结果 What one run deleted, by kind."""

    deleted: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        if count:
            self.deleted[kind] = self.deleted.get(kind, 0) + count


def _unlink(path: Path, reason: str) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    logger.info("已删除%s / deleted %s: %s", reason, reason, path)
    return True


def _old_files(directory: Path, cutoff: float) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]


def _prune_empty_dirs(directory: Path) -> None:
    if not directory.is_dir():
        return
    for sub in sorted(
        (p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(sub.iterdir()):
            sub.rmdir()


def housekeeping_run(*, now: float | None = None) -> HousekeepingSummary:
    """清理 Delete what has outlived its keeping period (see the module docstring); logs every deletion."""
    now = time.time() if now is None else now
    summary = HousekeepingSummary()
    import_dir = Path(settings.IMPORT_DIR)

    report_cutoff = now - int(settings.ERROR_REPORT_DAYS) * DAY
    for path in _old_files(import_dir / "errors", report_cutoff):
        if _unlink(path, f"错误报告（超过{settings.ERROR_REPORT_DAYS}天） error report"):
            summary.add("error_reports", 1)
            ImportRun.objects.filter(errors_file=str(path)).update(errors_file="")

    for path in _old_files(import_dir, now - DAY):
        if path.is_relative_to(import_dir / "errors"):
            continue
        running = ImportRun.objects.filter(stored_path=str(path)).exclude(status__in=FINISHED).exists()
        if not running and _unlink(path, "上传原件 uploaded source"):
            summary.add("uploads", 1)
    _prune_empty_dirs(import_dir)

    runs_dir = export_dir()
    for path in _old_files(Path(settings.VAR_DIR) / "exports", now - DAY):
        if path.is_relative_to(runs_dir):
            continue  # background exports: by their run's finishing time, below
        if _unlink(path, "临时导出文件 temporary export"):
            summary.add("exports", 1)

    moment = timezone.now()
    summary.add("exports", exports_expire(before=moment - timedelta(hours=int(settings.EXPORT_KEEP_HOURS))))
    old_runs, _ = ExportRun.objects.filter(
        finished_at__lt=moment - timedelta(days=int(settings.TASK_RESULT_DAYS)), file_path=""
    ).delete()
    summary.add("export_runs", old_runs)
    sessions, _ = Session.objects.filter(expire_date__lt=moment).delete()
    summary.add("sessions", sessions)
    results, _ = DBTaskResult.objects.filter(
        finished_at__lt=moment - timedelta(days=int(settings.TASK_RESULT_DAYS))
    ).delete()
    summary.add("task_results", results)
    throttle_cutoff = moment - timedelta(days=int(settings.THROTTLE_RECORD_DAYS))
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        count, _ = model.objects.filter(attempt_time__lt=throttle_cutoff).delete()
        summary.add("throttle_records", count)
    for kind in ("sessions", "task_results", "throttle_records"):
        if summary.deleted.get(kind):
            logger.info("已删除 deleted %s: %d", kind, summary.deleted[kind])
    logger.info("数据清理完成 housekeeping done: %s", summary.deleted or "nothing to delete")
    return summary


@task()
def housekeeping_task() -> dict[str, Any]:
    """数据清理（后台，每天） The daily housekeeping run by the worker (jkfp.ops.worker schedules it)."""
    return housekeeping_run().deleted
