"""The database settings from the environment: pool options, the replica alias and its router."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

PRIMARY = "postgres://postgres@127.0.0.1:5432/jkfp"
REPLICA = "postgres://postgres@127.0.0.2:5433/jkfp"


def _settings(**env: str) -> dict[str, Any]:
    """``jkfp.settings`` as another process sees it under ``env`` (settings are read once per process)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "JKFP_DB_", "JKFP_REPLICA", "JKFP_PG_"))
    }
    code = (
        "import json; from jkfp import settings as s; "
        "print(json.dumps({'db': s.DATABASES, 'routers': getattr(s, 'DATABASE_ROUTERS', []),"
        " 'lag': s.REPLICA_MAX_LAG_SECONDS, 'check': s.REPLICA_CHECK_SECONDS}, default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 or env.get("expect_error"), out.stderr[-2000:]
    return {"error": out.stderr} if out.returncode else json.loads(out.stdout)


def test_default_is_one_database_without_pool_or_router() -> None:
    found = _settings(DATABASE_URL=PRIMARY)
    assert list(found["db"]) == ["default"] and found["routers"] == []
    assert "pool" not in found["db"]["default"].get("OPTIONS", {})
    assert found["db"]["default"]["CONN_MAX_AGE"] == 60
    assert found["db"]["default"]["OPTIONS"]["options"] == "-c jit=off"  # JKFP_PG_JIT's default


def test_jit_left_to_the_server_or_refused() -> None:
    """JKFP_PG_JIT=server keeps the server's JIT setting (no connection option); SQLite has none; any other
    value stops the start with a message naming the variable."""
    assert "options" not in _settings(DATABASE_URL=PRIMARY, JKFP_PG_JIT="server")["db"]["default"].get(
        "OPTIONS", {}
    )
    both = _settings(DATABASE_URL=PRIMARY, DATABASE_REPLICA_URL=REPLICA)["db"]
    assert both["replica"]["OPTIONS"]["options"] == "-c jit=off"
    sqlite = _settings(DATABASE_URL="sqlite:////tmp/jkfp-jit-test.sqlite3")["db"]["default"]
    assert "options" not in sqlite.get("OPTIONS", {})
    refused = _settings(DATABASE_URL=PRIMARY, JKFP_PG_JIT="yes", expect_error="1")
    assert "JKFP_PG_JIT 只能是 off 或 server" in refused["error"]


def test_pool_and_replica_from_the_environment() -> None:
    found = _settings(
        DATABASE_URL=PRIMARY,
        DATABASE_REPLICA_URL=REPLICA,
        JKFP_DB_POOL_MAX_SIZE="4",
        JKFP_REPLICA_MAX_LAG_SECONDS="2.5",
        JKFP_REPLICA_CHECK_SECONDS="1",
    )
    default, replica = found["db"]["default"], found["db"]["replica"]
    assert default["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    assert default["CONN_MAX_AGE"] == 0 and replica["CONN_MAX_AGE"] == 0  # the pool keeps them
    assert replica["HOST"] == "127.0.0.2" and replica["PORT"] == 5433
    assert replica["OPTIONS"]["pool"]["max_size"] == 4 and replica["OPTIONS"]["connect_timeout"] == 2
    assert replica["TEST"] == {"MIRROR": "default"}
    assert found["routers"] == ["jkfp.core.replica.ReplicaRouter"]
    assert (found["lag"], found["check"]) == (2.5, 1.0)


@pytest.mark.parametrize("primary", ["", "sqlite:////tmp/jkfp-replica-test.sqlite3"])
def test_replica_needs_a_postgresql_primary(primary: str) -> None:
    found = _settings(DATABASE_URL=primary, DATABASE_REPLICA_URL=REPLICA, expect_error="1")
    assert "DATABASE_REPLICA_URL 需要 PostgreSQL 主库" in found["error"]
