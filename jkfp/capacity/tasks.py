"""后台任务 Background task of the capacity app: a staff, support, telemedicine or training file uploaded on
the web import page, run as its uploader (rows of institutions outside the uploader's region are invalid)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from jkfp.capacity.imports import IMPORTERS
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportRun
from jkfp.registry.tasks import ImportProgress, run_import


@task()
def capacity_import_task(run_id: int) -> dict[str, Any]:
    """导入基层能力数据（后台） Run the import of one ImportRun as its uploader."""

    def importer(run: ImportRun, progress: ImportProgress) -> ImportSummary:
        return IMPORTERS[run.kind](path=run.stored_path, user=run.user, progress=progress)

    return run_import(run_id, importer, label="capacity", require_user=True, interactive=True)
