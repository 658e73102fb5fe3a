"""Bulk settlement: ``claims_settle_year`` (batch engine) equals ``jkfp settle`` and the per-claim
service in any order; the engine's example file gives the same fen through the database."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jkfp import settle_cli
from jkfp.regions.models import Institution
from jkfp.settlement import bulk, exports, services
from jkfp.settlement.models import Claim, ClaimStatus, Settlement, SettlementReason, YearLedger
from jkfp.settlement.tests.factories import SettleWorld, make_person, tag

EXAMPLES = Path(__file__).resolve().parents[2] / "engine" / "tests" / "examples"


def random_claims(sw: SettleWorld, *, persons: int = 25, claims: int = 160, seed: int = 7) -> list[Claim]:
    """Pending claims of 2020 for persons with assorted tags, in random institutions."""
    rnd = random.Random(seed)
    Institution.objects.create(code="H901", name="市中心医院", level="2", in_county=False)
    Institution.objects.create(code="H003", name="县中医院", level="3", in_county=True)
    insts = list(Institution.objects.all())
    people = []
    for k in range(persons):
        village = sw.county[rnd.choice(["t1v1", "t1v2", "t2v1", "t2v2"])]
        p = make_person(village, f"测{k}", 100 + k, born=date(1950 + k, 2, 3))
        for code in rnd.sample(["poor", "dibao", "tekun", "monitored", "disabled"], rnd.randint(0, 2)):
            start = date(2020, rnd.randint(1, 12), 1) if rnd.random() < 0.3 else date(2016, 1, 1)
            tag(p, code, start)
        people.append(p)
    out = []
    for k in range(claims):
        p = rnd.choice(people[: max(3, persons // 3)] if rnd.random() < 0.5 else people)
        day = date(2020, 1, 1) + timedelta(days=rnd.randint(0, 365))
        total = Decimal(
            rnd.choice([rnd.randint(100, 3000), rnd.randint(3000, 60000), rnd.randint(60000, 400000)])
        )
        total += Decimal(rnd.randint(0, 99)) / 100
        oos = (total * Decimal(rnd.choice(["0", "0.01", "0.05", "0.2"]))).quantize(Decimal("0.01"))
        inst = rnd.choice(insts)
        out.append(
            services.claim_create(
                claim_id=f"C{k:04d}",
                person=p,
                institution=inst,
                admitted_on=day - timedelta(days=rnd.randint(0, 10)),
                discharged_on=day,
                total_amount=total,
                out_of_scope_amount=oos,
                referred=None if inst.in_county else rnd.random() < 0.5,
                source="import",
            )
        )
    return out


def settle_cli_output(tmp_path: Path, claims_bytes: bytes, preset: str = "suixian-2020") -> bytes:
    src = tmp_path / "claims.csv"
    out = tmp_path / "out.csv"
    src.write_bytes(claims_bytes)
    assert settle_cli.main(["--preset", preset, "--claims", str(src), "--out", str(out)]) == 0
    return out.read_bytes()


def without_institution(data: bytes) -> bytes:
    """An export without its institution_code column (the second: the example ids hold no comma)."""
    lines = data.decode().splitlines()
    assert lines[0].split(",")[1] == "institution_code"
    return "".join(
        ",".join(c for i, c in enumerate(line.split(",")) if i != 1) + "\n" for line in lines
    ).encode()


def test_example_file_through_the_database_equals_jkfp_settle(sw: SettleWorld, tmp_path: Path) -> None:
    # The engine's example claims (persons and categories as in the file) settled by settle-claims.
    ids = {"421321198001010117": ("poor", "county2"), "421321198001010221": ("poor", "clinic1")}
    rows = (EXAMPLES / "claims.csv").read_text().splitlines()[1:]
    inst_by = {(2, True): "county2", (1, True): "clinic1", (3, False): "out3"}
    from jkfp.registry.models import Person

    for line in rows:
        cid, pid, cat, day, level, in_county, referred, total, oos = line.split(",")
        person = Person.objects.filter(id_number=pid).first()
        if person is None:
            person = Person.objects.create(
                id_number=pid, name=cid, sex="M", birth_date=date(1980, 1, 1), village=sw.county["t1v1"]
            )
            if cat != "ordinary":
                tag(person, cat)
        inst = sw.institutions[inst_by[(int(level), in_county == "1")]]
        services.claim_create(
            claim_id=cid,
            person=person,
            institution=inst,
            admitted_on=date.fromisoformat(day),
            discharged_on=date.fromisoformat(day),
            total_amount=total,
            out_of_scope_amount=oos,
            referred=referred == "1",
        )
    del ids
    result = bulk.claims_settle_year(year=2020)
    assert (result.claims, result.settled, result.invalid) == (4, 4, 0)
    expected = (EXAMPLES / "expected-suixian-2020.csv").read_bytes()
    exported = exports.settlements_csv(year=2020)
    assert without_institution(exported) == expected  # the example's amounts, to the fen
    assert settle_cli_output(tmp_path, exports.claims_csv(year=2020)) == exported


def test_settle_claims_equals_jkfp_settle_and_the_per_claim_service(sw: SettleWorld, tmp_path: Path) -> None:
    claims = random_claims(sw)
    result = bulk.claims_settle_year(year=2020)
    assert result.settled == len(claims) and result.invalid == 0
    batch_out = exports.settlements_csv(year=2020)
    assert settle_cli_output(tmp_path, exports.claims_csv(year=2020)) == batch_out
    assert not Claim.objects.filter(status=ClaimStatus.PENDING).exists()
    # Ledger = the last claim's year-to-date = the sum of personal over live settlements.
    for lg in YearLedger.objects.filter(year=2020):
        live = Settlement.objects.filter(is_current=True, claim__person_id=lg.person_id)
        assert lg.personal_ytd == sum((s.personal for s in live), Decimal("0.00"))
        assert lg.claim_count == live.count()
    # Batch rows carry no trace; the selector recomputes it.
    from jkfp.settlement.selectors import settlement_trace

    row = (
        Settlement.objects.filter(is_current=True).select_related("claim", "claim__person", "policy").first()
    )
    assert row is not None and row.trace == ""
    assert row.claim.claim_id in settlement_trace(settlement=row)

    # The same claims settled one by one through the service, in a shuffled order, by a new run:
    # same amounts, and the same ratio and year-to-date before/after as the batch rows stored.
    def snapshot() -> dict[str, tuple[object, ...]]:
        return {
            s.claim.claim_id: (s.ratio, s.ytd_before, s.ytd_after)
            for s in Settlement.objects.filter(is_current=True).select_related("claim")
        }

    batch_rows = snapshot()
    per_claim = _settle_one_by_one_copy(sw, tmp_path, batch_out)
    assert per_claim == batch_out
    assert snapshot() == batch_rows


def _settle_one_by_one_copy(sw: SettleWorld, tmp_path: Path, batch_out: bytes) -> bytes:
    """Reverse nothing: re-settle by resetting the claims to pending and settling each in random order."""
    Settlement.objects.all().delete()
    YearLedger.objects.all().delete()
    Claim.objects.update(status=ClaimStatus.PENDING)
    claims = list(Claim.objects.all())
    random.Random(3).shuffle(claims)
    for c in claims:
        services.claim_settle(claim=c)
    assert Settlement.objects.filter(reason=SettlementReason.REORDER).exists()
    return exports.settlements_csv(year=2020)


def test_settle_claims_continues_from_settled_claims_and_reorders(sw: SettleWorld, tmp_path: Path) -> None:
    claims = random_claims(sw, claims=80, seed=11)
    # Settle the later half first through the service, then the rest in bulk.
    ordered = sorted(claims, key=lambda c: (c.discharged_on, c.claim_id))
    for c in ordered[len(ordered) // 2 :]:
        services.claim_settle(claim=c)
    result = bulk.claims_settle_year(year=2020)
    assert result.settled == len(ordered) - len(ordered) // 2
    assert result.resettled > 0
    assert settle_cli_output(tmp_path, exports.claims_csv(year=2020)) == exports.settlements_csv(year=2020)
    assert (
        Settlement.objects.filter(reason=SettlementReason.REORDER, is_current=True).count()
        == result.resettled
    )


def test_settle_claims_leaves_claims_without_policy_pending(sw: SettleWorld) -> None:
    person = make_person(sw.county["t1v1"], "甲", 77)
    services.claim_create(
        claim_id="N1",
        person=person,
        institution=sw.institutions["county2"],
        admitted_on=date(2021, 3, 1),
        discharged_on=date(2021, 3, 2),
        total_amount="100.00",
        out_of_scope_amount="0.00",
    )
    result = bulk.claims_settle_year(year=2021)
    assert (result.claims, result.settled, result.invalid) == (1, 0, 1)
    assert result.problems[0].claim_id == "N1"
    assert "2021-03-02" in result.problems[0].reason
    assert Claim.objects.get(claim_id="N1").status == ClaimStatus.PENDING


@pytest.fixture
def settled_world(sw: SettleWorld) -> SettleWorld:
    random_claims(sw, claims=120, seed=5)
    bulk.claims_settle_year(year=2020)
    return sw


def _policy_v2(sw: SettleWorld) -> Any:
    text = sw.policy.source_text.replace(
        'ratio = { "1" = "0.90", "2" = "0.80", "3" = "0.70" }',
        'ratio = { "1" = "0.85", "2" = "0.75", "3" = "0.65" }',
    )
    assert text != sw.policy.source_text
    return services.policy_upload(text=text, fmt="toml")


def test_resettle_report_and_write(settled_world: SettleWorld, tmp_path: Path) -> None:
    sw = settled_world
    before = exports.settlements_csv(year=2020)
    v2 = _policy_v2(sw)
    assert v2.version == 2
    dry = bulk.year_resettle(year=2020, policy_name="suixian-2020", dry_run=True)
    assert exports.settlements_csv(year=2020) == before  # nothing written
    live = Settlement.objects.filter(is_current=True)
    assert dry.totals_before["basic"] == sum((s.basic for s in live), Decimal("0.00"))
    assert dry.totals_after["basic"] < dry.totals_before["basic"]
    # Per township totals add up to the county totals.
    for f in ("basic", "critical", "aid", "supplementary", "personal"):
        assert sum((t.after[f] for t in dry.townships), Decimal("0.00")) == dry.totals_after[f]
    deltas = [p.delta for p in dry.persons_up]
    assert deltas == sorted(deltas, reverse=True) and all(d > 0 for d in deltas)

    report = bulk.year_resettle(year=2020, policy_name="suixian-2020")
    after = exports.settlements_csv(year=2020)
    # The new rows equal jkfp settle under the new policy file.
    policy_file = tmp_path / "v2.toml"
    policy_file.write_text(v2.source_text, encoding="utf-8")
    src, out = tmp_path / "c.csv", tmp_path / "o.csv"
    src.write_bytes(exports.claims_csv(year=2020))
    assert settle_cli.main(["--policy", str(policy_file), "--claims", str(src), "--out", str(out)]) == 0
    assert out.read_bytes() == after
    assert report.totals_after == dry.totals_after
    assert (
        Settlement.objects.filter(is_current=True, reason=SettlementReason.POLICY_RESETTLE).count()
        == report.changed
    )
    assert not Settlement.objects.filter(is_current=True).exclude(policy=v2).exists()
    # Each person's ledger now holds the sum over live rows.
    for lg in YearLedger.objects.filter(year=2020)[:10]:
        live_p = Settlement.objects.filter(is_current=True, claim__person_id=lg.person_id)
        assert lg.personal_ytd == sum((s.personal for s in live_p), Decimal("0.00"))
    xlsx = exports.resettle_report_xlsx(report, tmp_path / "r.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == ["基金合计", "乡镇", "个人负担增加"]
    rows = list(wb["个人负担增加"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(report.persons_up)
    wb.close()


def test_resettle_roles(settled_world: SettleWorld) -> None:
    from django.core.exceptions import PermissionDenied

    u = settled_world.users
    report = bulk.year_resettle(year=2020, policy_name="suixian-2020", dry_run=True, user=u["fund"])
    assert report.claims == Settlement.objects.filter(is_current=True).count()
    with pytest.raises(PermissionDenied):
        bulk.year_resettle(year=2020, policy_name="suixian-2020", user=u["fund"])
    with pytest.raises(PermissionDenied):
        bulk.year_resettle(year=2020, policy_name="suixian-2020", dry_run=True, user=u["hosp"])
    with pytest.raises(PermissionDenied):
        bulk.claims_settle_year(year=2020, user=u["t1"])


def test_resettle_one_region_then_the_other_equals_the_whole(
    settled_world: SettleWorld, tmp_path: Path
) -> None:
    # A county of a province re-settles its own persons' claims only (issue 21): region by region, the
    # result is exactly the whole deployment's re-settlement (jkfp settle under the new policy file).
    sw = settled_world
    v2 = _policy_v2(sw)
    t1, t2 = sw.county["t1"].code, sw.county["t2"].code
    first = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=t1)
    live = Settlement.objects.filter(is_current=True)
    in_t1 = live.filter(claim__person__village__code__startswith=t1[:9])
    assert first.claims == in_t1.count() > 0
    assert not in_t1.exclude(policy=v2).exists()
    assert not live.exclude(claim__person__village__code__startswith=t1[:9]).filter(policy=v2).exists()
    second = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=t2)
    assert first.claims + second.claims == live.count()
    policy_file = tmp_path / "v2.toml"
    policy_file.write_text(v2.source_text, encoding="utf-8")
    src, out = tmp_path / "c.csv", tmp_path / "o.csv"
    src.write_bytes(exports.claims_csv(year=2020))
    assert settle_cli.main(["--policy", str(policy_file), "--claims", str(src), "--out", str(out)]) == 0
    assert out.read_bytes() == exports.settlements_csv(year=2020)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="999999"):
        bulk.year_resettle(year=2020, policy_name="suixian-2020", region="999999")


def test_a_regions_resettle_through_the_keys_equals_the_whole(
    settled_world: SettleWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21 item 7: on PostgreSQL a county's share of a province is read and written through the keys
    # (its persons as one array for the claims, the retired rows and the ledger rows by key), not by a
    # join over the province's tables; the same rows, the same fen as the whole deployment's resettle.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jkfp.core import bulkdb

    sw = settled_world
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:  # the share is of the planner's row estimates
            cursor.execute("ANALYZE settlement_settlement")
            cursor.execute("ANALYZE settlement_yearledger")
    monkeypatch.setattr(bulkdb, "BY_KEY_SHARE", 1e9)  # every write is a "small share"
    v2 = _policy_v2(sw)
    t1, t2 = sw.county["t1"].code, sw.county["t2"].code
    with CaptureQueriesContext(connection) as queries:
        first = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=t1)
    keyed = [
        "c.person_id = ANY(ARRAY(",
        "WHERE t.id = ANY(ARRAY(SELECT id FROM settle_retire_tmp))",
        "l.person_id = ANY(ARRAY(SELECT person FROM settle_ledger_tmp))",
    ]
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert [k in sql for k in keyed] == [postgres] * 3
    second = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=t2)
    live = Settlement.objects.filter(is_current=True)
    assert first.claims + second.claims == live.count() > first.claims > 0
    assert not live.exclude(policy=v2).exists()
    for lg in YearLedger.objects.filter(year=2020):
        assert lg.personal_ytd == sum(
            (s.personal for s in live.filter(claim__person_id=lg.person_id)), Decimal(0)
        )
    policy_file = tmp_path / "v2.toml"
    policy_file.write_text(v2.source_text, encoding="utf-8")
    src, out = tmp_path / "c.csv", tmp_path / "o.csv"
    src.write_bytes(exports.claims_csv(year=2020))
    assert settle_cli.main(["--policy", str(policy_file), "--claims", str(src), "--out", str(out)]) == 0
    assert out.read_bytes() == exports.settlements_csv(year=2020)
