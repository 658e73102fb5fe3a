"""网页导入 The web uploads of the settlement app: a chronic-disease card list (慢病卡,
``cards_import_task``) and a list of subsidy bank accounts (银行账号, ``bank_accounts_import_task``):
checked, stored, queued with the machinery of every web import (``registry.services``)."""

from __future__ import annotations

from typing import Any

from jkfp.registry.models import ImportKind, ImportRun
from jkfp.registry.services import import_role_check, import_upload_start
from jkfp.settlement.tasks import bank_accounts_import_task, cards_import_task


def cards_import_start(*, user: Any, upload: Any, request: Any = None, preview: bool = False) -> ImportRun:
    """开始导入慢病卡 Store an uploaded card file, record an ImportRun, queue the import.

    The run belongs to the uploader's region and runs as the uploader: rows of persons outside that
    region are invalid. Same checks as the other uploads (role, file type, not empty).
    """
    return _start(user, upload, request, ImportKind.CARDS, cards_import_task, "cards", preview=preview)


def bank_accounts_import_start(
    *, user: Any, upload: Any, request: Any = None, preview: bool = False
) -> ImportRun:
    """开始导入银行账号 Store an uploaded file of subsidy accounts (社保卡/一卡通, for 打卡发放), record an
    ImportRun, queue the import (``bank_imports.bank_accounts_import``), as for cards: the uploader's
    region only, the same checks."""
    return _start(
        user,
        upload,
        request,
        ImportKind.BANK_ACCOUNTS,
        bank_accounts_import_task,
        "bank_accounts",
        preview=preview,
    )


def _start(
    user: Any, upload: Any, request: Any, kind: ImportKind, task: Any, fallback: str, *, preview: bool = False
) -> ImportRun:
    import_role_check(user)
    label = str(kind.label)
    return import_upload_start(
        user=user,
        upload=upload,
        kind=kind,
        source=label,
        year=None,
        task=task,
        request=request,
        detail=label,
        fallback=fallback,
        dry_run=preview,
    )
