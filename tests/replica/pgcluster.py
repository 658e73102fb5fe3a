"""Throw-away PostgreSQL clusters on loopback for the replica and pool tests (never the shared server).

``PgCluster.primary(...)`` runs ``initdb`` in a temporary directory owned by the ``postgres`` user (as
root the binaries run through ``runuser -u postgres --``) and starts it on a free port with small
settings; ``standby_of`` makes a hot standby with ``pg_basebackup -R`` on a second port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SMALL_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'16MB'",
    "fsync": "off",
    "synchronous_commit": "off",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "wal_keep_size": "'64MB'",
    "hot_standby": "on",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL with initdb, pg_ctl and pg_basebackup, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for directory in candidates:
        if all((directory / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres")):
            return directory
    found = shutil.which("pg_basebackup")
    if found and shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(found).parent
    return None


def pg_missing_reason() -> str | None:
    """Why no cluster can be started here (None: it can)."""
    if pg_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run the server as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _owned_tempdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="jkfp-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


@dataclass
class PgCluster:
    """One running (or stopped) cluster: its data directory, port and log."""

    root: Path
    data: Path
    port: int

    @property
    def log(self) -> Path:
        return self.root / f"{self.data.name}.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        binary = pg_bin_dir()
        assert binary is not None
        return subprocess.run(
            _as_owner([str(binary / cmd[0]), *cmd[1:]]),
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = self.run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
        )  # fmt: skip
        return out.stdout.strip()

    def _configure(self, settings: dict[str, str]) -> None:
        lines = [f"{key} = {value}" for key, value in settings.items()]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# jkfp test cluster\n" + "\n".join(lines) + "\n")

    @classmethod
    def primary(cls, *, max_connections: int = 20) -> PgCluster:
        root = _owned_tempdir()
        cluster = cls(root=root, data=root / "primary", port=free_port())
        cluster.run(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        cluster._configure(
            {
                **SMALL_SETTINGS,
                "port": str(cluster.port),
                "unix_socket_directories": f"'{root}'",
                "max_connections": str(max_connections),
            }
        )
        cluster.start()
        return cluster

    def standby_of(self) -> PgCluster:
        """A hot standby of this cluster (``pg_basebackup -R``) on a port of its own, started."""
        standby = PgCluster(root=self.root, data=self.root / "standby", port=free_port())
        self.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        standby._configure({"port": str(standby.port)})
        standby.start()
        return standby

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while self.run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode:
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster on port {self.port} not ready: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def destroy(self, *others: PgCluster) -> None:
        for cluster in (*others, self):
            cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)
