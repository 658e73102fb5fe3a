"""只读副本 A real hot standby on loopback: the read-only pages read it, writes and their own pages use the
primary, and reads fall back to the primary when the standby lags or stops (jkfp.core.replica)."""

from __future__ import annotations

import time
from typing import Any

from tests.replica.conftest import SNAPSHOT_SCANS, XACTS, AppProcess, PgPair, stat, stat_after

PAGES = ("dashboard", "drill", "ledgers", "ledger_export", "report", "treatment_ledger")


def _facts(pages: dict[str, Any]) -> dict[str, Any]:
    """What the pages showed, independent of the database that served them."""
    return {
        "figures": pages["dashboard"]["figures"],
        "computed_at": pages["dashboard"]["computed_at"],
        "drill": pages["drill"]["count"],
        "roster_total": pages["ledger_export"]["total"],
    }


def test_replica_serves_reads_and_the_primary_takes_over(pg_pair: PgPair) -> None:
    app = pg_pair.serve()
    try:
        _scenario(pg_pair, app)
    finally:
        app.close()


def _scenario(pg_pair: PgPair, app: AppProcess) -> None:
    primary, standby = pg_pair.primary, pg_pair.standby
    caught_up = app("catchup")
    assert caught_up["usable"] and caught_up["lag"] == 0, caught_up

    # 1. Standby up and caught up: every read-only page reads it, the primary's snapshot tables are
    #    not scanned at all; the standby's own statistics count the scans and transactions.
    scans_standby, scans_primary = stat(standby, SNAPSHOT_SCANS), stat(primary, SNAPSHOT_SCANS)
    xacts_standby = stat(standby, XACTS)
    up = app("pages")
    for page in PAGES:
        assert up[page]["status"] == 200, (page, up[page])
        assert up[page]["queries"].get("replica", 0) > 0, (page, up[page])
    assert up["replica"]["usable"], up["replica"]
    assert stat_after(standby, SNAPSHOT_SCANS, scans_standby) > scans_standby
    assert stat_after(standby, XACTS, xacts_standby) > xacts_standby
    assert stat(primary, SNAPSHOT_SCANS) == scans_primary
    facts = _facts(up)
    # The hand-built county's figures (jkfp/indicators/tests/factories.py), read from the standby.
    assert facts["figures"]["indicators"]["contract_rate"]["numerator"] == 2
    assert facts["drill"] == 2 and facts["roster_total"] == "7人"

    # 2. Replay paused: a refresh posted by one browser; its next page reads the primary and shows the
    #    new snapshot; another browser still reads the standby (within the lag limit) and the old one.
    standby.psql("SELECT pg_wal_replay_pause()")
    written = app("write-then-read")
    assert written["posted"] == {"status": 302, "cookie": True}
    assert written["writer"]["queries"].get("replica", 0) == 0
    assert written["writer"]["computed_at"] > written["before"]["computed_at"]
    assert written["writer"]["figures"] == facts["figures"]
    assert written["other"]["queries"].get("replica", 0) > 0
    assert written["other"]["computed_at"] == written["before"]["computed_at"] == facts["computed_at"]

    # 3. Lag beyond the limit (1 s here): the pages read the primary and show the new snapshot.
    time.sleep(1.5)
    lagging = app("pages", {"REPLICA_MAX_LAG_SECONDS": 1})
    assert not lagging["replica"]["usable"] and "延迟" in lagging["replica"]["reason"], lagging["replica"]
    for page in PAGES:
        assert lagging[page]["status"] == 200 and lagging[page]["queries"].get("replica", 0) == 0, page
    assert _facts(lagging) == {**facts, "computed_at": written["writer"]["computed_at"]}
    standby.psql("SELECT pg_wal_replay_resume()")
    assert app("catchup")["lag"] == 0

    # 4. The standby stops between two pages of one process that believes it up: the page is served
    #    again from the primary, the same figures.
    died = app("dies", {"REPLICA_CHECK_SECONDS": 600}, JKFP_TEST_STANDBY=str(standby.data))
    assert died["first"]["queries"].get("replica", 0) > 0
    assert died["second"]["status"] == 200 and died["second"]["figures"] == facts["figures"]
    assert died["second"]["computed_at"] == written["writer"]["computed_at"]
    assert not died["replica"]["usable"] and "副本查询失败" in died["replica"]["reason"], died["replica"]

    # 5. Standby down: every page from the primary, correct.
    down = app("pages")
    # Unreachable at the probe, or (a standby still shutting down on a loaded machine) failing the
    # page's first query: either way it is marked down and the page is served by the primary.
    reason = down["replica"]["reason"]
    assert not down["replica"]["usable"] and ("不可达" in reason or "副本查询失败" in reason), down["replica"]
    for page in PAGES:
        assert down[page]["status"] == 200 and down[page]["queries"].get("replica", 0) == 0, page
    assert _facts(down) == _facts(lagging)
