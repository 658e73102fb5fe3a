"""Configure Django for a benchmark on a throw-away database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PG_ADMIN_URL = os.environ.get("JKFP_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    """PostgreSQL 可用 True when the local PostgreSQL server answers."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), connect_timeout=3):
            return True
    except Exception:  # any connection failure means: not available here
        return False


def fresh_pg_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def setup_django(database_url: str | None = None) -> Path:
    """Point Django at ``database_url`` (default: a new SQLite file), migrate, and return the home dir."""
    home = Path(tempfile.mkdtemp(prefix="jkfp-bench-"))
    os.environ["JKFP_HOME"] = str(home)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{home / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "jkfp.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return home
