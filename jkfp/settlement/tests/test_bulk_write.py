"""Bulk read and write paths of ``jkfp.settlement.bulk`` on PostgreSQL: the binary ``COPY`` reader
equals the row reader, and the "large" write mode (indexes and foreign keys dropped and rebuilt)
gives the same fen as ``jkfp settle`` and leaves the schema exactly as it found it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from jkfp.settlement import bulk, exports, fetch, store
from jkfp.settlement.models import Claim, ClaimStatus, Settlement, YearLedger
from jkfp.settlement.tests.factories import SettleWorld
from jkfp.settlement.tests.test_bulk import _policy_v2, random_claims, settle_cli_output

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="binary COPY, ACCESS EXCLUSIVE locks and index rebuilds are the PostgreSQL write path; "
    "SQLite uses the row reader and executemany (covered by test_bulk.py)",
)


def _schema() -> tuple[list[tuple[str, str]], list[tuple[str, str, bool]]]:
    """The settlement and claim tables' indexes and constraints as the catalogue defines them."""
    tables = [Settlement._meta.db_table, Claim._meta.db_table, YearLedger._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE i.indrelid = ANY(%s::regclass[]) ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[]) OR confrelid = ANY(%s::regclass[]) ORDER BY 1",
            [tables, tables],
        )
        constraints = cursor.fetchall()
    return indexes, constraints


@pytest.fixture
def large_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bulk write counts as a large share of the settlement table."""
    monkeypatch.setattr(bulk, "LARGE_MIN_ROWS", 1)
    monkeypatch.setattr(bulk, "LARGE_SHARE", 0.0)


def _same(a: fetch.YearClaims, b: fetch.YearClaims) -> None:
    order_a, order_b = np.argsort(a.pk), np.argsort(b.pk)
    for name in fetch.YearClaims.__dataclass_fields__:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, list):
            assert [va[i] for i in order_a.tolist()] == [vb[i] for i in order_b.tolist()], name
        else:
            assert np.array_equal(va[order_a], vb[order_b]), name
            assert va.dtype == vb.dtype, name


def test_copy_reader_equals_row_reader(sw: SettleWorld) -> None:
    claims = random_claims(sw, claims=90, seed=3)
    for c in claims[:40]:
        from jkfp.settlement import services

        services.claim_settle(claim=c)
    # Claim ids that COPY's text escapes would mangle, and a non-ASCII one.
    Claim.objects.filter(pk=claims[0].pk).update(claim_id="A\\B\t1")
    Claim.objects.filter(pk=claims[1].pk).update(claim_id="结算\n号")
    Claim.objects.filter(pk=claims[50].pk).update(claim_id="P\\\\x")
    # A current row whose category no stored policy defines (read by the fallback query).
    odd = Settlement.objects.filter(is_current=True).order_by("id").first()
    assert odd is not None
    Settlement.objects.filter(pk=odd.pk).update(category="legacy")
    statuses = (ClaimStatus.PENDING, ClaimStatus.SETTLED)
    fast = fetch.facts(year=2020, statuses=statuses).claims  # COPY on PostgreSQL
    rows = fetch.facts(year=2020, statuses=statuses, copy=False).claims
    assert len(fast) == len(claims) == len(rows)
    assert int(fast.pending.sum()) == len(claims) - 40
    assert "legacy" in fast.cur_category and "结算\n号" in fast.claim_id and "A\\B\t1" in fast.claim_id
    _same(fast, rows)
    settled = fetch.facts(year=2020, statuses=(ClaimStatus.SETTLED,)).claims
    _same(settled, fetch.facts(year=2020, statuses=(ClaimStatus.SETTLED,), copy=False).claims)
    assert len(settled) == 40
    empty = fetch.facts(year=2019, statuses=statuses).claims
    assert len(empty) == 0 and empty.cur_amounts.shape == (0, 7)


def test_large_settle_claims_and_resettle_equal_jkfp_settle(
    sw: SettleWorld, tmp_path: Path, large_mode: Any
) -> None:
    schema = _schema()
    assert any("WHERE is_current" in d for _, d in schema[0])
    assert any(name == "claim_person_order_idx" for name, _ in schema[0])
    assert any(name == "ledger_year_personal_idx" for name, _ in schema[0])
    random_claims(sw, claims=150, seed=9)
    result = bulk.claims_settle_year(year=2020)
    assert result.settled == 150 and result.invalid == 0
    assert _schema() == schema
    assert settle_cli_output(tmp_path, exports.claims_csv(year=2020)) == exports.settlements_csv(year=2020)

    v2 = _policy_v2(sw)
    report = bulk.year_resettle(year=2020, policy_name="suixian-2020")
    assert report.changed == 150
    assert _schema() == schema  # same indexes, same validated foreign keys
    policy_file = tmp_path / "v2.toml"
    policy_file.write_text(v2.source_text, encoding="utf-8")
    src, out = tmp_path / "c.csv", tmp_path / "o.csv"
    src.write_bytes(exports.claims_csv(year=2020))
    from jkfp import settle_cli

    assert settle_cli.main(["--policy", str(policy_file), "--claims", str(src), "--out", str(out)]) == 0
    assert out.read_bytes() == exports.settlements_csv(year=2020)
    assert Settlement.objects.count() == 300 and Settlement.objects.filter(is_current=True).count() == 150
    for lg in YearLedger.objects.filter(year=2020):
        live = Settlement.objects.filter(is_current=True, claim__person_id=lg.person_id)
        assert lg.personal_ytd == sum(s.personal for s in live)
    # The rebuilt partial unique index still allows one current row per claim only.
    row = Settlement.objects.filter(is_current=True).first()
    assert row is not None
    row.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_large_write_rolls_back_whole(
    sw: SettleWorld, large_mode: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the indexes were dropped leaves the schema and the rows as they were."""
    random_claims(sw, claims=60, seed=4)
    bulk.claims_settle_year(year=2020)
    schema, before = _schema(), exports.settlements_csv(year=2020)
    _policy_v2(sw)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crash before the commit")

    monkeypatch.setattr(store, "_ledgers_many", boom)  # the last write, after the rows went in
    with pytest.raises(RuntimeError):
        bulk.year_resettle(year=2020, policy_name="suixian-2020")
    assert _schema() == schema
    assert exports.settlements_csv(year=2020) == before
    assert Settlement.objects.count() == 60
