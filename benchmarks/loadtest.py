"""压力测试工具 A real server and a loopback load generator, for the reliability tests and the API benchmark
(kept out of the shipped package).

``Server`` runs gunicorn on ``jkfp.wsgi`` in its own process group (so that it can be killed with
SIGKILL, master and workers at once) against a given ``DATABASE_URL``. ``fire`` sends JSON requests
from Python threads with ``http.client`` (one keep-alive connection per thread by default) and
records each one's status, body and latency (end to end, from sending to the last byte).
Workers × threads is the connection budget (performance.md, pitfalls): every gunicorn thread holds
at most one database connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

# The server's secret key: a test that logs a user in for the server signs its session with it.
SERVER_SECRET_KEY = "load-test-secret-key-not-for-production-" + "x" * 20


# The application_name of the server's PostgreSQL sessions (libpq reads PGAPPNAME).
SERVER_APP_NAME = "jkfp-test-server"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A gunicorn server of ``jkfp.wsgi`` on ``127.0.0.1:port`` using ``database_url``."""

    database_url: str
    home: Path
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    def start(self, *, ready_path: str = "/api/v1/settlements/-", timeout: float = 30.0) -> Server:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "JKFP_HOME": str(self.home),
            "DJANGO_SETTINGS_MODULE": "jkfp.settings",
            "JKFP_SECRET_KEY": SERVER_SECRET_KEY,
            "PGAPPNAME": SERVER_APP_NAME,  # its PostgreSQL sessions, for Database.wait_until_idle
        }
        env.pop("PYTEST_CURRENT_TEST", None)
        if settings.configured:  # the pages name hashed static files: serve the ones this process collected
            env.setdefault("JKFP_STATIC_ROOT", str(settings.STATIC_ROOT))
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = log = (self.home / "gunicorn.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "jkfp.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--log-level", "warning", "--timeout", "60", "--backlog", "256",
            ],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: SIGKILL reaches master and workers
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(self.home / 'gunicorn.log').read_text()[-2000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", ready_path)
                conn.getresponse().read()
                return self
            except OSError:
                time.sleep(0.1)
            finally:
                conn.close()
        self.kill()
        raise RuntimeError("gunicorn did not answer in time")

    def pids(self) -> list[int]:
        """The master's and its workers' process ids (Linux ``/proc``)."""
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [pid, *(int(c) for c in f.read().split())]
        except OSError:
            return [pid]

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), as a crash or power loss would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the master), then make sure everything is gone."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_log()


@dataclass(frozen=True)
class Outcome:
    """One request's result: HTTP status (0 when the connection failed), parsed body, seconds."""

    status: int
    body: Any
    seconds: float


def _send(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str], payload: bytes | None
) -> tuple[int, bytes]:
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _outcome(status: int, raw: bytes, started: float) -> Outcome:
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Outcome(status, parsed, time.perf_counter() - started)


def request(
    port: int, method: str, path: str, token: str, body: Any = None, timeout: float = 30.0
) -> Outcome:
    """One JSON request on a fresh loopback connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        status, raw = _send(conn, method, path, headers, payload)
    except (OSError, http.client.HTTPException):
        return Outcome(0, None, time.perf_counter() - started)
    finally:
        conn.close()
    return _outcome(status, raw, started)


class KeepAliveClient:
    """One client's persistent HTTP/1.1 connection (as a hospital system's connection pool keeps).

    Each request's latency is still measured end to end, from before sending to the last byte of
    the answer. When a *reused* connection turns out closed by the server before any answer came
    (its idle keep-alive timeout), the request is sent once more on a new connection — the time of
    both attempts counts; settlement posts are idempotent, so a repeat is harmless. A failure on a
    new connection is final (status 0).
    """

    def __init__(self, port: int, token: str, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, payload: bytes | None) -> Outcome:
        started = time.perf_counter()
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                status, raw = _send(self.conn, method, path, self.headers, payload)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 0:
                    continue
                return Outcome(0, None, time.perf_counter() - started)
            except (OSError, http.client.HTTPException):
                self.close()
                return Outcome(0, None, time.perf_counter() - started)
            return _outcome(status, raw, started)
        return Outcome(0, None, time.perf_counter() - started)  # pragma: no cover (loop returns)


def fire(
    port: int,
    token: str,
    bodies: Sequence[Any],
    *,
    clients: int,
    path: str = "/api/v1/settlements",
    keep_alive: bool = True,
) -> list[Outcome]:
    """POST every body from ``clients`` concurrent threads; outcomes in the order of ``bodies``.

    Bodies are serialised before the clock starts. With ``keep_alive`` each thread keeps one
    connection (``KeepAliveClient``); otherwise every request opens a new connection.
    """
    payloads = [json.dumps(b).encode() for b in bodies]
    if not keep_alive:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(lambda b: request(port, "POST", path, token, b), bodies))
    local = threading.local()
    made: list[KeepAliveClient] = []

    def send(payload: bytes) -> Outcome:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = KeepAliveClient(port, token)
            made.append(client)
        return client.request("POST", path, payload)

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(send, payloads))
    finally:
        for client in made:
            client.close()


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process (Linux ``/proc``; others are left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Database:
    """The database a test's server writes to, read with plain SQL (the same on both backends).

    On PostgreSQL the server uses the test database itself; on SQLite (in memory in tests) the
    test database is copied to a file for the server (``publish``).
    """

    def __init__(self, tmp: Path) -> None:
        self.on_pg = connection.vendor == "postgresql"
        self.file: Path | None = None
        if self.on_pg:
            s = connection.settings_dict
            auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
            self.url = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        else:
            self.file = tmp / "server.sqlite3"
            self.url = f"sqlite:///{self.file}"

    def publish(self) -> None:
        """Make the seeded rows visible to the server (SQLite: copy the in-memory test database)."""
        if self.file is not None:
            connection.ensure_connection()
            target = sqlite3.connect(self.file)
            connection.connection.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            target.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``%s`` placeholders on both backends), on a connection of its own
        (committed at once, closed after: nothing is left open when the test database is dropped)."""
        if self.file is None:
            with psycopg.connect(self.url, autocommit=True) as pg:
                found = pg.execute(sql, params)
                return list(found.fetchall()) if found.description else []
        db = sqlite3.connect(self.file, timeout=30)
        try:
            out = list(db.execute(sql.replace("%s", "?"), params).fetchall())
            db.commit()
            return out
        finally:
            db.close()

    def wait_until_idle(self) -> None:
        """PostgreSQL: wait until the killed server's sessions are gone (their transactions rolled back)."""
        if self.file is not None:
            return
        for _ in range(100):
            others = self.rows(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s",
                (SERVER_APP_NAME,),
            )[0][0]
            if others == 0:
                return
            time.sleep(0.1)
