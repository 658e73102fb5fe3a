"""Concurrency: windows settling claims of the same persons at the same moment give the serial
result (the person's ledger row is locked). Runs on SQLite (writers serialised by BEGIN IMMEDIATE)
and on PostgreSQL (``select_for_update`` of the ledger row)."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from jkfp import engine
from jkfp.settlement import services
from jkfp.settlement.models import Settlement, YearLedger
from jkfp.settlement.tests.factories import make_person, tag


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "sqlite" in __import__("os").environ.get("DATABASE_URL", "sqlite"),
    reason="the SQLite test database is in memory with a shared cache, whose table locks (SQLITE_LOCKED) "
    "are not retried by busy_timeout; the file database serialises writers with BEGIN IMMEDIATE — "
    "this test runs there on PostgreSQL; test_concurrent_file_sqlite covers a SQLite file database",
)
def test_concurrent_submissions_equal_the_serial_result(county: dict[str, Any]) -> None:
    services.policy_install_preset(name="suixian-2020")
    rnd = random.Random(42)
    persons = []
    for k in range(4):
        p = make_person(county["t1v1"], f"并发{k}", 200 + k)
        tag(p, "poor")
        persons.append(p)
    hospital = county["hospital"]
    jobs: list[dict[str, Any]] = []
    for k in range(24):
        p = persons[k % 4]
        day = date(2020, 1, 1) + timedelta(days=rnd.randint(0, 360))
        total = Decimal(rnd.randint(2000, 90000))
        jobs.append(
            dict(
                claim_id=f"K{k:03d}",
                person=p,
                institution=hospital,
                admitted_on=day,
                discharged_on=day,
                total_amount=total,
                out_of_scope_amount=(total / 10).quantize(Decimal("0.01")),
            )
        )
    rnd.shuffle(jobs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(part: list[dict[str, Any]]) -> None:
        try:
            barrier.wait()
            for job in part:
                services.claim_submit(**job)
                services.claim_submit(**job)  # an identical re-post changes nothing
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(jobs[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    policy = engine.load_preset("suixian-2020")
    serial = engine.settle_claims(
        policy,
        [
            engine.Claim(
                claim_id=j["claim_id"],
                person_id=j["person"].id_number,
                category="poor",
                discharge_on=j["discharged_on"],
                level=2,
                in_county=True,
                referred=False,
                total_amount=j["total_amount"],
                out_of_scope_amount=j["out_of_scope_amount"],
            )
            for j in jobs
        ],
    )
    expected = {s.claim_id: s.amounts for s in serial}
    live = {
        s.claim.claim_id: (
            s.counted_total,
            s.hospital_absorbed,
            s.basic,
            s.critical,
            s.aid,
            s.supplementary,
            s.personal,
        )
        for s in Settlement.objects.filter(is_current=True).select_related("claim")
    }
    assert live == expected
    for p in persons:
        lg = YearLedger.objects.get(person=p, year=2020)
        mine = [s for s in serial if s.claim_id in {j["claim_id"] for j in jobs if j["person"] == p}]
        assert lg.personal_ytd == sum((s.personal for s in mine), Decimal("0.00"))
        assert lg.claim_count == len(mine)
    assert connection.vendor in ("sqlite", "postgresql")


def test_concurrent_file_sqlite(tmp_path: Any) -> None:
    """The same check on a SQLite file database in a process of its own (see the script)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, "-m", "jkfp.settlement.tests.concurrency_script", str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    claims = [
        engine.Claim(
            claim_id=c["claim_id"],
            person_id=c["person_id"],
            category="poor",
            discharge_on=date.fromisoformat(c["day"]),
            level=2,
            in_county=True,
            referred=False,
            total_amount=Decimal(c["total"]),
            out_of_scope_amount=Decimal(c["oos"]),
        )
        for c in out["claims"]
    ]
    serial = engine.settle_claims(engine.load_preset("suixian-2020"), claims)
    assert out["live"] == {s.claim_id: [f"{a:.2f}" for a in s.amounts] for s in serial}
    by_person: dict[str, Decimal] = {}
    for c, s in zip(claims, serial, strict=True):
        by_person[c.person_id] = by_person.get(c.person_id, Decimal("0.00")) + s.personal
    assert out["ledgers"] == {k: f"{v:.2f}" for k, v in by_person.items()}
