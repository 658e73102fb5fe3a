"""中断恢复 Runs whose process died are marked failed: “进程已结束 / process ended”.

An import (web or command line; claim imports are the settlement batches' input), a background export
(reconciliation, ledgers, drill-downs) and every background task (snapshot refresh, care sync,
housekeeping …) record the process running them — ``ImportRun.runner``, ``ExportRun.runner`` and the
django-tasks worker id, all ``core/runner.py`` tokens. ``runs_recover`` marks a running one
failed when that process has ended (same host: its pid with its start time is gone, or the machine
restarted since); a run on another host or of a live process is never touched. It runs at every
worker start and every ``RECOVERY_SECONDS`` in the worker's heartbeat thread.

What the run's data became is what its transaction did: ``ImportRun.data_written`` is committed with
the import's data (registry/tasks.py ``data_written_marked``), and the import page says which.
Runs recorded before runners were (empty ``runner``) are marked when they started more than
``LEGACY_HOURS`` ago — no import runs that long.

A worker that dies after claiming a task but before the task marked its run running leaves the run
排队中 with no runner: when the task is marked failed, the import or export it was to run (its
``run_id``), still queued, is marked failed with it, in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jkfp.capacity.tasks import capacity_import_task
from jkfp.care.tasks import care_import_task
from jkfp.core.runner import runner_alive
from jkfp.ops.models import ExportRun, ExportStatus
from jkfp.registry.models import ImportRun, ImportStatus
from jkfp.registry.tasks import enrolment_import_task, roster_import_task
from jkfp.settlement.tasks import bank_accounts_import_task, cards_import_task

logger = logging.getLogger("jkfp.worker")

RECOVERY_SECONDS = 60.0
LEGACY_HOURS = 24
MSG_ENDED = (
    "进程已结束 / process ended：执行导入的进程意外结束（被强制终止、超过内存上限或服务器重启），{at} 发现。"
)
EXPORT_ENDED = (
    "进程已结束 / process ended：执行导出的进程意外结束（被强制终止、超过内存上限或服务器重启），{at} 发现。"
    "没有生成文件，请重新导出。"
)
TASK_ENDED = "jkfp.ops.recovery.ProcessEnded"
# The tasks that run one import or one export, named by their ``run_id`` argument (the export task
# lives in ``jkfp.web``, above this module: by its path; a test holds the two equal).
IMPORT_TASKS = frozenset(
    t.module_path
    for t in (
        roster_import_task,
        enrolment_import_task,
        care_import_task,
        capacity_import_task,
        cards_import_task,
        bank_accounts_import_task,
    )
)
EXPORT_TASK = "jkfp.web.background.export_task"


@dataclass(frozen=True)
class Recovered:
    """已恢复 What one check marked failed."""

    imports: list[int]
    tasks: list[str]
    exports: list[int] = field(default_factory=list)


def _dead(token: str) -> bool:
    return runner_alive(token) is False


@transaction.atomic  # a run and its task are marked together: nobody sees one failed and the other running
def runs_recover() -> Recovered:
    """中断恢复 Mark failed every running import and task whose process has ended; returns what it marked."""
    now = timezone.now()
    at = timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
    imports: list[int] = []
    legacy = Q(runner="", started_at__lt=now - timedelta(hours=LEGACY_HOURS))
    for pk, token in ImportRun.objects.filter(
        Q(status=ImportStatus.RUNNING) & (~Q(runner="") | legacy)
    ).values_list("pk", "runner"):
        if token and not _dead(token):
            continue
        # Only if still running under the same runner: a run that finished meanwhile is left as it is.
        if ImportRun.objects.filter(pk=pk, status=ImportStatus.RUNNING, runner=token).update(
            status=ImportStatus.FAILED, message=MSG_ENDED.format(at=at), finished_at=now
        ):
            imports.append(pk)
    exports: list[int] = []
    running = ExportRun.objects.filter(status=ExportStatus.RUNNING).exclude(runner="")
    for pk, token in running.values_list("pk", "runner"):
        if _dead(token) and ExportRun.objects.filter(pk=pk, status=ExportStatus.RUNNING, runner=token).update(
            status=ExportStatus.FAILED, message=EXPORT_ENDED.format(at=at), finished_at=now
        ):
            exports.append(pk)
    tasks: list[str] = []
    for task_id, workers, path, arguments in DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING
    ).values_list("pk", "worker_ids", "task_path", "args_kwargs"):
        if not workers or not _dead(str(workers[-1])):
            continue
        if DBTaskResult.objects.filter(pk=task_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=TASK_ENDED,
            traceback=f"进程已结束 / process ended: worker {workers[-1]} ended while running this task ({at})",
        ):
            tasks.append(str(task_id))
            # Its run, if the task died before marking it running: still queued, no runner.
            run_id = ((arguments or {}).get("kwargs") or {}).get("run_id")
            if not isinstance(run_id, int):
                continue
            if path in IMPORT_TASKS and ImportRun.objects.filter(
                pk=run_id, status=ImportStatus.QUEUED
            ).update(status=ImportStatus.FAILED, message=MSG_ENDED.format(at=at), finished_at=now):
                imports.append(run_id)
            elif path == EXPORT_TASK and ExportRun.objects.filter(
                pk=run_id, status=ExportStatus.QUEUED
            ).update(status=ExportStatus.FAILED, message=EXPORT_ENDED.format(at=at), finished_at=now):
                exports.append(run_id)
    if imports or tasks or exports:
        logger.warning(
            "已把进程已结束的任务标记为失败 / marked failed, their process ended: imports %s, exports %s, tasks %s",
            imports,
            exports,
            tasks,
        )
    return Recovered(imports=imports, tasks=tasks, exports=exports)
