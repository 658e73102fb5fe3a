"""后台导出 Issue 17 §7: a heavy export is queued by the page, written by the worker with progress, and
downloaded by its owner only; at most EXPORT_MAX_PER_USER at once; housekeeping deletes the file."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.ops.exports import ERR_EXPORT_LIMIT, MSG_EXPIRED
from jkfp.ops.housekeeping import housekeeping_run
from jkfp.ops.models import ExportRun, ExportStatus
from jkfp.web.tests.exporting import run_exports

pytestmark = pytest.mark.django_db

EXPORT = reverse("web:reconciliation_export")
LIST = reverse("web:export_list")


def _download_url(run: ExportRun) -> str:
    return reverse("web:export_download", args=[run.pk])


def test_request_worker_download(world: Any, login: Any) -> None:
    t1 = world.users["t1"]
    client = login(t1)
    response = client.post(EXPORT + "?only_conflicts=on", follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    page = response.content.decode()
    assert "已开始后台导出：名单比对表（筛选：only_conflicts=True）" in page and "排队中" in page
    assert 'hx-trigger="every 2s"' in page  # the page polls while the export runs
    run = ExportRun.objects.get()
    assert (run.user, run.status, run.kind) == (t1, ExportStatus.QUEUED, "reconciliation")
    # Nothing is written in the web request: only the worker writes the file.
    assert client.get(_download_url(run)).status_code == 404
    assert run_exports() == 1
    run.refresh_from_db()
    assert (run.status, run.progress, run.row_count, run.summary) == (ExportStatus.DONE, 100, 1, "1人")
    page = client.get(LIST).content.decode()
    assert _download_url(run) in page and "every 2s" not in page
    download = client.get(_download_url(run))
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    rows = list(
        load_workbook(io.BytesIO(b"".join(download.streaming_content))).active.iter_rows(values_only=True)
    )
    assert [r[1] for r in rows[1:]] == ["王五"]
    downloaded = AuditEvent.objects.get(action=AuditAction.EXPORT, detail__startswith="下载")
    assert (
        downloaded.user == t1 and downloaded.object_id == str(run.pk) and downloaded.ip_address == "127.0.0.1"
    )


def test_only_the_owner_downloads(world: Any, login: Any) -> None:
    login(world.users["t1"]).post(EXPORT)
    run_exports()
    run = ExportRun.objects.get(status=ExportStatus.DONE)
    for other in ("t2", "admin"):
        client = login(world.users[other])
        assert client.get(_download_url(run)).status_code == 404
        assert _download_url(run) not in client.get(LIST).content.decode()
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED).order_by("id")
    assert [(e.username, e.object_id) for e in denied] == [
        (world.users["t2"].username, _download_url(run)),
        (world.users["admin"].username, _download_url(run)),
    ]
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT, detail__startswith="下载").exists()


@override_settings(EXPORT_MAX_PER_USER=2)
def test_at_most_n_exports_per_user_at_once(world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    for _ in range(2):
        assert client.post(EXPORT).status_code == 302
    refused = client.post(EXPORT, follow=True).content.decode()
    message = ERR_EXPORT_LIMIT.format(count=2, limit=2)
    assert "您已有 2 个导出在排队或进行中（每人最多同时 2 个），请等其完成后再导出。" in message
    assert message in refused
    assert ExportRun.objects.filter(user=world.users["t1"]).count() == 2
    # Another user has a limit of their own.
    assert login(world.users["t2"]).post(EXPORT).status_code == 302
    assert ExportRun.objects.count() == 3
    # Once the worker has finished them, the user may export again.
    assert run_exports() == 3
    client = login(world.users["t1"])
    assert "已开始后台导出" in client.post(EXPORT, follow=True).content.decode()
    assert ExportRun.objects.filter(user=world.users["t1"]).count() == 3


def test_a_failed_export_says_so_and_never_stays_running(world: Any, login: Any) -> None:
    doctor = world.users["doctor"]
    login(doctor).post(EXPORT)
    doctor.is_active = False
    doctor.save(update_fields=["is_active"])
    run_exports()
    run = ExportRun.objects.get()
    assert (run.status, run.message, run.file_path) == ("failed", "导出失败：导出人账号已不存在或已停用", "")


@override_settings(EXPORT_KEEP_HOURS=24)
def test_housekeeping_deletes_expired_export_files(world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    client.post(EXPORT)
    client.post(EXPORT)
    run_exports()
    old, fresh = ExportRun.objects.order_by("id")
    ExportRun.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=25))
    old_path, fresh_path = Path(old.file_path), Path(ExportRun.objects.get(pk=fresh.pk).file_path)
    assert old_path.is_file() and fresh_path.is_file()
    summary = housekeeping_run(now=time.time())
    assert summary.deleted.get("exports") == 1
    assert not old_path.exists() and fresh_path.is_file()
    old.refresh_from_db()
    assert (old.file_path, old.message) == ("", MSG_EXPIRED)
    assert client.get(_download_url(old)).status_code == 404
    assert MSG_EXPIRED in client.get(LIST).content.decode()
