"""Configure Django for a benchmark on a throw-away database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PG_ADMIN_URL = os.environ.get("JKFP_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def db_name(base: str) -> str:
    """The benchmark database ``base`` plus ``$JKFP_DB_SUFFIX``, so that several checkouts on one
    machine (each with its own suffix) never drop each other's databases."""
    return base + os.environ.get("JKFP_DB_SUFFIX", "")


def _connect(autocommit: bool = False):
    import psycopg

    return psycopg.connect(
        PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), autocommit=autocommit, connect_timeout=3
    )


def pg_available() -> bool:
    """PostgreSQL 可用 True when the local PostgreSQL server answers."""
    try:
        with _connect():
            return True
    except Exception:  # any connection failure means: not available here
        return False


def pg_database_url(name: str) -> str:
    """The URL of database ``name`` on the benchmark server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def fresh_pg_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    drop_pg_database(name)
    with _connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_database_url(name)


def drop_pg_database(name: str) -> None:
    """Drop database ``name`` if it exists (ending its sessions)."""
    with _connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str | None = None, *, home: Path | None = None) -> Path:
    """Point Django at ``database_url`` (default: a new SQLite file under ``home``), migrate, return home."""
    home = home or Path(tempfile.mkdtemp(prefix="jkfp-bench-"))
    os.environ["JKFP_HOME"] = str(home)
    # Pages name their static files through the manifest: share the checkout's collected folder.
    os.environ.setdefault("JKFP_STATIC_ROOT", str(Path(__file__).resolve().parent.parent / "var" / "static"))
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{home / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "jkfp.settings"
    import django
    from django.core.management import call_command

    from jkfp.ops.static import static_collect

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    static_collect()  # nothing to do when the suite (or jkfp init) collected them already
    return home
