"""后台导出（测试帮手） Run queued exports as the worker does, and fetch a background export's file."""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.urls import reverse
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from jkfp.ops.models import ExportRun
from jkfp.web.background import export_task


def run_exports() -> int:
    """Run every queued export task the way ``jkfp worker`` does (claim it, ``Worker.run_task``)."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    count = 0
    while True:
        with transaction.atomic():
            ready = DBTaskResult.objects.ready().filter(task_path=export_task.module_path)
            result = ready.get_locked()
            if result is None:
                return count
            result.claim(worker.worker_id)
        worker.run_task(result)
        count += 1


def background_export(client: Any, url: str, **params: Any) -> bytes:
    """POST the export ``url`` (with the page's query ``params``), let the worker write it, download it."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.post(f"{url}?{query}" if query else url)
    assert response.status_code == 302 and response["Location"] == reverse("web:export_list"), response
    before = ExportRun.objects.order_by("-id").first()
    assert before is not None
    assert run_exports() >= 1
    run = ExportRun.objects.get(pk=before.pk)
    assert run.status == "done", (run.status, run.message)
    download = client.get(reverse("web:export_download", args=[run.pk]))
    assert download.status_code == 200, download.status_code
    data = b"".join(download.streaming_content)
    # Closing a file response sends request_finished: keep its handler off the test's connection.
    request_finished.disconnect(close_old_connections)
    try:
        download.close()
    finally:
        request_finished.connect(close_old_connections)
    return data
