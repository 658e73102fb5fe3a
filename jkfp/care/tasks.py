"""后台任务 Background tasks of the care app (django-tasks; database backend in production).

``care_sync_task`` is what ``jkfp care-sync`` does, queued by the ``data_changed`` receiver after a
roster import (``receivers.py``) so that new conditions get their follow-up schedules without a
command. ``care_import_task`` runs a contract or follow-up import uploaded on the web page.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_tasks import task

from jkfp.care.bulk import schedules_sync
from jkfp.care.imports import contracts_import, followups_import
from jkfp.care.services import members_link_staff
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind, ImportRun
from jkfp.registry.tasks import ImportProgress, run_import

SYNC_TASK_PATH = "jkfp.care.tasks.care_sync_task"


@task()
def care_sync_task(person_ids: list[int] | None = None) -> dict[str, int]:
    """补建随访计划（后台） ``schedules_sync`` for the given persons (all when None)."""
    created = schedules_sync(today=timezone.localdate(), person_ids=person_ids)
    return {"created": created}


@task()
def care_import_task(run_id: int) -> dict[str, Any]:
    """导入签约/随访（后台） Run the contract or follow-up import of one ImportRun, as its uploader."""

    def importer(run: ImportRun, progress: ImportProgress) -> ImportSummary:
        load = {ImportKind.CONTRACTS: contracts_import, ImportKind.FOLLOWUPS: followups_import}[
            ImportKind(run.kind)
        ]
        return load(path=run.stored_path, user=run.user, progress=progress)

    # Without the uploader the region cannot be checked: write nothing (require_user).
    return run_import(run_id, importer, label="care", require_user=True, interactive=True)


@task()
def members_link_task() -> dict[str, int]:
    """关联卫生人员（后台） ``members_link_staff`` as of today."""

    return {"linked": members_link_staff(on=timezone.localdate())}
