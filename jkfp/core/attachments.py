"""附件 Attached files (a photo or scan of a paper record): the one check of their type, size and
content, and their storage under ``VAR_DIR`` with a random name (monitoring steps, insurance slips).

The content is checked, not only the name: the file's first bytes must be those of its type.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Final, Protocol

from django.conf import settings

ATTACHMENT_MAX_BYTES: Final = 10 * 1024 * 1024
# Extension → (content type, the file's first bytes).
ATTACHMENT_TYPES: Final[dict[str, tuple[str, tuple[bytes, ...]]]] = {
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".pdf": ("application/pdf", (b"%PDF-",)),
}
ERR_ATTACHMENT_TYPE: Final = "附件“{name}”类型不支持，只能上传 JPG、PNG 图片或 PDF 文件"
ERR_ATTACHMENT_SIZE: Final = "附件“{name}”超过{limit_mb}MB"
ERR_ATTACHMENT_EMPTY: Final = "附件“{name}”是空文件"


class UploadedFileLike(Protocol):
    name: str | None
    size: int | None

    def chunks(self, chunk_size: int | None = None) -> Any: ...


class AttachmentError(ValueError):
    """附件不合格 The Chinese reason an upload is refused."""


def attachment_name(upload: UploadedFileLike) -> str:
    """The upload's own file name without any directory (``附件`` when it has none)."""
    return Path(upload.name or "").name or "附件"


def attachment_check(upload: UploadedFileLike, *, max_bytes: int = ATTACHMENT_MAX_BYTES) -> tuple[str, str]:
    """校验附件 (extension, content type) of an acceptable upload; ``AttachmentError`` naming the file
    when its type is not JPG/PNG/PDF (by name and by content), it is empty or above ``max_bytes``."""
    name = attachment_name(upload)
    ext = Path(name).suffix.lower()
    if ext not in ATTACHMENT_TYPES:
        raise AttachmentError(ERR_ATTACHMENT_TYPE.format(name=name))
    size = int(upload.size or 0)
    if size > max_bytes:
        raise AttachmentError(ERR_ATTACHMENT_SIZE.format(name=name, limit_mb=max_bytes // (1024 * 1024)))
    if size == 0:
        raise AttachmentError(ERR_ATTACHMENT_EMPTY.format(name=name))
    head = b""
    for chunk in upload.chunks():
        head += chunk
        if len(head) >= 16:
            break
    content_type, magics = ATTACHMENT_TYPES[ext]
    if not any(head.startswith(magic) for magic in magics):
        raise AttachmentError(ERR_ATTACHMENT_TYPE.format(name=name))
    return ext, content_type


def attachment_store(
    upload: UploadedFileLike, directory: str, ext: str, written: list[Path]
) -> tuple[str, int]:
    """存放附件 Copy the upload chunk by chunk to ``VAR_DIR/directory/<random><ext>``; returns (the path
    relative to ``VAR_DIR``, the size). The written path is appended to ``written`` first, so that a
    caller whose transaction fails can delete what was written."""
    relative = Path(directory) / f"{uuid.uuid4().hex}{ext}"
    target = Path(settings.VAR_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with target.open("xb") as handle:
        written.append(target)
        for chunk in upload.chunks():
            size += len(chunk)
            handle.write(chunk)
    return str(relative), size


def attachment_path(stored_path: str, directory: str) -> Path | None:
    """The file of a stored attachment when it lies under ``VAR_DIR/directory`` and exists, else None."""
    path = Path(settings.VAR_DIR) / stored_path
    base = (Path(settings.VAR_DIR) / directory).resolve()
    if not path.resolve().is_relative_to(base) or not path.is_file():
        return None
    return path
