"""后台任务 Background tasks of the registry (django-tasks, database backend in production)."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone
from django_tasks import task

from jkfp.core.tabular import TableError
from jkfp.registry.models import ImportRun, ImportStatus

logger = logging.getLogger(__name__)

MSG_INTERNAL = "导入失败：系统内部错误，请联系管理员（详情见服务器日志）"


class _Progress:
    """进度回写 Writes the run's progress percentage, only when it changes (one UPDATE per step)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.percent = 0

    def __call__(self, percent: int) -> None:
        # 100 % is written only with the summary, so the page never shows "done" before it has one.
        percent = max(0, min(99, int(percent)))
        if percent != self.percent:
            self.percent = percent
            ImportRun.objects.filter(pk=self.run_id).update(progress=percent)


@task()
def roster_import_task(run_id: int) -> dict[str, Any]:
    """导入花名册（后台） Run the roster import of one ImportRun and record its outcome on the run."""
    from jkfp.registry.imports import roster_import

    run = ImportRun.objects.select_related("user").get(pk=run_id)
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    try:
        summary = roster_import(
            path=run.stored_path,
            source=run.source,
            year=run.year,
            user=run.user,
            progress=_Progress(run_id),
        )
    except TableError as exc:
        _finish(run_id, status=ImportStatus.FAILED, message=exc.zh)
        return {"error": exc.zh}
    except Exception:
        # The run must not stay "running" forever; the traceback goes to the log and the task result.
        logger.exception("roster import %s failed", run_id)
        _finish(run_id, status=ImportStatus.FAILED, message=MSG_INTERNAL)
        raise
    data = summary.as_dict()
    _finish(
        run_id,
        status=ImportStatus.DONE,
        summary=data,
        errors_file=data.get("errors_file") or "",
        progress=100,
    )
    return data


def _finish(run_id: int, **fields: Any) -> None:
    ImportRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), **fields)
