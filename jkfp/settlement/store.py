"""入库 Settlement step 3 of 3: the engine's results written to the database.

Fetch → engine → store (ADR 0004): nothing here computes money; the amounts, the year-to-date sums
and the ratio come from ``jkfp.engine``. One discharge: ``settlement_insert`` (one ``INSERT …
RETURNING``, batched with the other writes of the request on PostgreSQL) and ``ledger_store``; a
whole year: ``settlements_insert`` and ``ledgers_store`` (PostgreSQL: binary ``COPY`` into a
temporary table and one set-based statement; SQLite: ``executemany``). The vendor machinery is
``core.bulkdb``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from jkfp import engine
from jkfp.core import bulkdb
from jkfp.settlement.compute import ytd_columns
from jkfp.settlement.fetch import AMOUNT_FIELDS, YearClaims, _q
from jkfp.settlement.models import (
    LEDGER_YTD_COLUMNS,
    YTD_AFTER_COLUMNS,
    YTD_BEFORE_COLUMNS,
    YTD_FIELDS,
    Claim,
    Policy,
    Settlement,
    YearLedger,
)


def actor(user: Any) -> Any:
    """The account to record as the author (None for the command line or an API token)."""
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --------------------------------------------------------------------------- one discharge


def ledger_store(ledger: YearLedger, ytd: engine.YearToDate, count: int) -> None:
    """Write the ledger's sums and claim count (one ``UPDATE`` by id)."""
    for f in YTD_FIELDS:
        setattr(ledger, f"{f}_ytd", getattr(ytd, f))
    ledger.claim_count = count
    ledger.updated_at = timezone.now()
    sets = ", ".join(f"{c} = %s" for c in LEDGER_YTD_COLUMNS)
    params = [getattr(ledger, c) for c in LEDGER_YTD_COLUMNS]
    params += [count, connection.ops.adapt_datetimefield_value(ledger.updated_at), ledger.pk]
    statement = (
        f"UPDATE {YearLedger._meta.db_table} SET {sets}, claim_count = %s, updated_at = %s WHERE id = %s"  # noqa: S608 (names from the models)
    )
    if bulkdb.write_later(statement, params):  # inside claim_submit's batched_writes
        return
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def settlement_insert(
    claim: Claim,
    policy: Policy,
    category: str,
    result: engine.ClaimSettlement,
    *,
    reason: str,
    user: Any,
    now: Any,
) -> Settlement:
    row = Settlement(
        claim=claim,
        policy=policy,
        category=category,
        counted_total=result.counted_total,
        hospital_absorbed=result.hospital_absorbed,
        basic=result.basic,
        critical=result.critical,
        aid=result.aid,
        supplementary=result.supplementary,
        personal=result.personal,
        ratio=engine.settlement_ratio(result),
        trace="\n".join(result.trace),
        **ytd_columns(result.ytd_before, "before"),
        **ytd_columns(result.ytd_after, "after"),
        is_current=True,
        reason=reason,
        settled_at=now,
        settled_by=actor(user),
    )
    bulkdb.insert_returning(row)
    return row


def settlement_retire(row: Settlement) -> None:
    """The row is no longer current (history keeps it)."""
    Settlement.objects.filter(pk=row.pk).update(is_current=False)


def settlement_unchanged(row: Settlement, result: engine.ClaimSettlement) -> bool:
    """The stored row already says what ``result`` says (amounts and year-to-date before)."""
    amounts = tuple(getattr(row, f) for f in AMOUNT_FIELDS)
    return amounts == result.amounts and row.ytd_before_fen == result.ytd_before.as_fen()


# --------------------------------------------------------------------------- a whole year


_CHUNK = 2000


_CENTS = tuple(f".{i:02d}" for i in range(100))


def _fen_texts(values: np.ndarray) -> list[str]:
    """Fen as yuan texts with two decimals (``12345`` → ``"123.45"``)."""
    v = values.astype(np.int64)
    mag = np.abs(v)
    texts = [
        y + c
        for y, c in zip(
            map(str, (mag // 100).tolist()), map(_CENTS.__getitem__, (mag % 100).tolist()), strict=True
        )
    ]
    if len(v) and int(v.min()) < 0:
        texts = [("-" + t) if neg else t for t, neg in zip(texts, (v < 0).tolist(), strict=True)]
    return texts


SETTLEMENT_COLUMNS = (
    "claim_id",
    "policy_id",
    "category",
    *AMOUNT_FIELDS,
    "ratio",
    "trace",
    *YTD_BEFORE_COLUMNS,
    *YTD_AFTER_COLUMNS,
    "is_current",
    "reason",
    "settled_at",
    "settled_by_id",
)


def _fen_sql(column: str) -> str:
    """SQL: an integer fen column as numeric yuan with two decimals."""
    return f"({column} * 0.01)"


def settlements_insert(
    yc: YearClaims,
    rows: np.ndarray,
    comp: engine.YearSettlement,
    policy_pk: np.ndarray,
    category: Sequence[str],
    reasons: Sequence[str],
    user_id: int | None,
) -> None:
    """Insert new current settlement rows for ``rows`` (row indices of ``yc``).

    PostgreSQL: the integers (claim, policy, codes, amounts, the ratio in millionths and the
    year-to-date in fen) go by binary COPY into a temporary table, and one INSERT … SELECT turns them
    into the row (fen and millionths as decimals); SQLite: ``executemany``.
    """
    if not len(rows):
        return
    now = timezone.now()
    table = Settlement._meta.db_table
    names = ", ".join(_q(c) for c in SETTLEMENT_COLUMNS)
    amounts = comp.amounts[rows]
    ratio = engine.ratio_micro(amounts[:, 0], engine.paid_fen(amounts))
    if connection.vendor == "postgresql":
        cat_names = sorted({category[i] for i in rows.tolist()})
        cat_code = {c: k for k, c in enumerate(cat_names)}
        reason_names = sorted(set(reasons))
        reason_code = {c: k for k, c in enumerate(reason_names)}
        cols = ["claim", "policy", "cat", "reason", *(f"a{k}" for k in range(7)), "r",
                *(f"b{k}" for k in range(7)), *(f"f{k}" for k in range(7))]  # fmt: skip
        values = [
            yc.pk[rows],
            policy_pk[rows],
            np.fromiter((cat_code[category[i]] for i in rows.tolist()), dtype=np.int64, count=len(rows)),
            np.fromiter((reason_code[r] for r in reasons), dtype=np.int64, count=len(rows)),
            *(amounts[:, k] for k in range(7)),
            ratio,
            *(comp.before[rows][:, k] for k in range(7)),
            *(comp.after[rows][:, k] for k in range(7)),
        ]
        select = ", ".join(
            (
                "s.claim",
                "s.policy",
                "(%s::text[])[s.cat + 1]",
                *(_fen_sql(f"s.a{k}") for k in range(7)),
                f"NULLIF(s.r, {engine.RATIO_UNDEFINED}) / 1000000.0",
                "''",
                *(f"s.b{k}" for k in range(7)),
                *(f"s.f{k}" for k in range(7)),
                "true",
                "(%s::text[])[s.reason + 1]",
                "%s",
                "%s",
            )
        )
        with connection.cursor() as cursor:
            bulkdb.temp_int64_table(cursor, "settle_stage_tmp", cols)
            bulkdb.copy_int64_in(cursor, "settle_stage_tmp", cols, values)
            cursor.execute(
                f"INSERT INTO {_q(table)} ({names}) SELECT {select} FROM settle_stage_tmp s",  # noqa: S608
                [cat_names, reason_names, now, user_id],
            )
        return
    r = rows.tolist()
    texts = [_fen_texts(amounts[:, k]) for k in range(7)]
    ratios = [None if m < 0 else f"{m // 1_000_000}.{m % 1_000_000:06d}" for m in ratio.tolist()]
    before = comp.before[rows].tolist()
    after = comp.after[rows].tolist()
    marks = ", ".join(["%s"] * len(SETTLEMENT_COLUMNS))
    sql = f"INSERT INTO {_q(table)} ({names}) VALUES ({marks})"  # noqa: S608
    stamp = connection.ops.adapt_datetimefield_value(now)
    data = [
        (int(yc.pk[i]), int(policy_pk[i]), category[i], *(texts[f][k] for f in range(7)), ratios[k], "",
         *before[k], *after[k], True, reasons[k], stamp, user_id)
        for k, i in enumerate(r)
    ]  # fmt: skip
    with connection.cursor() as cursor:
        for start in range(0, len(data), _CHUNK):
            cursor.executemany(sql, data[start : start + _CHUNK])


def ledgers_store(year: int, persons: np.ndarray, after: np.ndarray, counts: np.ndarray) -> None:
    """Set the ledger rows (person, year) to ``after`` (fen), creating missing ones."""
    if not len(persons):
        return
    table = YearLedger._meta.db_table
    cols = [f"{f}_ytd" for f in YTD_FIELDS]
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stage = ["person", *(f"y{k}" for k in range(7)), "n"]
            bulkdb.temp_int64_table(cursor, "settle_ledger_tmp", stage)
            bulkdb.copy_int64_in(
                cursor, "settle_ledger_tmp", stage, [persons, *(after[:, k] for k in range(7)), counts]
            )
            # The ledger table is locked (EXCLUSIVE): an UPDATE … FROM of the existing rows and an
            # INSERT of the missing ones (cheaper than a speculative INSERT … ON CONFLICT per row).
            sets = ", ".join(f"{c} = {_fen_sql(f't.y{k}')}" for k, c in enumerate(cols))
            cursor.execute(
                f"UPDATE {_q(table)} l SET {sets}, claim_count = t.n, updated_at = %s "  # noqa: S608
                "FROM settle_ledger_tmp t WHERE l.person_id = t.person AND l.year = %s",
                [now, year],
            )
            if cursor.rowcount < len(persons):
                sums = ", ".join(_fen_sql(f"t.y{k}") for k in range(7))
                cursor.execute(
                    f"INSERT INTO {_q(table)} (person_id, year, {', '.join(cols)}, claim_count, updated_at) "  # noqa: S608
                    f"SELECT t.person, %s, {sums}, t.n, %s FROM settle_ledger_tmp t "
                    # the rows just updated conflict; not an anti-join: a join against the table
                    # being filled can be planned as a scan per row (quadratic)
                    "ON CONFLICT (person_id, year) DO NOTHING",
                    [year, now],
                )
            return
        sums_text = [_fen_texts(after[:, k]) for k in range(7)]
        stamp = connection.ops.adapt_datetimefield_value(now)
        sets = ", ".join(f"{c} = excluded.{c}" for c in (*cols, "claim_count", "updated_at"))
        sql = (
            f"INSERT INTO {_q(table)} (person_id, year, {', '.join(cols)}, claim_count, updated_at) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * (len(cols) + 4))}) "
            f"ON CONFLICT (person_id, year) DO UPDATE SET {sets}"
        )
        values = [
            (p, year, *(s[k] for s in sums_text), int(counts[k]), stamp)
            for k, p in enumerate(persons.tolist())
        ]
        for start in range(0, len(values), _CHUNK):
            cursor.executemany(sql, values[start : start + _CHUNK])
