"""运维 /healthz, the worker (heartbeat, failures logged with tracebacks), housekeeping, the trusted
proxy, the static files (only what pages use), and the deploy files agreeing with the settings."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jkfp.core.proxy import TrustedProxyMiddleware
from jkfp.ops.housekeeping import housekeeping_run
from jkfp.ops.worker import Heartbeat, housekeeping_due
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.web.offline import views as offline_views

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_dir(settings: Any, tmp_path: Path) -> Path:
    settings.RUN_DIR = tmp_path / "run"
    return settings.RUN_DIR


@pytest.mark.django_db
def test_healthz_is_503_without_a_worker_and_200_with_one(
    client: Client, run_dir: Path, settings: Any
) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "error"
    assert body["database"]["ok"] and body["migrations"] == {"ok": True, "pending": 0}
    assert body["worker"]["ok"] is False and body["worker"]["heartbeat_age_seconds"] is None
    heartbeat = Heartbeat()
    heartbeat.beat()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["worker"]["heartbeat_age_seconds"] < 5
    assert set(response.json()) == {"status", "version", "database", "migrations", "worker", "disk"}
    settings.HEALTH_MIN_FREE_MB = 10**12  # more than any disk: unhealthy
    assert client.get("/healthz").status_code == 503
    heartbeat.stop()
    assert not heartbeat.path.exists()


def test_housekeeping_is_claimed_once_a_day(run_dir: Path) -> None:
    now = time.time()
    assert housekeeping_due(now=now) is True
    assert housekeeping_due(now=now + 60) is False
    assert housekeeping_due(now=now + 25 * 3600) is True


@pytest.mark.django_db
def test_housekeeping_deletes_what_outlived_its_keeping_and_logs_it(
    settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.VAR_DIR = tmp_path
    old, fresh = time.time() - 31 * 86400, time.time()
    reports = settings.IMPORT_DIR / "errors"
    reports.mkdir(parents=True)
    stale_report, new_report = reports / "old.xlsx", reports / "new.xlsx"
    for path, when in ((stale_report, old), (new_report, fresh)):
        path.write_bytes(b"PK")
        os.utime(path, (when, when))
    run = ImportRun.objects.create(kind=ImportKind.ROSTER, file_name="x.csv", status=ImportStatus.DONE,
                                   errors_file=str(stale_report))  # fmt: skip
    leftover = settings.IMPORT_DIR / "202601" / "abc" / "名单.csv"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("x")
    os.utime(leftover, (old, old))
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    DBTaskResult.objects.create(task_path="jkfp.ops.housekeeping.housekeeping_task", status="SUCCESSFUL",
                                args_kwargs={"args": [], "kwargs": {}}, queue_name="default", backend_name="default",
                                finished_at=timezone.now() - timedelta(days=40))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="jkfp.housekeeping"):
        summary = housekeeping_run()
    assert summary.deleted == {"error_reports": 1, "uploads": 1, "sessions": 1, "task_results": 1}
    assert not stale_report.exists() and new_report.exists() and not leftover.exists()
    assert not leftover.parent.exists(), "empty folders go too"
    run.refresh_from_db()
    assert run.errors_file == ""
    logged = caplog.text
    assert str(stale_report) in logged and str(leftover) in logged and "sessions: 1" in logged


def test_the_client_address_comes_from_a_trusted_proxy_only(settings: Any) -> None:
    settings.TRUSTED_PROXIES = frozenset({"127.0.0.1"})
    seen: list[str] = []
    middleware = TrustedProxyMiddleware(lambda request: seen.append(request.META["REMOTE_ADDR"]))  # type: ignore[arg-type,func-returns-value]
    factory = RequestFactory()
    middleware(factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="10.8.1.23"))
    middleware(factory.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_REAL_IP="1.2.3.4"))  # not a proxy: ignored
    middleware(factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="not-an-address"))
    assert seen == ["10.8.1.23", "10.9.9.9", "127.0.0.1"]


def test_a_failed_task_is_logged_with_its_traceback_by_the_worker(tmp_path: Path) -> None:
    """A real `jkfp worker` on its own SQLite file runs a task that fails; the log has the traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JKFP_", "DJANGO_", "DATABASE_URL"))}
    env.update(JKFP_HOME=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               JKFP_STATIC_ROOT=str(settings.STATIC_ROOT), JKFP_LOG_FILE=str(tmp_path / "jkfp.log"))  # fmt: skip
    jkfp = [sys.executable, "-m", "jkfp.cli"]
    subprocess.run([*jkfp, "init"], env=env, check=True, capture_output=True)
    enqueue = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='jkfp.settings'; import django; django.setup();"
        "from jkfp.registry.tasks import roster_import_task; print(roster_import_task.enqueue(run_id=987654).id)"
    )
    subprocess.run([sys.executable, "-c", enqueue], env=env, check=True, capture_output=True)
    done = subprocess.run([*jkfp, "worker", "--max-tasks", "2", "--interval", "0.1"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "jkfp.log").read_text()
    assert "Traceback (most recent call last)" in log and "DoesNotExist" in log, log
    assert "后台任务进程已启动" in log and "后台任务进程已停止" in log
    assert "housekeeping done" in log, "the first heartbeat queued the daily housekeeping, which ran"


def test_static_files_are_only_those_the_pages_use() -> None:
    """Every collected file is named by a template or by the offline app's precache list (its
    manifest and service worker name them from Python), and vice versa."""
    manifest = json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())["paths"]
    templates = "\n".join(p.read_text() for p in (ROOT / "jkfp").rglob("templates/**/*.html"))
    named = set(re.findall(r"{% static '([^']+)' %}", templates)) | set(offline_views.SHELL_STATIC)
    assert named <= set(manifest), named - set(manifest)
    ours = {name for name in manifest if not name.startswith(("admin/", "ninja/"))}
    assert ours == named, f"collected but used by no page: {sorted(ours - named)}"
    assert not any(name.endswith(".map") for name in manifest)
    vendor = json.loads((ROOT / "package.json").read_text())["jkfpStatic"]
    assert {k for k in vendor if not k.startswith("//")} <= named, "every vendored file is used"


def test_deploy_files_agree_with_the_settings() -> None:
    site = (ROOT / "deploy" / "nginx" / "jkfp.conf").read_text()
    limit = re.search(r"client_max_body_size (\d+)m;", site)
    assert limit and int(limit.group(1)) == settings.UPLOAD_MAX_MB + 1
    for header in ("Host $http_host", "X-Forwarded-Proto $scheme", "X-Real-IP $remote_addr"):
        assert f"proxy_set_header {header};" in site
    env = (ROOT / "deploy" / "jkfp.env").read_text()
    assert f"JKFP_UPLOAD_MAX_MB={settings.UPLOAD_MAX_MB}" in env and "JKFP_HTTPS=1" in env
    web = (ROOT / "deploy" / "systemd" / "jkfp-web.service").read_text()
    worker = (ROOT / "deploy" / "systemd" / "jkfp-worker.service").read_text()
    assert "jkfp serve --no-worker" in web and "jkfp worker" in worker
    # The worker unit's cgroup ceiling holds its processes' own ceilings (issue 17 §1).
    ceiling = re.search(r"^MemoryMax=(\d+)G$", worker, re.M)
    concurrency = re.search(r"jkfp worker --concurrency (\d+)", worker)
    assert ceiling and concurrency
    assert int(ceiling.group(1)) * 1024 > settings.WORKER_MEMORY_MB * int(concurrency.group(1))
    assert f"JKFP_WORKER_MEMORY_MB={settings.WORKER_MEMORY_MB}" in env
    for name in ("INFLATED_MB", "ROWS", "COLUMNS", "CELL_CHARS"):
        assert f"JKFP_IMPORT_MAX_{name}={getattr(settings, f'IMPORT_MAX_{name}')}" in env
    assert all("EnvironmentFile=/opt/jkfp/jkfp.env" in unit for unit in (web, worker))
