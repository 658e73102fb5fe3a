"""入库 Settlement step 3 of 3: the engine's results written to the database.

Fetch → engine → store (ADR 0004): nothing here computes money; the amounts, the year-to-date sums
and the ratio come from ``jkfp.engine``. One entry, ``save(Writes)``: new current settlement rows,
the rows they replace, the claims now settled and the ledger rows of the persons' year, in that
order. A few rows (one discharge: the window, the API) go as plain statements — ``INSERT …
RETURNING`` per row and one ``UPDATE`` or upsert each, queued in ``claim_submit``'s batched writes
(one round trip on PostgreSQL) — and come back as ``Settlement`` objects; many rows (a year:
``settle-claims``, ``resettle``) go by binary ``COPY`` into temporary tables and set-based
statements on PostgreSQL, ``executemany`` on SQLite. The vendor machinery is ``core.bulkdb``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from jkfp import engine
from jkfp.core import bulkdb
from jkfp.settlement.compute import outpatient_ytd_text
from jkfp.settlement.fetch import AMOUNT_FIELDS, ClaimFacts, Item, YearFacts, _q
from jkfp.settlement.models import (
    LEDGER_YTD_COLUMNS,
    YTD_AFTER_COLUMNS,
    YTD_BEFORE_COLUMNS,
    Claim,
    ClaimStatus,
    Settlement,
    SettlementReason,
    YearLedger,
)


def actor(user: Any) -> Any:
    """The account to record as the author (None for the command line or an API token)."""
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def actor_id(user: Any) -> int | None:
    """The pk of ``actor(user)``."""
    author = actor(user)
    return None if author is None else int(author.pk)


@dataclass(frozen=True, eq=False)
class Writes:
    """What a settlement writes, by row (amounts and year-to-date sums in fen, as the engine gives them).

    New current settlement rows: ``claim`` and ``policy`` (pks), ``category``, ``amounts`` (n × 7,
    ``OUTPUT_FIELDS``), ``before``/``after`` (n × 7, the year-to-date before and after),
    ``reason``, ``trace`` (None: none stored, ``selectors.settlement_trace`` recomputes it). Then
    ``retire`` (settlement pks no longer current), ``settled`` (claim pks now settled) and the
    ledger rows of ``year``: ``persons`` with their sums after their last claim (``ledgers``, m × 7;
    ``outpatient``: §6's as the ledger's text, ``compute.outpatient_ytd_text``) and claim counts."""

    claim: np.ndarray
    policy: np.ndarray
    category: Sequence[str]
    amounts: np.ndarray
    before: np.ndarray
    after: np.ndarray
    reason: Sequence[str]
    trace: Sequence[str] | None
    retire: Sequence[int]
    settled: Sequence[int]
    year: int
    persons: np.ndarray
    ledgers: np.ndarray
    counts: np.ndarray
    outpatient: Sequence[str]
    user_id: int | None
    ledger_ids: Sequence[int] | None = None  # the ledger rows' pks, when read (one discharge)

    def __len__(self) -> int:
        return len(self.claim)

    @staticmethod
    def of_claims(
        facts: ClaimFacts,
        results: Sequence[engine.ClaimSettlement],
        *,
        reason: str,
        user: Any,
        settled: Sequence[int],
    ) -> Writes:
        """What settling ``facts.items`` gave (``engine.settle_in_order``, in the same order): a new
        row for the claim without one (reason ``settle``), and for each settled claim whose amounts
        or year-to-date before changed a new row (``reason``) replacing its current one; the
        person's ledger row set to the year-to-date after the last claim."""
        new: list[tuple[Item, engine.ClaimSettlement, str]] = []
        retire: list[int] = []
        for item, result in zip(facts.items, results, strict=True):
            if item.current is None:
                new.append((item, result, SettlementReason.SETTLE))
            elif not _unchanged(item.current, result):
                retire.append(item.current.pk)
                new.append((item, result, reason))
        ledger = facts.ledger
        ytd = results[-1].ytd_after if results else facts.start
        count = len(facts.items) if facts.in_order else ledger.claim_count + len(facts.items)

        def fen(rows: list[tuple[int, ...]]) -> np.ndarray:
            return np.array(rows, dtype=np.int64).reshape(len(rows), 7)

        return Writes(
            claim=np.array([i.claim.pk for i, _, _ in new], dtype=np.int64),
            policy=np.array([i.policy.pk for i, _, _ in new], dtype=np.int64),
            category=[i.category for i, _, _ in new],
            amounts=fen([r.amounts_fen for _, r, _ in new]),
            before=fen([r.ytd_before.as_fen() for _, r, _ in new]),
            after=fen([r.ytd_after.as_fen() for _, r, _ in new]),
            reason=[why for _, _, why in new],
            trace=["\n".join(r.trace) for _, r, _ in new],
            retire=retire,
            settled=settled,
            year=ledger.year,
            persons=np.array([ledger.person_id], dtype=np.int64),
            ledgers=fen([ytd.as_fen()]),
            counts=np.array([count], dtype=np.int64),
            outpatient=[outpatient_ytd_text(ytd.outpatient_fen())],
            user_id=actor_id(user),
            ledger_ids=[ledger.pk],
        )

    @staticmethod
    def of_year(
        facts: YearFacts,
        result: engine.YearSettlement,
        rows: np.ndarray,
        *,
        reasons: Sequence[str],
        retire: Sequence[int],
        settled: Sequence[int],
        user: Any,
    ) -> Writes:
        """What settling a year gave (``engine.settle_year`` of ``facts``): new rows for ``rows`` (row
        indices of ``facts``, with ``reasons``), the settlements ``retire`` replaced, the claims
        ``settled``, and every person's ledger row set to the year-to-date after their last claim."""
        persons, after, counts = result.year_ends(facts.claims.person)
        ends = result.outpatient_after
        no_sums = engine.NO_OUTPATIENT_SUMS
        outpatient = (
            [outpatient_ytd_text(ends.get(p, no_sums)) for p in persons.tolist()]
            if ends
            else [""] * len(persons)
        )
        index = rows.tolist()
        return Writes(
            claim=facts.claims.pk[rows],
            policy=facts.policy[rows],
            category=[facts.category[i] for i in index],
            amounts=result.amounts[rows],
            before=result.before[rows],
            after=result.after[rows],
            reason=reasons,
            trace=None,
            retire=retire,
            settled=settled,
            year=facts.year,
            persons=persons,
            ledgers=after,
            counts=counts,
            outpatient=outpatient,
            user_id=actor_id(user),
        )


def _unchanged(row: Settlement, result: engine.ClaimSettlement) -> bool:
    """The stored row already says what ``result`` says (amounts and year-to-date before)."""
    amounts = tuple(getattr(row, f) for f in AMOUNT_FIELDS)
    return amounts == result.amounts and row.ytd_before_fen == result.ytd_before.as_fen()


def save(
    writes: Writes, *, one_by_one: bool = False, step: Callable[[str], None] | None = None
) -> list[Settlement]:
    """入库 Write ``writes``: retire, insert, mark settled, ledgers, in that order.

    ``one_by_one`` (one discharge): an ``INSERT … RETURNING`` per new row and one ``UPDATE`` or
    upsert per step, queued in an open ``bulkdb.batched_writes`` (sent in one round trip on
    PostgreSQL); the new rows are returned as objects (their pks set once the batch is sent).
    Otherwise in bulk (a year): binary ``COPY`` and set-based statements on PostgreSQL,
    ``executemany`` on SQLite; nothing returned. ``step(name)`` is called after each step
    ("retired", "inserted", "settled", "ledgers")."""
    done = step or (lambda name: None)
    now = timezone.now()
    if one_by_one:
        _update_few(Settlement._meta.db_table, "is_current = %s", [False], writes.retire)
        done("retired")
        rows = _insert_few(writes, now)
        done("inserted")
        _update_few(Claim._meta.db_table, "status = %s", [ClaimStatus.SETTLED], writes.settled)
        done("settled")
        _ledgers_few(writes, now)
        done("ledgers")
        return rows
    bulkdb.update_by_ids(
        Settlement._meta.db_table, "is_current = %s", [False], writes.retire, "settle_retire_tmp"
    )
    done("retired")
    _insert_many(writes, now)
    done("inserted")
    bulkdb.update_by_ids(
        Claim._meta.db_table, "status = %s", [ClaimStatus.SETTLED], writes.settled, "settle_claims_tmp"
    )
    done("settled")
    _ledgers_many(writes, now)
    done("ledgers")
    return []


def _execute(statement: str, params: list[Any]) -> None:
    """Run a write now, or queue it in the open ``batched_writes``."""
    if bulkdb.write_later(statement, params):
        return
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _update_few(table: str, assignments: str, params: list[Any], ids: Sequence[int]) -> None:
    if not len(ids):
        return
    marks = ", ".join(["%s"] * len(ids))
    _execute(
        f"UPDATE {_q(table)} SET {assignments} WHERE id IN ({marks})",  # noqa: S608 (names from the models)
        [*params, *(int(i) for i in ids)],
    )


def _insert_few(w: Writes, now: Any) -> list[Settlement]:
    """The new rows one ``INSERT … RETURNING`` each, as objects (the values prepared by the fields)."""
    paid = engine.paid_fen(w.amounts)
    out = []
    for k in range(len(w)):
        amounts = [int(v) for v in w.amounts[k].tolist()]
        row = Settlement(
            claim_id=int(w.claim[k]),
            policy_id=int(w.policy[k]),
            category=w.category[k],
            **{f: engine.fen_to_decimal(v) for f, v in zip(AMOUNT_FIELDS, amounts, strict=True)},
            ratio=engine.ratio_decimal(amounts[0], int(paid[k])),
            trace="" if w.trace is None else w.trace[k],
            **dict(zip(YTD_BEFORE_COLUMNS, (int(v) for v in w.before[k].tolist()), strict=True)),
            **dict(zip(YTD_AFTER_COLUMNS, (int(v) for v in w.after[k].tolist()), strict=True)),
            is_current=True,
            reason=w.reason[k],
            settled_at=now,
            settled_by_id=w.user_id,
        )
        bulkdb.insert_returning(row)
        out.append(row)
    return out


def _ledgers_few(w: Writes, now: Any) -> None:
    """Each ledger row set to its sums and count: one ``UPDATE`` by id when the ids are known (the
    row was created and locked by ``fetch``), else one upsert by (person, year)."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    sets = ", ".join(f"{c} = %s" for c in LEDGER_YTD_COLUMNS)
    by_id = (
        f"UPDATE {_q(YearLedger._meta.db_table)} SET {sets}, claim_count = %s, outpatient_ytd = %s, "  # noqa: S608 (names from the models)
        "updated_at = %s WHERE id = %s"
    )
    for k, person in enumerate(w.persons.tolist()):
        sums = [engine.fen_to_decimal(int(v)) for v in w.ledgers[k].tolist()]
        outpatient = w.outpatient[k]
        if w.ledger_ids is not None:
            _execute(by_id, [*sums, int(w.counts[k]), outpatient, stamp, int(w.ledger_ids[k])])
        else:
            _execute(_ledger_upsert_sql(), [int(person), w.year, *sums, int(w.counts[k]), outpatient, stamp])


def _ledger_upsert_sql() -> str:
    """Set a ledger row (person, year) to its sums, claim count and outpatient sums, creating it when
    missing."""
    cols = LEDGER_YTD_COLUMNS
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*cols, "claim_count", "outpatient_ytd", "updated_at"))
    return (
        f"INSERT INTO {_q(YearLedger._meta.db_table)} (person_id, year, {', '.join(cols)}, claim_count, outpatient_ytd, updated_at) "  # noqa: S608 (names from the models)
        f"VALUES ({', '.join(['%s'] * (len(cols) + 5))}) "
        f"ON CONFLICT (person_id, year) DO UPDATE SET {sets}"
    )


# --------------------------------------------------------------------------- many rows


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


def _insert_many(w: Writes, now: Any) -> None:
    """The new rows in bulk. PostgreSQL: the integers (claim, policy, codes, amounts, the ratio in
    millionths and the year-to-date in fen) go by binary COPY into a temporary table, and one
    INSERT … SELECT turns them into the rows (fen and millionths as decimals); SQLite: ``executemany``.
    """
    n = len(w)
    if not n:
        return
    table = Settlement._meta.db_table
    names = ", ".join(_q(c) for c in SETTLEMENT_COLUMNS)
    amounts = w.amounts
    ratio = engine.ratio_micro(amounts[:, 0], engine.paid_fen(amounts))
    if connection.vendor == "postgresql":
        cat_names = sorted(set(w.category))
        cat_code = {c: k for k, c in enumerate(cat_names)}
        reason_names = sorted(set(w.reason))
        reason_code = {c: k for k, c in enumerate(reason_names)}
        cols = ["claim", "policy", "cat", "reason", *(f"a{k}" for k in range(7)), "r",
                *(f"b{k}" for k in range(7)), *(f"f{k}" for k in range(7))]  # fmt: skip
        values = [
            w.claim,
            w.policy,
            np.fromiter((cat_code[c] for c in w.category), dtype=np.int64, count=n),
            np.fromiter((reason_code[r] for r in w.reason), dtype=np.int64, count=n),
            *(amounts[:, k] for k in range(7)),
            ratio,
            *(w.before[:, k] for k in range(7)),
            *(w.after[:, k] for k in range(7)),
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
                [cat_names, reason_names, now, w.user_id],
            )
        return
    texts = [_fen_texts(amounts[:, k]) for k in range(7)]
    ratios = [None if m < 0 else f"{m // 1_000_000}.{m % 1_000_000:06d}" for m in ratio.tolist()]
    before = w.before.tolist()
    after = w.after.tolist()
    claims, policies = w.claim.tolist(), w.policy.tolist()
    marks = ", ".join(["%s"] * len(SETTLEMENT_COLUMNS))
    sql = f"INSERT INTO {_q(table)} ({names}) VALUES ({marks})"  # noqa: S608
    stamp = connection.ops.adapt_datetimefield_value(now)
    data = [
        (claims[k], policies[k], w.category[k], *(texts[f][k] for f in range(7)), ratios[k], "",
         *before[k], *after[k], True, w.reason[k], stamp, w.user_id)
        for k in range(n)
    ]  # fmt: skip
    with connection.cursor() as cursor:
        for start in range(0, len(data), _CHUNK):
            cursor.executemany(sql, data[start : start + _CHUNK])


def _ledgers_many(w: Writes, now: Any) -> None:
    """Set the ledger rows (person, year) to their sums (fen), creating missing ones."""
    year, persons, after, counts = w.year, w.persons, w.ledgers, w.counts
    if not len(persons):
        return
    table = YearLedger._meta.db_table
    cols = LEDGER_YTD_COLUMNS
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
            # A county's persons in a province's ledger: through the person index (``bulkdb.by_key``).
            keyed = (
                " AND l.person_id = ANY(ARRAY(SELECT person FROM settle_ledger_tmp))"
                if bulkdb.by_key(cursor, table, len(persons))
                else ""
            )
            cursor.execute(
                f"UPDATE {_q(table)} l SET {sets}, claim_count = t.n, outpatient_ytd = '', updated_at = %s "  # noqa: S608
                f"FROM settle_ledger_tmp t WHERE l.person_id = t.person AND l.year = %s{keyed}",
                [now, year],
            )
            if cursor.rowcount < len(persons):
                sums = ", ".join(_fen_sql(f"t.y{k}") for k in range(7))
                cursor.execute(
                    f"INSERT INTO {_q(table)} (person_id, year, {', '.join(cols)}, claim_count, outpatient_ytd, updated_at) "  # noqa: S608
                    f"SELECT t.person, %s, {sums}, t.n, '', %s FROM settle_ledger_tmp t "
                    # the rows just updated conflict; not an anti-join: a join against the table
                    # being filled can be planned as a scan per row (quadratic)
                    "ON CONFLICT (person_id, year) DO NOTHING",
                    [year, now],
                )
            # §6's sums of the persons with outpatient claims (the others' are "" above)
            kept = [(p, text) for p, text in zip(persons.tolist(), w.outpatient, strict=True) if text]
            if kept:
                cursor.execute(
                    f"UPDATE {_q(table)} l SET outpatient_ytd = t.txt "  # noqa: S608
                    "FROM unnest(%s::bigint[], %s::text[]) AS t(person, txt) "
                    "WHERE l.person_id = t.person AND l.year = %s",
                    [[p for p, _ in kept], [text for _, text in kept], year],
                )
            return
        sums_text = [_fen_texts(after[:, k]) for k in range(7)]
        stamp = connection.ops.adapt_datetimefield_value(now)
        sql = _ledger_upsert_sql()
        values = [
            (p, year, *(s[k] for s in sums_text), int(counts[k]), w.outpatient[k], stamp)
            for k, p in enumerate(persons.tolist())
        ]
        for start in range(0, len(values), _CHUNK):
            cursor.executemany(sql, values[start : start + _CHUNK])
