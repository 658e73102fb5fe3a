"""后台任务进程 The background worker: django-tasks-db's worker loop, a heartbeat, the daily housekeeping.

One worker process runs one task at a time (``django_tasks_db``'s ``Worker``); ``jkfp worker
--concurrency N`` runs N of them. Each process touches ``RUN_DIR/worker-<host>-<pid>.beat`` every
``HEARTBEAT_SECONDS`` from a side thread — a file, not a row, so that a long import holding SQLite's
write lock never stops the heartbeat — and ``/healthz`` reads the freshest one. The same thread
queues the housekeeping task once a day (a lock file makes one process of many do it). A failed task
is logged with its traceback by django-tasks (logger ``django_tasks``, which the worker keeps at INFO).

Each process runs under a memory ceiling (``WORKER_MEMORY_MB``, RLIMIT_DATA): a task that needs more
fails alone (MemoryError), or — inside a native library — the process ends, and ``jkfp serve``, the
``--concurrency`` supervisor or systemd starts it again. Its worker id is its ``core/runner.py`` token;
every start and every ``RECOVERY_SECONDS`` it marks failed the runs whose process has ended
(``ops/recovery.py``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import resource
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from jkfp.core.runner import runner_token
from jkfp.ops.housekeeping import DAY, housekeeping_task
from jkfp.ops.recovery import RECOVERY_SECONDS, runs_recover

logger = logging.getLogger("jkfp.worker")

HEARTBEAT_SECONDS = 15.0
HOUSEKEEPING_STAMP = "housekeeping.stamp"


def heartbeat_path() -> Path:
    return Path(settings.RUN_DIR) / f"worker-{socket.gethostname()}-{os.getpid()}.beat"


def housekeeping_due(*, now: float | None = None) -> bool:
    """清理到期 Claim today's housekeeping: True for exactly one caller per day (a lock file decides)."""
    run_dir = Path(settings.RUN_DIR)
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    stamp = run_dir / HOUSEKEEPING_STAMP
    with (run_dir / "housekeeping.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if stamp.exists() and now - stamp.stat().st_mtime < DAY:
            return False
        stamp.touch()
        os.utime(stamp, (now, now))
        return True


class Heartbeat(threading.Thread):
    """心跳 Touch this process's heartbeat file, and queue the daily housekeeping when it is due."""

    def __init__(self, *, interval: float = HEARTBEAT_SECONDS, recovery: float = RECOVERY_SECONDS) -> None:
        super().__init__(name="jkfp-heartbeat", daemon=True)
        self.interval = interval
        self.recovery = recovery
        self.recovered_at = time.monotonic()  # worker_run has just recovered
        self.path = heartbeat_path()
        self.stopped = threading.Event()

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        os.utime(self.path)

    def run(self) -> None:
        while not self.stopped.is_set():
            self.beat()
            try:
                if housekeeping_due():
                    result = housekeeping_task.enqueue()
                    logger.info("已排队数据清理 / housekeeping queued: %s", result.id)
                if time.monotonic() - self.recovered_at >= self.recovery:
                    self.recovered_at = time.monotonic()
                    runs_recover()
            except Exception:
                logger.exception(
                    "数据清理排队或中断恢复失败 / could not queue the housekeeping or recover runs"
                )
            finally:
                connection.close()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        self.path.unlink(missing_ok=True)


def memory_ceiling_set(megabytes: int) -> int | None:
    """内存上限 Limit this process's data memory (RLIMIT_DATA: heap and private mappings) to ``megabytes``
    (never above the hard limit; 0: unchanged). Returns the limit set in bytes, or None."""
    if megabytes <= 0:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit


def worker_run(*, interval: float = 1.0, queues: str = "*", max_tasks: int | None = None) -> None:
    """运行后台任务 Run tasks until SIGTERM/SIGINT (a running task is finished first), beating meanwhile."""
    queue_names = queues.split(",")
    worker_id = runner_token()
    ceiling = memory_ceiling_set(int(settings.WORKER_MEMORY_MB))
    recovered = runs_recover()
    worker = Worker(
        queue_names=queue_names,
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    heartbeat = Heartbeat()
    heartbeat.beat()
    heartbeat.start()
    waiting = DBTaskResult.objects.ready().count()
    logger.info(
        "后台任务进程已启动 / worker %s started (%d tasks waiting, memory ceiling %s MB, %d runs recovered)",
        worker_id,
        waiting,
        "none" if ceiling is None else ceiling // (1024 * 1024),
        len(recovered.imports) + len(recovered.tasks),
    )
    worker.configure_signals()
    try:
        worker.run()
    finally:
        heartbeat.stop()
        logger.info("后台任务进程已停止 / worker %s stopped", worker_id)
