"""连接池 Several app processes with many threads against one primary with a small connection budget:
without a pool they run out of connections; through psycopg's pool (JKFP_DB_POOL_MAX_SIZE) every
request succeeds and the primary never sees more than processes × pool size connections."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from tests.replica.conftest import DATABASE, MAX_CONNECTIONS, PgPair

PROCESSES, THREADS, REQUESTS, POOL_SIZE = 3, 8, 3, 3


def _load(pg_pair: PgPair, **env: str) -> tuple[list[dict[str, Any]], int]:
    """Run the app processes together; return their results and the peak of client connections."""
    start_at = f"{time.time() + 6:.3f}"  # after every process has started Django
    settings = {"JKFP_TEST_THREADS": str(THREADS), "JKFP_TEST_REQUESTS": str(REQUESTS), **env}
    peak = 0
    with psycopg.connect(pg_pair.primary.url(DATABASE), autocommit=True) as watcher:
        runs = [
            pg_pair.start("load", replica=False, JKFP_TEST_START_AT=start_at, **settings)
            for _ in range(PROCESSES)
        ]
        while any(run.process.poll() is None for run in runs):
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            peak = max(peak, int(row[0]) if row else 0)
            time.sleep(0.05)
        return [run.result() for run in runs], peak


def test_pool_keeps_app_servers_within_the_connection_budget(pg_pair: PgPair) -> None:
    assert PROCESSES * THREADS > MAX_CONNECTIONS > PROCESSES * POOL_SIZE

    # Without a pool each thread keeps a connection of its own: more than the primary allows.
    results, _ = _load(pg_pair, JKFP_DB_POOL_MAX_SIZE="0", JKFP_CONN_MAX_AGE="60")
    errors = [e for r in results for e in r["errors"]]
    assert any("too many clients" in e for e in errors), errors[:3]
    refused = sum("too many clients" in e for e in errors)

    # Through the pool: every request answered, at most processes × pool size connections.
    results, peak = _load(pg_pair, JKFP_DB_POOL_MAX_SIZE=str(POOL_SIZE), JKFP_DB_POOL_TIMEOUT="30")
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    assert [r["statuses"] for r in results] == [{"200": THREADS * REQUESTS}] * PROCESSES
    assert 0 < peak <= PROCESSES * POOL_SIZE, peak
    print(
        f"pool: {PROCESSES}×{THREADS} threads; without a pool {refused} threads refused a connection;"
        f" with pool size {POOL_SIZE}: peak {peak} connections, {[r['seconds'] for r in results]} s"
    )
