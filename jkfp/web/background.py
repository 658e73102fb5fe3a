"""后台导出（网页） The heavy exports of the pages as worker tasks: what each kind writes, the task, and
how a page queues one (``jkfp.ops.exports`` keeps the runs, the limit and the housekeeping).

Background: the reconciliation export, every ledger (台账), the indicator drill-down export and the
family-doctor registers (签约/履约服务登记簿) — each can cover a whole county. The writer runs in the worker as the run's owner: it reads through
the same scoped selectors as the page did (``region_get``, ``reconciliation_persons``,
``indicators.selectors.drill``), so a run can never export more than its owner may see now.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django_tasks import task

from jkfp.accounts.models import AuditAction
from jkfp.accounts.scoping import region_get
from jkfp.accounts.services import audit_record
from jkfp.care import exports as care_exports
from jkfp.indicators import ledgers
from jkfp.indicators import selectors as indicator_selectors
from jkfp.indicators.exports import drill_xlsx
from jkfp.ops.exports import ExportProgress, ExportResult, export_run_create, export_run_execute
from jkfp.ops.models import ExportRun
from jkfp.registry import selectors as registry_selectors
from jkfp.web import exports

KIND_RECONCILIATION = "reconciliation"
KIND_LEDGER = "ledger"
KIND_DRILL = "drill"
KIND_CARE_REGISTER = "care_register"
ERR_NO_DATA = "该数据暂无内容（或已不在您的管辖范围内）"


def _reconciliation(run: ExportRun, progress: ExportProgress) -> ExportResult:
    params = run.params
    persons = registry_selectors.reconciliation_persons(
        user=run.user,
        only_conflicts=bool(params.get("only_conflicts")),
        missing_source=params.get("missing_source") or None,
        present_source=params.get("present_source") or None,
    )
    sources = registry_selectors.reconciliation_sources(user=run.user)
    path, count = exports.reconciliation_xlsx(persons, sources=sources, progress=progress)
    return ExportResult(path=path, rows=count, summary=f"{count}人")


def _region(run: ExportRun) -> Any:
    try:
        return region_get(user=run.user, code=run.params.get("region"))
    except Http404:
        raise ValidationError(ERR_NO_DATA) from None


def _ledger(run: ExportRun, progress: ExportProgress) -> ExportResult:
    kind, year = run.params["kind"], int(run.params["year"])
    spec = ledgers.LEDGERS.get(kind)
    region = _region(run)
    if spec is None or not spec.available(year):
        raise ValidationError(ERR_NO_DATA)
    path, summary = ledgers.ledger_write(kind=kind, user=run.user, region=region, year=year)
    return ExportResult(path=path, rows=0, summary=summary)


def _drill(run: ExportRun, progress: ExportProgress) -> ExportResult:
    params = run.params
    region = _region(run)
    found = indicator_selectors.drill(
        user=run.user,
        year=int(params["year"]),
        code=params["code"],
        region_code=region.code,
        side=params["side"],
    )
    if found is None:
        raise ValidationError(ERR_NO_DATA)
    path, count, _ = drill_xlsx(found, title=run.title)
    return ExportResult(path=path, rows=count, summary=f"{count}{found.unit}")


# 签约登记簿 and 履约服务登记簿 of the family-doctor pages: register → writer.
CARE_REGISTERS: dict[str, Callable[..., care_exports.RegisterTotals]] = {
    "contract_register": care_exports.contract_register_write,
    "fulfilment_register": care_exports.fulfilment_register_write,
}


def _care_register(run: ExportRun, progress: ExportProgress) -> ExportResult:
    writer = CARE_REGISTERS[run.params["register"]]
    region = _region(run)
    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{run.params['register']}-", suffix=".xlsx", dir=directory)
    os.close(handle)
    path = Path(name)
    try:
        totals = writer(user=run.user, region=region, year=int(run.params["year"]), target=path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ExportResult(path=path, rows=totals.rows, summary=f"{totals.rows}人")


WRITERS: dict[str, Callable[[ExportRun, ExportProgress], ExportResult]] = {
    KIND_RECONCILIATION: _reconciliation,
    KIND_LEDGER: _ledger,
    KIND_DRILL: _drill,
    KIND_CARE_REGISTER: _care_register,
}


@task()
def export_task(run_id: int) -> dict[str, Any]:
    """后台导出 Write one queued export (the worker runs it; the page shows its progress)."""
    return export_run_execute(run_id, lambda run, progress: WRITERS[run.kind](run, progress))


def export_start(*, request: Any, kind: str, title: str, params: dict[str, Any], file_name: str) -> ExportRun:
    """排队导出 Queue a background export of ``kind`` for the signed-in user and audit the request.

    ``ValidationError`` (with the Chinese message) when the user has too many exports running.
    """
    user = request.user
    run = export_run_create(user=user, kind=kind, title=title, params=params, file_name=file_name)
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        object_type="export_run",
        object_id=str(run.pk),
        detail=f"排队后台导出：{title}",
        region_code=getattr(user, "region_id", "") or "",
        request=request,
    )
    export_task.enqueue(run_id=run.pk)
    return run


def export_queue(
    request: Any, *, kind: str, title: str, params: dict[str, Any], file_name: str
) -> HttpResponse:
    """排队并转到我的导出 Queue a background export and go to the user's exports page, where the
    limit's message (``ERR_EXPORT_LIMIT``) or the new run's progress is shown."""
    try:
        export_start(request=request, kind=kind, title=title, params=params, file_name=file_name)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, f"已开始后台导出：{title}。完成后在本页下载。")
    return redirect("web:export_list")
