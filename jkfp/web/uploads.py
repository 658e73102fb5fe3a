"""上传限额 An upload handler that stops a file larger than settings.UPLOAD_MAX_BYTES while it streams.

Django's CSRF check reads the request body before the view runs, so a view that installs this
handler must be ``csrf_exempt`` and check CSRF itself afterwards (``csrf_protect`` inside), as
the Django documentation on upload handlers describes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeLimitUploadHandler(FileUploadHandler):
    """限额上传 Count the bytes of each uploaded file; stop (and discard) it once over the limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = int(settings.UPLOAD_MAX_BYTES)
        self.received = 0
        self.too_large = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,  # noqa: N803 (Django's name for this argument of FileUploadHandler)
        content_length: int,
        boundary: Any,
        encoding: Any = None,
    ) -> None:
        # A declared body far over the limit is refused before any of it is read into a file.
        if content_length and content_length > self.limit + 1024 * 1024:
            self.too_large = True

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        if self.too_large:
            # Consume (and drop) the rest of the body so that the browser gets our page, not a reset.
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
