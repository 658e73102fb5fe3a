"""后台任务 Background tasks of the registry (django-tasks, database backend in production).

``run_import`` is the one way a web import runs in the background: mark the ImportRun running (with
this process as its runner), call the importer with an ``ImportProgress`` under ``data_written_marked``,
record the summary (or the error) on the run. The roster and enrolment tasks here and the care import
task (jkfp.care.tasks) all go through it; the import commands use the same two pieces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import task

from jkfp.core.idnumber import mask_text
from jkfp.core.importing import ImportSummary
from jkfp.core.runner import runner_token
from jkfp.core.tabular import NeedsMapping, TableError, peek_rows
from jkfp.core.tabular_map import MappingError, parse_mapping, reading
from jkfp.registry.enrolment import enrolment_import
from jkfp.registry.imports import roster_import
from jkfp.registry.models import ImportRun, ImportStatus
from jkfp.registry.uploads import import_source_delete

logger = logging.getLogger(__name__)

MSG_INTERNAL = "导入失败：系统内部错误，请联系管理员（详情见服务器日志）"
MSG_NO_USER = "导入失败：上传人账号已不存在"
MSG_MEMORY = (
    "导入失败：超过后台任务进程的内存上限（{limit} MB），文件过大。请把文件拆成几个较小的文件分别导入。"
)


class ImportProgress:
    """进度回写 Writes the run's progress percentage, only when it changes (one UPDATE per step);
    ``echo`` (the command line's progress bar) hears every step too."""

    def __init__(self, run_id: int, echo: Callable[[int], None] | None = None) -> None:
        self.run_id = run_id
        self.percent = 0
        self.echo = echo

    def __call__(self, percent: int) -> None:
        if self.echo is not None:
            self.echo(percent)
        # 100 % is written only with the summary, so the page never shows "done" before it has one.
        percent = max(0, min(99, int(percent)))
        if percent != self.percent:
            self.percent = percent
            ImportRun.objects.filter(pk=self.run_id).update(progress=percent)


MARK_WRITTEN = "UPDATE registry_importrun SET data_written = %s WHERE id = %s"
# Statements that change no imported data: reads, transaction control, session settings, and writes to
# the run itself or to the task queue.
_NOT_DATA_HEADS = (
    "SELECT",
    "BEGIN",
    "START",
    "COMMIT",
    "SAVEPOINT",
    "RELEASE",
    "ROLLBACK",
    "PRAGMA",
    "SET ",
    "EXPLAIN",
    "SHOW",
)
_NOT_DATA_TABLES = ("registry_importrun", "django_tasks")


def _writes_data(sql: str) -> bool:
    return not sql.lstrip()[:10].upper().startswith(_NOT_DATA_HEADS) and not any(
        table in sql for table in _NOT_DATA_TABLES
    )


@contextmanager
def data_written_marked(run_id: int) -> Iterator[None]:
    """数据已写入标记 While an import runs, put ``ImportRun.data_written = true`` into every transaction
    that writes its data — before the transaction's first write, in the same transaction — so that
    the flag is committed exactly when data is, whatever the importer's own transactions are (a write
    outside a transaction marks right after it, being committed by then). A run whose process died
    thus tells whether its data is in the database (ops/recovery.py, the import page).
    """
    marked: list[object] = []  # the outermost atomic block that holds the mark

    def mark() -> None:
        with connection.cursor() as cursor:
            cursor.execute(MARK_WRITTEN, [True, run_id])

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if not _writes_data(sql):
            return execute(sql, params, many, context)
        if not connection.in_atomic_block:
            result = execute(sql, params, many, context)
            mark()
            return result
        outermost = connection.atomic_blocks[0] if connection.atomic_blocks else None
        if not marked or marked[-1] is not outermost:
            mark()
            marked[:] = [outermost]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def run_import(
    run_id: int,
    importer: Callable[[ImportRun, ImportProgress], ImportSummary],
    *,
    label: str,
    require_user: bool = False,
    interactive: bool = False,
) -> dict[str, Any]:
    """执行导入 Run ``importer(run, progress)`` for one ImportRun and record its outcome on the run.

    A ``TableError`` (unreadable file, missing column) fails the run with its Chinese message; any
    other exception fails it with ``MSG_INTERNAL`` and is re-raised (traceback in the log and the task
    result), so a run never stays "running". With ``require_user`` a run whose uploader is gone
    writes nothing (the region cannot be checked). With ``interactive`` the run applies its mapping
    (``ImportRun.mapping``) and a file that needs the mapping step waits for it (status 待映射, the
    header, sample values, missing columns and unknown values in ``summary["mapping"]``).
    """
    run = ImportRun.objects.select_related("user", "user__region").get(pk=run_id)
    try:
        return _run_import(run, importer, label=label, require_user=require_user, interactive=interactive)
    finally:
        # The uploaded file is not kept once its import has finished, whatever the outcome (issue 15 §8);
        # a run waiting for its mapping step or its confirmation has not finished.
        waiting = (ImportStatus.MAPPING, ImportStatus.PREVIEW)
        if not ImportRun.objects.filter(pk=run_id, status__in=waiting).exists():
            import_source_delete(run=run)


def _run_import(
    run: ImportRun,
    importer: Callable[[ImportRun, ImportProgress], ImportSummary],
    *,
    label: str,
    require_user: bool,
    interactive: bool = False,
) -> dict[str, Any]:
    run_id = run.pk
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), progress=0, runner=runner_token()
    )
    if require_user and run.user is None:
        _finish(run_id, status=ImportStatus.FAILED, message=MSG_NO_USER)
        return {"error": "no user"}
    try:
        with data_written_marked(run_id):
            mapping = parse_mapping(run.mapping, origin="导入模板") if run.mapping else None
            with reading(mapping, interactive=interactive) as context:  # the reader's warnings count too
                if run.dry_run:  # the preview: the same import, rolled back (nothing written or announced)
                    with transaction.atomic():
                        summary = importer(run, ImportProgress(run_id))
                        transaction.set_rollback(True)
                else:
                    summary = importer(run, ImportProgress(run_id))
            summary.warnings += context.warning_count
            if run.dry_run:
                data = summary.as_dict()
                data["preview"] = {
                    "headers": context.headers,
                    "rows": context.preview,
                    "errors": first_problems(summary.errors_file),
                }
                _finish(
                    run_id,
                    status=ImportStatus.PREVIEW,
                    summary=data,
                    errors_file=summary.errors_file or "",
                    progress=100,
                )
                return data
    except NeedsMapping as exc:
        info = mapping_step_info(run.stored_path, exc)
        _finish(run_id, status=ImportStatus.MAPPING, summary={"mapping": info}, progress=0)
        return {"mapping": info}
    except MappingError as exc:
        _finish(run_id, status=ImportStatus.FAILED, message=exc.zh)
        return {"error": exc.zh}
    except TableError as exc:
        _finish(run_id, status=ImportStatus.FAILED, message=exc.zh)
        return {"error": exc.zh}
    except MemoryError:
        # The worker's memory ceiling (ops/worker.py): this task fails, the worker lives on.
        logger.exception("%s import %s ran out of memory", label, run_id)
        _finish(
            run_id, status=ImportStatus.FAILED, message=MSG_MEMORY.format(limit=settings.WORKER_MEMORY_MB)
        )
        raise
    except Exception:
        logger.exception("%s import %s failed", label, run_id)
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


SAMPLE_ROWS = 3
PREVIEW_ERRORS = 10


def first_problems(errors_file: str | None) -> list[list[Any]]:
    """The first lines (行号, 列, 值, 原因) of an error report, for the preview."""
    if not errors_file:
        return []
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 (a heavy library, loaded only for a preview)

    sheet = CalamineWorkbook.from_path(errors_file).get_sheet_by_index(0)
    rows = sheet.to_python()[1 : PREVIEW_ERRORS + 1]
    return [[int(r[0]) if isinstance(r[0], float) else r[0], *map(str, r[1:4])] for r in rows]


def mapping_step_info(path: str, need: NeedsMapping) -> dict[str, Any]:
    """What the mapping step shows: the file's headers with a few sample values each, the missing
    required columns and the values not accepted."""
    rows = peek_rows(path, need.header_row + SAMPLE_ROWS + 10)
    header = next((cells for number, cells in rows if number == need.header_row), [])
    after = [cells for number, cells in rows if number > need.header_row and any(cells)][:SAMPLE_ROWS]
    columns = [
        # Masked as stored: neither the page nor the run's summary holds an ID number or account in full.
        {
            "header": text,
            "samples": [mask_text(row[i], accounts=True) for row in after if i < len(row) and row[i]],
        }
        for i, text in enumerate(header)
        if text
    ]
    return {
        "header_row": need.header_row,
        "columns": columns,
        "missing": need.missing,
        "unknown_headers": need.unknown_headers,
        "unknown_values": need.unknown_values,
    }


@task()
def roster_import_task(run_id: int) -> dict[str, Any]:
    """导入花名册（后台） Run the roster import of one ImportRun and record its outcome on the run."""
    return run_import(
        run_id,
        lambda run, progress: roster_import(
            path=run.stored_path, source=run.source, year=run.year, user=run.user, progress=progress
        ),
        label="roster",
        interactive=True,
    )


@task()
def enrolment_import_task(run_id: int) -> dict[str, Any]:
    """导入参保名单（后台） Run the enrolment import of one ImportRun as its uploader (only their region)."""
    return run_import(
        run_id,
        lambda run, progress: enrolment_import(
            path=run.stored_path, year=run.year, user=run.user, progress=progress
        ),
        label="enrolment",
        require_user=True,
        interactive=True,
    )


def _finish(run_id: int, **fields: Any) -> None:
    ImportRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), **fields)
