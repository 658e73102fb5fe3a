"""A private primary and hot standby on loopback for the replica and pool tests (tests.replica.pgcluster)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.replica.pgcluster import PgCluster, pg_missing_reason

ROOT = Path(__file__).resolve().parents[2]  # the checkout: ``python -m tests.replica.replica_app`` runs there
DATABASE = "jkfp"
# The primary's connection budget: the pool test's app processes must stay within it.
MAX_CONNECTIONS = 12


@dataclass
class AppRun:
    """One app process running one phase."""

    process: subprocess.Popen[str]
    log: Path

    def result(self) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=300)
        assert self.process.returncode == 0, self.log.read_text()[-3000:]
        parsed: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return parsed


@dataclass
class PgPair:
    primary: PgCluster
    standby: PgCluster
    data_dir: Path
    setup: dict[str, Any]

    def env(self, *, replica: bool = True, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JKFP_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="jkfp.settings",
            DATABASE_URL=self.primary.url(DATABASE),
            JKFP_DATA_DIR=str(self.data_dir),
            JKFP_STATIC_ROOT=str(settings.STATIC_ROOT),
            JKFP_SECRET_KEY="replica-test-key",
            JKFP_CONN_MAX_AGE="60",
            JKFP_REPLICA_CHECK_SECONDS="0.5",
            JKFP_REPLICA_MAX_LAG_SECONDS="30",
        )
        if replica:
            env["DATABASE_REPLICA_URL"] = self.standby.url(DATABASE)
        env.update(extra)
        return env

    def start(self, phase: str, *, replica: bool = True, **extra: str) -> AppRun:
        """An app process (``tests.replica.replica_app``) running ``phase``; its log goes to a file (a
        pipe nobody reads while the test polls could fill and stop it)."""
        log = Path(tempfile.mkstemp(prefix=f"{phase}-", suffix=".log", dir=self.data_dir)[1])
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.replica.replica_app", phase],
                env=self.env(replica=replica, **extra),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=ROOT,
            )
        return AppRun(process, log)

    def serve(self) -> AppProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.replica.replica_app", "serve"],
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        return AppProcess(process)

    def app(self, phase: str, *, replica: bool = True, **extra: str) -> dict[str, Any]:
        return self.start(phase, replica=replica, **extra).result()


class AppProcess:
    """A long-lived app process (``replica_app serve``): one phase per call, with settings overridden."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def __call__(self, phase: str, settings: dict[str, Any] | None = None, **env: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"phase": phase, "settings": settings or {}, "env": env}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            _, err = self.process.communicate(timeout=30)
            raise AssertionError(f"the app process ended during {phase}: {err[-3000:]}")
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.communicate(input="", timeout=60)


def stat(cluster: PgCluster, sql: str) -> int:
    return int(cluster.psql(sql, DATABASE) or 0)


SNAPSHOT_SCANS = (
    "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables"
    " WHERE relname IN ('indicators_indicatorsnapshot', 'indicators_snapshotrun')"
)
XACTS = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"


def stat_after(cluster: PgCluster, sql: str, before: int, seconds: float = 15) -> int:
    """The statistic once it moved from ``before`` (a backend's counts arrive when it ends or idles)."""
    deadline = time.monotonic() + seconds
    value = stat(cluster, sql)
    while value == before and time.monotonic() < deadline:
        time.sleep(0.2)
        value = stat(cluster, sql)
    return value


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[PgPair]:
    reason = pg_missing_reason()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster can be started here: {reason}")
    primary = PgCluster.primary(max_connections=MAX_CONNECTIONS)
    standby = None
    data_dir = Path(tempfile.mkdtemp(prefix="jkfp-replica-app-"))
    try:
        primary.psql(f"CREATE DATABASE {DATABASE}")
        standby = primary.standby_of()
        pair = PgPair(primary=primary, standby=standby, data_dir=data_dir, setup={})
        # The schema and the county are written to the primary only; the standby gets them by streaming.
        pair.setup = pair.app("setup", replica=False)
        yield pair
    finally:
        primary.destroy(*([standby] if standby else []))
        shutil.rmtree(data_dir, ignore_errors=True)
