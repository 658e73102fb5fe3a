"""后台任务 Background tasks of the care app (django-tasks; database backend in production).

``care_sync_task`` is what ``jkfp care-sync`` does, queued by the ``data_changed`` receiver after a
roster import (``receivers.py``) so that new conditions get their follow-up schedules without a
command. ``care_import_task`` runs a contract or follow-up import uploaded on the web page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone
from django_tasks import task

from jkfp.core.tabular import TableError
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus

logger = logging.getLogger(__name__)

MSG_INTERNAL = "导入失败：系统内部错误，请联系管理员（详情见服务器日志）"
SYNC_TASK_PATH = "jkfp.care.tasks.care_sync_task"


@task()
def care_sync_task(person_ids: list[int] | None = None) -> dict[str, int]:
    """补建随访计划（后台） ``schedules_sync`` for the given persons (all when None)."""
    from jkfp.care.bulk import schedules_sync

    created = schedules_sync(today=timezone.localdate(), person_ids=person_ids)
    return {"created": created}


class _Progress:
    """进度回写 Writes the run's progress percentage only when it changes (below 100 until done)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.percent = 0

    def __call__(self, percent: int) -> None:
        percent = max(0, min(99, int(percent)))
        if percent != self.percent:
            self.percent = percent
            ImportRun.objects.filter(pk=self.run_id).update(progress=percent)


@task()
def care_import_task(run_id: int) -> dict[str, Any]:
    """导入签约/随访（后台） Run the contract or follow-up import of one ImportRun, as its uploader."""
    from jkfp.care.imports import contracts_import, followups_import

    run = ImportRun.objects.select_related("user", "user__region").get(pk=run_id)
    importer = {ImportKind.CONTRACTS: contracts_import, ImportKind.FOLLOWUPS: followups_import}[
        ImportKind(run.kind)
    ]
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    if run.user is None:
        # Without the uploader the region cannot be checked: write nothing.
        _finish(run_id, status=ImportStatus.FAILED, message="导入失败：上传人账号已不存在")
        return {"error": "no user"}
    try:
        summary = importer(path=run.stored_path, user=run.user, progress=_Progress(run_id))
    except TableError as exc:
        _finish(run_id, status=ImportStatus.FAILED, message=exc.zh)
        return {"error": exc.zh}
    except Exception:
        logger.exception("care import %s failed", run_id)
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
