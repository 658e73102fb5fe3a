"""可靠性 A real gunicorn server under concurrent load, and killed (SIGKILL) in the middle of one.

1. 1,000 concurrent settlement requests for 20 persons (5 % of them repeats of a claim posted just
   before, as a retrying hospital system sends): every request answers 200, every claim is settled
   once, and every person's year-to-date (the ledger row) and every claim's current settlement
   equal the serial result (the reference engine settling each person's claims one after the other
   in (discharge date, claim id) order).
2. The server process group is SIGKILLed while requests are in flight: no settlement is
   half-written (every settled claim has exactly one current settlement, no claim is left pending,
   each ledger equals the sum of its current settlements and the serial result of the claims that
   committed); a restarted server then accepts the same requests again and finishes the year.

On PostgreSQL (``DATABASE_URL=postgres://…``) the server uses the test database itself, at full
size. On SQLite (the default test run) the test database lives in memory, so it is copied to a
file for the server, and the tests run a **reduced version** (150 requests for 10 persons; 80
requests in the crash test), because SQLite serialises writers and the full size would exceed the
time budget; the assertions are the same.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from django.db import connection

from benchmarks.loadtest import Database, Outcome, Server, fire
from jkfp import engine
from jkfp.core.idnumber import make_id_number

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ON_PG = connection.vendor == "postgresql"
YTD_COLUMNS = (
    "basic",
    "critical_base",
    "critical",
    "aid",
    "aid_deductible_used",
    "supplementary",
    "personal",
)


def _seed(persons: int) -> tuple[str, list[str]]:
    """The 2020 policy, H001 (level 2, in county) with a token, ``persons`` 脱贫 persons; returns
    (token, id numbers)."""
    from jkfp.accounts.services import institution_token_create
    from jkfp.regions.models import Institution, Region, RegionLevel
    from jkfp.registry.models import Person, Tag
    from jkfp.settlement.services import policy_install_preset

    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421321001000", name="第1镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421321001001", name="第1村", level=RegionLevel.VILLAGE, parent=town)
    Institution.objects.create(code="H001", name="随县人民医院", level="2", region=county)
    policy_install_preset(name="suixian-2020")
    ids = []
    for i in range(persons):
        number = make_id_number("421321", date(1960, 1, 1) + timedelta(days=i), 100 + i)
        person = Person.objects.create(
            id_number=number, name=f"测试{i}", sex="M", birth_date=date(1960, 1, 1), village=village
        )
        Tag.objects.create(person=person, code="poor", start_on=date(2019, 1, 1), source="测试")
        ids.append(number)
    return institution_token_create(institution_code="H001")[1], ids


def _claims(ids: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` stays spread over 2020 for the persons, posted roughly in discharge order with
    local shuffling (so the same person's claims are in flight together and some arrive early)."""
    rng = random.Random(seed)
    claims = []
    for n in range(count):
        discharged = date(2020, 1, 1) + timedelta(days=rng.randrange(360))
        total = Decimal(rng.randrange(50_000, 6_000_000)) / 100
        out = (total * Decimal(rng.randrange(0, 30)) / 100).quantize(Decimal("0.01"))
        claims.append(
            {
                "claim_id": f"R{seed}-{n:05d}",
                "id_number": ids[rng.randrange(len(ids))],
                "admitted_on": (discharged - timedelta(days=rng.randrange(1, 15))).isoformat(),
                "discharged_on": discharged.isoformat(),
                "total_amount": f"{total:.2f}",
                "out_of_scope_amount": f"{out:.2f}",
                "referred": False,
            }
        )
    claims.sort(key=lambda c: c["discharged_on"])
    window = 4
    for start in range(0, len(claims), window):
        chunk = claims[start : start + window]
        rng.shuffle(chunk)
        claims[start : start + window] = chunk
    return claims


def _serial(claims: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, tuple[Decimal, ...]]]:
    """The reference engine, one claim after the other per person: (final YTD by id number, amounts by claim)."""
    policy = engine.load_preset("suixian-2020")
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        by_person[c["id_number"]].append(c)
    ytds: dict[str, Any] = {}
    amounts: dict[str, tuple[Decimal, ...]] = {}
    for number, own in by_person.items():
        ytd = engine.YearToDate()
        for c in sorted(own, key=lambda c: (c["discharged_on"], c["claim_id"])):
            result = engine.settle_claim(
                policy,
                engine.Claim(
                    claim_id=c["claim_id"],
                    person_id=number,
                    category="poor",
                    discharge_on=date.fromisoformat(c["discharged_on"]),
                    level=2,
                    in_county=True,
                    referred=False,
                    total_amount=Decimal(c["total_amount"]),
                    out_of_scope_amount=Decimal(c["out_of_scope_amount"]),
                ),
                ytd,
            )
            ytd = result.ytd_after
            amounts[c["claim_id"]] = result.amounts
        ytds[number] = ytd
    return ytds, amounts


def _ledgers(db: Database) -> dict[str, tuple[Decimal, ...]]:
    rows = db.rows(
        "SELECT p.id_number, l.basic_ytd, l.critical_base_ytd, l.critical_ytd, l.aid_ytd, "
        "l.aid_deductible_used_ytd, l.supplementary_ytd, l.personal_ytd FROM settlement_yearledger l "
        "JOIN registry_person p ON p.id = l.person_id WHERE l.year = 2020"
    )
    return {r[0]: tuple(Decimal(str(v)).quantize(Decimal("0.01")) for v in r[1:]) for r in rows}


def _current(db: Database) -> dict[str, tuple[Decimal, ...]]:
    rows = db.rows(
        "SELECT c.claim_id, s.counted_total, s.hospital_absorbed, s.basic, s.critical, s.aid, "
        "s.supplementary, s.personal FROM settlement_settlement s "
        "JOIN settlement_claim c ON c.id = s.claim_id WHERE s.is_current = TRUE"
    )
    return {r[0]: tuple(Decimal(str(v)).quantize(Decimal("0.01")) for v in r[1:]) for r in rows}


def _assert_whole(db: Database) -> list[str]:
    """Nothing half-written; returns the claim ids that are settled."""
    broken = db.rows(
        "SELECT c.claim_id, c.status, COUNT(s.id) FROM settlement_claim c "
        "LEFT JOIN settlement_settlement s ON s.claim_id = c.id AND s.is_current = TRUE "
        "GROUP BY c.id, c.claim_id, c.status "
        "HAVING (c.status = 'settled' AND COUNT(s.id) <> 1) OR (c.status <> 'settled' AND COUNT(s.id) <> 0)"
    )
    assert broken == [], f"claims without exactly one current settlement: {broken[:5]}"
    assert db.rows("SELECT COUNT(*) FROM settlement_claim WHERE status <> 'settled'")[0][0] == 0
    # Sums in Python with Decimal: SQLite keeps decimals as floating-point NUMERIC values.
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal("0.00")] * 6)
    for row in db.rows(
        "SELECT p.id_number, s.basic, s.critical, s.aid, s.supplementary, s.personal "
        "FROM settlement_settlement s JOIN settlement_claim c ON c.id = s.claim_id "
        "JOIN registry_person p ON p.id = c.person_id WHERE s.is_current = TRUE"
    ):
        totals = sums[row[0]]
        totals[0] += 1
        for i, value in enumerate(row[1:], start=1):
            totals[i] += Decimal(str(value)).quantize(Decimal("0.01"))
    ledgers = {
        r[0]: [Decimal(r[1]), *(Decimal(str(v)).quantize(Decimal("0.01")) for v in r[2:])]
        for r in db.rows(
            "SELECT p.id_number, l.claim_count, l.basic_ytd, l.critical_ytd, l.aid_ytd, l.supplementary_ytd, "
            "l.personal_ytd FROM settlement_yearledger l JOIN registry_person p ON p.id = l.person_id "
            "WHERE l.year = 2020"
        )
    }
    assert set(sums) <= set(ledgers)
    mismatched = [n for n, values in ledgers.items() if values != sums.get(n, [Decimal("0.00")] * 6)]
    assert mismatched == [], f"ledgers differing from the sum of current settlements: {mismatched}"
    return [r[0] for r in db.rows("SELECT claim_id FROM settlement_claim WHERE status = 'settled'")]


def _assert_serial(db: Database, claims: list[dict[str, Any]]) -> None:
    ytds, amounts = _serial(claims)
    ledgers = _ledgers(db)
    for number, ytd in ytds.items():
        assert ledgers[number] == tuple(getattr(ytd, f) for f in YTD_COLUMNS), number
    assert _current(db) == amounts


def test_concurrent_settlements_equal_the_serial_result(tmp_path: Path) -> None:
    persons, requests, clients = (20, 1000, 16) if ON_PG else (10, 150, 8)
    token, ids = _seed(persons)
    # 5 % of the requests repeat a claim right next to its first post (a retrying hospital system):
    # both must answer 200 and the claim is settled once.
    distinct = requests - requests // 20
    claims = _claims(ids, distinct, seed=1)
    bodies = list(claims)
    for i in range(requests // 20):
        at = (i * 19) % len(bodies)
        bodies.insert(at + 1, dict(bodies[at]))
    db = Database(tmp_path)
    db.publish()
    server = Server(database_url=db.url, home=tmp_path / "home").start()
    try:
        outcomes = fire(server.port, token, bodies, clients=clients)
    finally:
        server.stop()
    assert len(outcomes) == requests
    statuses = {o.status for o in outcomes}
    assert statuses == {200}, [(o.status, o.body) for o in outcomes if o.status != 200][:3]
    assert len(_assert_whole(db)) == distinct
    _assert_serial(db, claims)


def test_a_killed_server_leaves_nothing_half_written(tmp_path: Path) -> None:
    requests, clients = (150, 16) if ON_PG else (80, 8)
    token, ids = _seed(20 if ON_PG else 10)
    claims = _claims(ids, requests, seed=2)
    db = Database(tmp_path)
    db.publish()
    server = Server(database_url=db.url, home=tmp_path / "home").start()
    outcomes: list[Outcome] = []
    loader = Thread(target=lambda: outcomes.extend(fire(server.port, token, claims, clients=clients)))
    loader.start()
    settled_before_kill = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        settled_before_kill = db.rows("SELECT COUNT(*) FROM settlement_claim")[0][0]
        if settled_before_kill >= requests // 4:
            break
        time.sleep(0.02)
    server.kill()
    loader.join(timeout=60)
    db.wait_until_idle()
    settled = set(_assert_whole(db))
    assert 0 < len(settled) < requests, "the kill did not land in the middle of the load"
    assert any(o.status == 0 for o in outcomes), "no request was cut off by the kill"
    # Every claim the server answered 200 for was committed.
    assert {c["claim_id"] for c, o in zip(claims, outcomes, strict=True) if o.status == 200} <= settled
    _assert_serial(db, [c for c in claims if c["claim_id"] in settled])

    # A restarted server accepts the same requests again (idempotent) and finishes the year.
    server = Server(database_url=db.url, home=tmp_path / "home").start()
    try:
        again = fire(server.port, token, claims, clients=clients)
    finally:
        server.stop()
    assert {o.status for o in again} == {200}
    assert len(_assert_whole(db)) == requests
    _assert_serial(db, claims)
