"""网页导入 The web upload of contract and follow-up lists: checked, stored, queued (``care_import_task``).

Above the services, imports and tasks of the app (the task runs the import, which uses the services).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from jkfp.care.tasks import care_import_task
from jkfp.registry.models import ImportKind, ImportRun
from jkfp.registry.services import import_role_check, import_upload_start

ERR_IMPORT_KIND = "请选择导入类型：家庭医生签约或随访记录"


def care_import_start(
    *, user: Any, upload: Any, kind: str, request: Any = None, preview: bool = False
) -> ImportRun:
    """开始导入签约/随访 Store an uploaded contract or follow-up file, record an ImportRun, queue the import.

    The run belongs to the uploader's region and runs as the uploader (``care_import_task``): rows
    of persons outside that region are invalid, so the web import writes only inside it.
    Same checks as the roster upload (role, file type, not empty); the size is limited while streaming.
    """
    import_role_check(user)
    if kind not in (ImportKind.CONTRACTS, ImportKind.FOLLOWUPS):
        raise ValidationError({"kind": ERR_IMPORT_KIND})
    label = str(ImportKind(kind).label)
    return import_upload_start(
        user=user,
        upload=upload,
        kind=kind,
        source=label,
        year=None,
        task=care_import_task,
        request=request,
        detail=label,
        fallback="care",
        dry_run=preview,
    )
