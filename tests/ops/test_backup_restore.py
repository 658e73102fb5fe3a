"""`jkfp backup` / `jkfp restore`: round trips on SQLite, on PostgreSQL, and SQLite → PostgreSQL.

Real parts: the `jkfp` command in subprocesses, each installation in its own folder (``JKFP_HOME``)
with its own database — SQLite files, and PostgreSQL databases named with ``JKFP_DB_SUFFIX`` on the
suite's server. The source is the demo county (every domain's tables) plus a binary attachment. After a
restore, every table's row count and content digest must equal the archive's (the restore checks it
and fails otherwise) and the pages an administrator and a village doctor see must be the same.

The SQLite round trip and the refusals run in the SQLite pass; SQLite → PostgreSQL and PostgreSQL →
PostgreSQL run in the PostgreSQL pass (they need the server, and the source is SQLite either way).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
SUFFIX = os.environ.get("JKFP_DB_SUFFIX", "")
PAGES = Path(__file__).with_name("page_digests.py")


def jkfp(home: Path, *args: str, database: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``jkfp`` in the installation at ``home`` (its own data directory and database)."""
    env = {
        **os.environ,
        "JKFP_HOME": str(home),
        "JKFP_STATIC_ROOT": str(settings.STATIC_ROOT),  # collected already by the suite: not again
        "DATABASE_URL": database or f"sqlite:///{home / 'var' / 'jkfp.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "jkfp.cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, f"jkfp {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def pages(home: Path, database: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "JKFP_HOME": str(home),
        "JKFP_STATIC_ROOT": str(settings.STATIC_ROOT),
        "DATABASE_URL": database or f"sqlite:///{home / 'var' / 'jkfp.sqlite3'}",
    }
    done = subprocess.run([sys.executable, str(PAGES)], env=env, cwd=home, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo county on SQLite, with a binary attachment, and the page digests before any backup."""
    home = tmp_path_factory.mktemp("source")
    jkfp(home, "demo", "--persons", "100")  # creates the schema itself
    attachment = home / "var" / "attachments" / "2026" / "visit.jpg"
    attachment.parent.mkdir(parents=True)
    attachment.write_bytes(bytes(range(256)) * 64)
    return {"home": home, "pages": pages(home), "attachment": attachment.read_bytes()}


@pytest.fixture
def pg_databases() -> Iterator[Any]:
    """``make(name)`` → the URL of a new empty PostgreSQL database (dropped afterwards)."""
    import psycopg

    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    made: list[str] = []

    def admin(sql: str) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def make(name: str) -> str:
        database = f"jkfp{SUFFIX}_restore_{name}"
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin(f'CREATE DATABASE "{database}"')
        made.append(database)
        return f"{server}/{database}"

    yield make
    for database in made:
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _restored_home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    return home


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite round trip: runs once, in the SQLite pass")
def test_sqlite_round_trip_checks_every_member_and_refuses_a_full_target(
    source: dict[str, Any], tmp_path: Path
) -> None:
    archive = tmp_path / "jkfp-backup.tar.gz"
    made = json.loads(jkfp(source["home"], "backup", "--out", str(archive), "--json").stdout)
    assert made["engine"] == "sqlite" and made["rows"] > 10_000 and made["files"] >= 2
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        names = set(tar.getnames())
    assert {"database.sqlite3", "data/secret_key", "data/attachments/2026/visit.jpg"} <= names
    assert not any(n.startswith(("data/static/", "data/jkfp.sqlite3", "data/run/")) for n in names)
    assert manifest["tables"]["registry_person"]["rows"] == 100

    home = _restored_home(tmp_path, "restored")
    restored = json.loads(jkfp(home, "restore", str(archive), "--json").stdout)
    assert (restored["rows"], restored["pending_migrations"]) == (made["rows"], 0)
    assert (home / "var" / "attachments" / "2026" / "visit.jpg").read_bytes() == source["attachment"]
    assert (home / "var" / "secret_key").read_text() == (source["home"] / "var" / "secret_key").read_text()
    assert pages(home) == source["pages"]

    # The same archive into the same (now full) installation: refused, unless --force.
    again = jkfp(home, "restore", str(archive), check=False)
    assert again.returncode != 0 and "目标不是空的" in again.stderr and "--force" in again.stderr
    jkfp(home, "restore", str(archive), "--force")
    assert pages(home) == source["pages"]

    # One changed byte in one member: refused before anything is written.
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "data/attachments/2026/visit.jpg":
                data = b"\xff" + data[1:]
            out.addfile(member, io.BytesIO(data))
    fresh = _restored_home(tmp_path, "fresh")
    refused = jkfp(fresh, "restore", str(damaged), check=False)
    assert refused.returncode != 0
    assert (
        "校验失败：data/attachments/2026/visit.jpg" in refused.stderr
        and "checksum mismatch" in refused.stderr
    )
    assert not (fresh / "var" / "attachments").exists()


@pytest.mark.skipif(not ON_POSTGRES, reason="needs the PostgreSQL server: runs in the PostgreSQL pass")
def test_sqlite_grows_into_postgresql_and_postgresql_round_trips(
    source: dict[str, Any], tmp_path: Path, pg_databases: Any
) -> None:
    archive = tmp_path / "from-sqlite.tar.gz"
    jkfp(source["home"], "backup", "--out", str(archive))
    grown, grown_db = _restored_home(tmp_path, "grown"), pg_databases("a")
    jkfp(grown, "restore", str(archive), database=grown_db)
    assert pages(grown, grown_db) == source["pages"], "SQLite → PostgreSQL serves the same pages"

    pg_archive = tmp_path / "from-postgresql.tar.gz"
    made = json.loads(jkfp(grown, "backup", "--out", str(pg_archive), "--json", database=grown_db).stdout)
    assert made["engine"] == "postgresql"
    with tarfile.open(pg_archive) as tar:
        assert "database.pgdump" in tar.getnames()
    copy, copy_db = _restored_home(tmp_path, "copy"), pg_databases("b")
    jkfp(copy, "restore", str(pg_archive), database=copy_db)
    assert pages(copy, copy_db) == source["pages"]
    assert (copy / "var" / "attachments" / "2026" / "visit.jpg").read_bytes() == source["attachment"]
    # Again over the now full copy (--force): its audit rows, which the trigger keeps from UPDATE and
    # DELETE (accounts 0006), and the trigger's function go with the tables; pg_restore re-creates both.
    jkfp(copy, "restore", str(pg_archive), "--force", database=copy_db)
    assert pages(copy, copy_db) == source["pages"]
    sqlite_home = _restored_home(tmp_path, "back-to-sqlite")
    refused = jkfp(sqlite_home, "restore", str(pg_archive), check=False)
    assert refused.returncode != 0 and "PostgreSQL 的备份只能恢复到 PostgreSQL" in refused.stderr
