"""能力写操作 Services of the capacity app: starting a web import.

Every other write of the app goes through its imports (``imports.py``); rectification of a blank point is
an indicators service (``indicators.services.rectification_from_blank_point``), the tracker's home.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from jkfp.capacity.imports import IMPORTERS
from jkfp.capacity.tasks import capacity_import_task
from jkfp.registry.models import ImportKind, ImportRun
from jkfp.registry.services import import_role_check, import_upload_start

ERR_IMPORT_KIND = "请选择导入类型：卫生人员、对口帮扶、远程医疗、培训或卫生院覆盖村"


def capacity_import_start(
    *, user: Any, upload: Any, kind: str, request: Any = None, preview: bool = False
) -> ImportRun:
    """开始导入基层能力数据 Store the uploaded file, record a queued ImportRun of ``kind``, queue the import.

    Same checks as every web import (role, file type, not empty; the size is limited while streaming).
    """
    import_role_check(user)
    if kind not in IMPORTERS:
        raise ValidationError({"kind": ERR_IMPORT_KIND})
    label = str(ImportKind(kind).label)
    return import_upload_start(
        user=user,
        upload=upload,
        kind=kind,
        source=label,
        year=None,
        task=capacity_import_task,
        request=request,
        detail=label,
        fallback="capacity",
        dry_run=preview,
    )
