"""健康检查 What ``/healthz`` reports: database, migrations, worker heartbeat, free disk.

Nothing personal and nothing secret: counts, ages and booleans only, so a monitoring system (or the
county's Zabbix) may poll it without logging in.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

import jkfp

HEARTBEAT_GLOB = "worker-*.beat"


@dataclass(frozen=True)
class HealthReport:
    """健康状况 ``ok`` is True when every part is; ``parts`` is the JSON body."""

    ok: bool
    parts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "error", "version": jkfp.__version__, **self.parts}


@cache
def _known_migrations() -> frozenset[tuple[str, str]]:
    """Every migration on disk (read once per process: the code does not change while it runs)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes)


def _database_part() -> tuple[dict[str, Any], dict[str, Any]]:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
            table = connection.ops.quote_name("django_migrations")
            cursor.execute(f"SELECT app, name FROM {table}")  # noqa: S608 (a quoted constant name)
            applied = {(app, name) for app, name in cursor.fetchall()}
    except DatabaseError as exc:
        error = type(exc).__name__
        return {"ok": False, "vendor": connection.vendor, "error": error}, {"ok": False, "pending": None}
    pending = len(_known_migrations() - applied)
    return {"ok": True, "vendor": connection.vendor}, {"ok": pending == 0, "pending": pending}


def worker_heartbeat_age(*, now: float | None = None) -> float | None:
    """后台任务心跳 Seconds since the freshest worker heartbeat (None: no worker has ever beaten)."""
    beats = [p.stat().st_mtime for p in Path(settings.RUN_DIR).glob(HEARTBEAT_GLOB)]
    if not beats:
        return None
    return max(0.0, (time.time() if now is None else now) - max(beats))


def health_report() -> HealthReport:
    """健康检查 Database reachable, migrations applied, a worker beating, enough free disk."""
    database, migrations = _database_part()
    age = worker_heartbeat_age()
    stale = int(settings.HEALTH_WORKER_STALE_SECONDS)
    worker = {
        "ok": age is not None and age <= stale,
        "heartbeat_age_seconds": None if age is None else round(age, 1),
        "stale_after_seconds": stale,
    }
    free = shutil.disk_usage(settings.VAR_DIR).free
    minimum = int(settings.HEALTH_MIN_FREE_MB) * 1024 * 1024
    disk = {"ok": free >= minimum, "free_bytes": free, "minimum_free_bytes": minimum}
    parts = {"database": database, "migrations": migrations, "worker": worker, "disk": disk}
    return HealthReport(ok=all(part["ok"] for part in parts.values()), parts=parts)
