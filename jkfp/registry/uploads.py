"""上传文件 Uploaded source files: where a web import's file is stored, and its deletion once the
import has finished (issue 15 §8). Below both the services (which store) and the tasks (which delete)."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from jkfp.registry.models import ImportRun


def store_upload(upload: Any, name: str, *, fallback: str = "upload") -> Path:
    """存放上传文件 Copy an upload chunk by chunk to IMPORT_DIR/<month>/<random>/<name> (never whole in memory).

    The original (sanitised) file name is kept because the import records it as the tags' reference;
    ``fallback`` names the file when nothing of the name survives sanitising.
    """
    safe = re.sub(r"[^\w.\-]+", "_", name).lstrip(".")[-120:] or fallback
    directory = Path(settings.IMPORT_DIR) / timezone.localdate().strftime("%Y%m") / uuid.uuid4().hex
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / safe
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return target


housekeeping_log = logging.getLogger("jkfp.housekeeping")


def import_source_delete(*, run: ImportRun) -> bool:
    """删除上传原件 Delete the stored upload of a finished web import, and its folder (issue 15 §8).

    Only a file that ``store_upload`` wrote under IMPORT_DIR is deleted — a command-line import records
    the user's own file, which is never ours — and the deletion is logged. True when a file went.
    """
    if not run.stored_path:
        return False
    base = Path(settings.IMPORT_DIR).resolve()
    path = Path(run.stored_path).resolve()
    if not path.is_relative_to(base) or path.is_relative_to(base / "errors"):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    housekeeping_log.info(
        "已删除上传原件（导入%s已结束） / deleted the upload of finished import %s: %s", run.pk, run.pk, path
    )
    if path.parent != base and not any(path.parent.iterdir()):
        path.parent.rmdir()
    return True
