"""网页导入 The web upload of a chronic-disease card list (慢病卡): checked, stored, queued
(``cards_import_task``)."""

from __future__ import annotations

from typing import Any

from jkfp.registry.models import ImportKind, ImportRun
from jkfp.registry.services import import_role_check, import_upload_start
from jkfp.settlement.tasks import cards_import_task


def cards_import_start(*, user: Any, upload: Any, request: Any = None, preview: bool = False) -> ImportRun:
    """开始导入慢病卡 Store an uploaded card file, record an ImportRun, queue the import.

    The run belongs to the uploader's region and runs as the uploader: rows of persons outside that
    region are invalid. Same checks as the other uploads (role, file type, not empty).
    """
    import_role_check(user)
    label = str(ImportKind.CARDS.label)
    return import_upload_start(
        user=user,
        upload=upload,
        kind=ImportKind.CARDS,
        source=label,
        year=None,
        task=cards_import_task,
        request=request,
        detail=label,
        fallback="cards",
        dry_run=preview,
    )
