"""批量结算与重算 Whole-year settlement in bulk: ``jkfp settle-claims`` and ``jkfp resettle``.

Bulk read (one query for the year's claims with their current settlement, amounts as integer
fen), the batch engine (``jkfp.engine.settle_batch``, int64 fen, equal to the reference engine to
the fen) and bulk write (PostgreSQL ``COPY`` into the settlement table and temporary tables for the
updates; plain ``executemany`` on SQLite), all in one transaction. Rows written here store no trace
(``selectors.settlement_trace`` recomputes it from the stored inputs and ``ytd_before_fen``).

Locking: on PostgreSQL the ledger table is locked ``IN EXCLUSIVE MODE`` for the transaction, so
window settlements wait (they lock a ledger row ``FOR UPDATE``) and never interleave with a bulk
run; plain reads continue. SQLite serialises writers anyway. A run whose year is a large share of
the settlement table ("large" mode, ADR 0004) locks claims, settlements, policies and ledgers
``ACCESS EXCLUSIVE`` instead (reads wait too) and drops and rebuilds their secondary indexes and
the settlement foreign keys around the write.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from jkfp import engine
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.scoping import role_require
from jkfp.accounts.services import audit_record
from jkfp.core import bulkdb
from jkfp.core.signals import send_data_changed
from jkfp.engine.claims import EPOCH_ORDINAL, fen_to_decimal
from jkfp.regions.models import Region
from jkfp.registry.models import Person, Tag
from jkfp.settlement.compute import (
    DEFAULT_CATEGORY,
    TAG_CATEGORIES,
    category_for,
    engine_policy,
    policy_in_force_of,
    tags_on,
)
from jkfp.settlement.models import (
    YTD_AFTER_COLUMNS,
    YTD_BEFORE_COLUMNS,
    YTD_FIELDS,
    Claim,
    ClaimStatus,
    Policy,
    Settlement,
    SettlementReason,
    YearLedger,
)
from jkfp.settlement.selectors import ERR_NO_POLICY, policy_latest

AMOUNT_FIELDS = (
    engine.OUTPUT_FIELDS
)  # counted_total, hospital_absorbed, basic, critical, aid, supplementary, personal
FUNDS = ("basic", "critical", "aid", "supplementary")
RESETTLE_ROLES = frozenset({Role.COUNTY_ADMIN})
PREVIEW_ROLES = frozenset({Role.COUNTY_ADMIN, Role.FUND})  # a dry run writes nothing
ERR_ROLE_RESETTLE = "只有县卫健局管理员可以重新结算全年（医保局·民政可以试算）"
ERR_CATEGORY_UNDEFINED = "政策“{policy}”没有定义结算类别“{category}”（{count}笔结算使用该类别）"
ERR_NO_CATEGORY = "{day} 该人员没有政策“{policy}”定义的结算类别"
_CHUNK = 2000


# --------------------------------------------------------------------------- reading


@dataclass
class YearClaims:
    """One year's claims (pending and/or settled) by column, in database order."""

    pk: np.ndarray
    claim_id: list[str]
    person: np.ndarray
    day: np.ndarray  # days since 1970-01-01
    level: np.ndarray
    in_county: np.ndarray
    referred: np.ndarray
    total: np.ndarray  # fen
    oos: np.ndarray  # fen
    pending: np.ndarray
    cur_pk: np.ndarray  # 0: none
    cur_policy: np.ndarray  # 0: none
    cur_category: list[str]
    cur_amounts: np.ndarray  # (n, 7) fen; zeros when none

    def __len__(self) -> int:
        return len(self.claim_id)

    def take(self, rows: np.ndarray) -> YearClaims:
        ids = rows.tolist()
        return YearClaims(
            pk=self.pk[rows],
            claim_id=[self.claim_id[i] for i in ids],
            person=self.person[rows],
            day=self.day[rows],
            level=self.level[rows],
            in_county=self.in_county[rows],
            referred=self.referred[rows],
            total=self.total[rows],
            oos=self.oos[rows],
            pending=self.pending[rows],
            cur_pk=self.cur_pk[rows],
            cur_policy=self.cur_policy[rows],
            cur_category=[self.cur_category[i] for i in ids],
            cur_amounts=self.cur_amounts[rows],
        )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _day_number(value: Any, cache: dict[Any, int]) -> int:
    day = cache.get(value)
    if day is None:
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        day = cache[value] = parsed.toordinal() - EPOCH_ORDINAL
    return day


def load_year(*, year: int, statuses: Sequence[str]) -> YearClaims:
    """Every claim discharged in ``year`` with one of ``statuses``, with its current settlement
    (PostgreSQL: binary ``COPY`` read by numpy; elsewhere a cursor, row by row)."""
    if connection.vendor == "postgresql":
        return _load_year_pg(year=year, statuses=statuses)
    return _load_year_rows(year=year, statuses=statuses)


def _load_year_rows(*, year: int, statuses: Sequence[str]) -> YearClaims:
    """``load_year`` through a cursor (any database), in database order."""
    c, s = Claim._meta.db_table, Settlement._meta.db_table
    fen = [f"CAST(ROUND(s.{_q(f)} * 100) AS BIGINT)" for f in AMOUNT_FIELDS]
    marks = ", ".join(["%s"] * len(statuses))
    sql = (
        "SELECT c.id, c.claim_id, c.person_id, c.discharged_on, c.level, c.in_county, c.referred, "  # noqa: S608
        "CAST(ROUND(c.total_amount * 100) AS BIGINT), CAST(ROUND(c.out_of_scope_amount * 100) AS BIGINT), "
        f"c.status, s.id, s.policy_id, s.category, {', '.join(fen)} "
        f"FROM {_q(c)} c LEFT JOIN {_q(s)} s ON s.claim_id = c.id AND s.is_current "
        f"WHERE c.discharged_on >= %s AND c.discharged_on <= %s AND c.status IN ({marks})"
    )
    params = [date(year, 1, 1), date(year, 12, 31), *statuses]
    parts: list[YearClaims] = []
    cache: dict[Any, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(100_000)
            if not rows:
                break
            parts.append(_columns(rows, cache))
            del rows
    if not parts:
        return _columns([], cache)
    if len(parts) == 1:
        return parts[0]
    return YearClaims(
        **{
            name: (
                [x for p in parts for x in getattr(p, name)]
                if isinstance(getattr(parts[0], name), list)
                else np.concatenate([getattr(p, name) for p in parts])
            )
            for name in YearClaims.__dataclass_fields__
        }
    )


def _category_names() -> list[str]:
    """Every category name a stored policy defines (the codes of the bulk read)."""
    names = {DEFAULT_CATEGORY, *TAG_CATEGORIES.values()}
    for policy in Policy.objects.all():
        names.update(engine_policy(policy).category_names)
    return sorted(names)


def _load_year_pg(*, year: int, statuses: Sequence[str]) -> YearClaims:
    """PostgreSQL ``load_year``: one binary ``COPY`` whose rows are chunks of the year as integer
    arrays (day numbers, flags, fen; about 16 rows for 1M claims, so no per-claim message or Python
    object) plus the chunk's claim ids as one text with their byte lengths; rows in claim pk order."""
    c, s = _q(Claim._meta.db_table), _q(Settlement._meta.db_table)
    cats = _category_names()
    # numeric(14, 2) × 100 is a whole number: the cast is exact
    fen = [f"COALESCE(CAST(s.{_q(f)} * 100 AS BIGINT), 0)" for f in AMOUNT_FIELDS]
    values = [
        "c.id",
        "c.person_id",
        "c.discharged_on - DATE '1970-01-01'",
        "c.level",
        "CAST(c.in_county AS INT)",
        "CAST(c.referred AS INT)",
        "CAST(c.total_amount * 100 AS BIGINT)",
        "CAST(c.out_of_scope_amount * 100 AS BIGINT)",
        "CAST(c.status = %s AS INT)",
        "COALESCE(s.id, 0)",
        "COALESCE(s.policy_id, 0)",
        # category as 1 + its index in ``cats``; 0 without a current row; -1: a name not in ``cats``
        "COALESCE(array_position(%s::text[], s.category::text), CASE WHEN s.id IS NULL THEN 0 ELSE -1 END)",
        *fen,
        "octet_length(c.claim_id)",
    ]
    arrays = ", ".join(f"array_agg(CAST({v} AS BIGINT))" for v in values)
    sql = (
        f"COPY (SELECT {arrays}, string_agg(c.claim_id, '') FROM {c} c "  # noqa: S608
        f"LEFT JOIN {s} s ON s.claim_id = c.id AND s.is_current "
        "WHERE c.discharged_on >= %s AND c.discharged_on <= %s AND c.status = ANY(%s) "
        "GROUP BY c.id / 65536) TO STDOUT (FORMAT BINARY)"
    )
    params = [ClaimStatus.PENDING, cats, date(year, 1, 1), date(year, 12, 31), list(statuses)]
    with connection.cursor() as cursor:
        # The planner cannot estimate the chunk count and would sort the whole join for a group
        # aggregate (on disk beyond work_mem); a hash aggregate of ~16 chunks needs no sort. The
        # join's hash table and the chunks' arrays fit in memory with a larger work_mem.
        cursor.execute(
            "SELECT current_setting('enable_sort'), current_setting('work_mem'), "
            "set_config('enable_sort', 'off', true), set_config('work_mem', '256MB', true)"
        )
        (sort_setting, work_mem, _, _) = cursor.fetchone()
        try:
            data = bulkdb.copy_out(cursor, sql, params)
        finally:
            cursor.execute(
                "SELECT set_config('enable_sort', %s, true), set_config('work_mem', %s, true)",
                [sort_setting, work_mem],
            )
        m, blob = bulkdb.int64_arrays_from_copy(data, len(values))
        del data
        ends = np.cumsum(m[:, 19]).tolist()
        starts = [0, *ends[:-1]] if ends else []
        raw = [blob[a:b] for a, b in zip(starts, ends, strict=True)]
        by_pk = np.argsort(m[:, 0], kind="stable")
        m = m[by_pk]
        claim_ids = [raw[k].decode("utf-8") for k in by_pk.tolist()]
        code = m[:, 11]
        category = ["", *cats]
        cur_category = [category[k] for k in code.clip(0).tolist()]
        unknown = np.flatnonzero(code < 0)
        if len(unknown):
            pks = m[unknown, 9].tolist()
            cursor.execute(f"SELECT id, category FROM {s} WHERE id = ANY(%s)", [pks])  # noqa: S608
            names = dict(cursor.fetchall())
            for i, pk in zip(unknown.tolist(), pks, strict=True):
                cur_category[i] = names[pk]
    return YearClaims(
        pk=m[:, 0].copy(),
        claim_id=claim_ids,
        person=m[:, 1].copy(),
        day=m[:, 2].copy(),
        level=m[:, 3].copy(),
        in_county=m[:, 4].astype(np.bool_),
        referred=m[:, 5].astype(np.bool_),
        total=m[:, 6].copy(),
        oos=m[:, 7].copy(),
        pending=m[:, 8].astype(np.bool_),
        cur_pk=m[:, 9].copy(),
        cur_policy=m[:, 10].copy(),
        cur_category=cur_category,
        cur_amounts=np.ascontiguousarray(m[:, 12:19]),
    )


def _columns(rows: list[tuple[Any, ...]], cache: dict[Any, int]) -> YearClaims:
    n = len(rows)
    cols: list[Any] = list(zip(*rows, strict=True)) if n else [() for _ in range(20)]

    def ints(values: Iterable[Any]) -> np.ndarray:
        return np.fromiter((0 if v is None else int(v) for v in values), dtype=np.int64, count=n)

    amounts = np.zeros((n, 7), dtype=np.int64)
    for k in range(7):
        amounts[:, k] = ints(cols[13 + k])
    return YearClaims(
        pk=ints(cols[0]),
        claim_id=list(cols[1]),
        person=ints(cols[2]),
        day=np.fromiter((_day_number(v, cache) for v in cols[3]), dtype=np.int64, count=n),
        level=ints(cols[4]),
        in_county=np.fromiter((bool(v) for v in cols[5]), dtype=np.bool_, count=n),
        referred=np.fromiter((bool(v) for v in cols[6]), dtype=np.bool_, count=n),
        total=ints(cols[7]),
        oos=ints(cols[8]),
        pending=np.fromiter((v == ClaimStatus.PENDING for v in cols[9]), dtype=np.bool_, count=n),
        cur_pk=ints(cols[10]),
        cur_policy=ints(cols[11]),
        cur_category=[v or "" for v in cols[12]],
        cur_amounts=amounts,
    )


# --------------------------------------------------------------------------- computing


def _settle(
    yc: YearClaims, policy_pk: np.ndarray, category: Sequence[str], policies: dict[int, Policy]
) -> engine.YearSettlement:
    """The engine's settlement of the year's rows, row ``i`` with policy ``policy_pk[i]`` and its category."""
    table = engine.YearTable(
        claim_id=yc.claim_id,
        person=yc.person,
        day=yc.day,
        level=yc.level,
        in_county=yc.in_county,
        referred=yc.referred,
        total=yc.total,
        out_of_scope=yc.oos,
        policy=policy_pk,
        category=category,
    )
    return engine.settle_year(
        table, {int(pk): engine_policy(policies[int(pk)]) for pk in np.unique(policy_pk)}
    )


# --------------------------------------------------------------------------- writing


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


def _insert_settlements(
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
        cat_names = sorted(set(category[i] for i in rows.tolist()))
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


def _store_ledgers(year: int, persons: np.ndarray, after: np.ndarray, counts: np.ndarray) -> None:
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


# A bulk write that touches at least this share of the settlement table (and this many rows) runs in
# "large" mode on PostgreSQL (ADR 0004, bulk write path).
LARGE_SHARE = 0.3
LARGE_MIN_ROWS = 100_000
ANALYZE_MIN_ROWS = 10_000


def _large_write_lock(*, year: int, statuses: Sequence[str]) -> float | None:
    """PostgreSQL: when the year's claims are a large share of the settlement table, lock claims,
    settlements, policies and ledgers ``IN ACCESS EXCLUSIVE MODE`` for the transaction (first,
    so a window that inserted a claim and waits for its ledger row cannot deadlock with us) and
    return the settlement table's row estimate (None otherwise): ``_large`` may then drop and
    rebuild its indexes and foreign keys."""
    if connection.vendor != "postgresql":
        return None
    claims, table = _q(Claim._meta.db_table), _q(Settlement._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {claims} WHERE discharged_on >= %s AND discharged_on <= %s "  # noqa: S608
            "AND status = ANY(%s)",
            [date(year, 1, 1), date(year, 12, 31), list(statuses)],
        )
        (rows,) = cursor.fetchone()
        if rows < LARGE_MIN_ROWS:
            return None
        existing = bulkdb.row_estimate(cursor, table)
        if rows < LARGE_SHARE * existing:
            return None
        cursor.execute(
            f"LOCK TABLE {claims}, {table}, {_q(Policy._meta.db_table)}, {_q(YearLedger._meta.db_table)} "
            "IN ACCESS EXCLUSIVE MODE"
        )
    return existing


def _large(locked: float | None, rows: int, claim_updates: int = 0) -> list[str] | None:
    """When the tables are locked and the ``rows`` written are a large share: drop the settlement and
    ledger tables' secondary indexes and the settlement table's foreign keys to claims and policies
    (a million rows retired and inserted then maintain only the primary key, and no per-row key
    check is queued for the commit; ``settled_by`` stays, checked per statement); when
    ``claim_updates`` (claims about to change status) are a large share of the claims table, its
    secondary indexes go too (a status change is not a HOT update: every index gets an entry).
    Returns what ``bulkdb.restore`` rebuilds after the last bulk statement (None: nothing dropped)."""
    if locked is None or rows < LARGE_MIN_ROWS or rows < LARGE_SHARE * locked:
        return None
    claims, policies = Claim._meta.db_table, Policy._meta.db_table
    with connection.cursor() as cursor:
        dropped = bulkdb.detach(
            cursor,
            [Settlement._meta.db_table, YearLedger._meta.db_table],
            unique_indexes=True,
            references=[claims, policies],
            checks_immediate=True,
        )
        if claim_updates and claim_updates >= LARGE_SHARE * bulkdb.row_estimate(cursor, claims):
            indexes = bulkdb.detach(
                cursor, [claims], unique_indexes=True, references=[], checks_immediate=True
            )
            keys = [d for d in dropped if d.startswith("ALTER TABLE")]
            dropped = [d for d in dropped if not d.startswith("ALTER TABLE")] + indexes + keys
    return dropped


def _lock_ledgers() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {_q(YearLedger._meta.db_table)} IN EXCLUSIVE MODE")


# --------------------------------------------------------------------------- settle-claims


@dataclass
class SettleProblem:
    """A pending claim that could not be settled (no policy in force, no category)."""

    claim_id: str
    reason: str


@dataclass
class SettleYearResult:
    claims: int = 0
    settled: int = 0
    persons: int = 0
    resettled: int = 0
    invalid: int = 0
    seconds: float = 0.0
    problems: list[SettleProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "settled": self.settled,
            "persons": self.persons,
            "resettled": self.resettled,
            "invalid": self.invalid,
            "seconds": round(self.seconds, 3),
        }


def _policies_by_day(days: np.ndarray) -> tuple[dict[int, int], dict[int, Policy]]:
    """Policy in force (pk) per distinct day number (0 when none) and the policies by pk."""
    policies = {p.pk: p for p in Policy.objects.all()}
    out: dict[int, int] = {}
    for d in np.unique(days).tolist():
        found = policy_in_force_of(policies.values(), date.fromordinal(int(d) + EPOCH_ORDINAL))
        out[int(d)] = 0 if found is None else found.pk
    return out, policies


def _tags_by_person(persons: Iterable[int]) -> dict[int, list[tuple[str, date, date | None]]]:
    wanted = set(persons)
    out: dict[int, list[tuple[str, date, date | None]]] = defaultdict(list)
    qs = Tag.objects.filter(code__in=list(TAG_CATEGORIES)).values_list(
        "person_id", "code", "start_on", "end_on"
    )
    if len(wanted) < 5000:
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            for pid, code, s, e in qs.filter(person_id__in=ids[start : start + 500]):
                out[pid].append((code, s, e))
    else:
        for pid, code, s, e in qs.iterator(chunk_size=20000):
            if pid in wanted:
                out[pid].append((code, s, e))
    return out


def claims_settle_year(
    *, year: int, user: Any = None, progress: Callable[[str], None] | None = None
) -> SettleYearResult:
    """批量结算 Settle every pending claim discharged in ``year`` with the batch engine.

    Each pending claim gets the policy in force on its discharge date and the person's category
    on that day (as ``claim_settle``); a person's already settled claims of the year are settled
    again with them in order (their policy and category kept), and those whose results change get
    new rows (reason ``reorder``), exactly as settling the claims one by one would. Pending claims
    without a policy or category stay pending and are listed in ``problems``. One transaction.
    """
    role_require(user, RESETTLE_ROLES, ERR_ROLE_RESETTLE, system=True)
    started = time.perf_counter()
    say = progress or (lambda text: None)
    result = SettleYearResult()
    with transaction.atomic():
        locked = _large_write_lock(year=year, statuses=(ClaimStatus.PENDING,))
        _lock_ledgers()
        yc = load_year(year=year, statuses=(ClaimStatus.PENDING, ClaimStatus.SETTLED))
        say(f"read {len(yc)} claims {time.perf_counter() - started:.1f}s")
        result.claims = int(yc.pending.sum())
        if result.claims == 0:
            result.seconds = time.perf_counter() - started
            return result
        by_day, policies = _policies_by_day(yc.day[yc.pending])
        n = len(yc)
        policy_pk = yc.cur_policy.copy()
        category = list(yc.cur_category)
        ok = np.ones(n, dtype=np.bool_)
        pending_rows = np.flatnonzero(yc.pending).tolist()
        tags = _tags_by_person({int(yc.person[i]) for i in pending_rows})
        days = {d: date.fromordinal(d + EPOCH_ORDINAL) for d in by_day}
        # category_for depends only on the policy and the set of tags held: one call per such pair
        cat_of: dict[tuple[int, frozenset[str]], str | None] = {}
        no_tags: list[tuple[str, date, date | None]] = []
        day_list, person_list = yc.day.tolist(), yc.person.tolist()
        for i in pending_rows:
            pk = by_day[day_list[i]]
            day = days[day_list[i]]
            if pk == 0:
                ok[i] = False
                result.problems.append(
                    SettleProblem(yc.claim_id[i], ERR_NO_POLICY.format(day=day.isoformat()))
                )
                continue
            key = (pk, frozenset(tags_on(tags.get(person_list[i], no_tags), day)))
            if key in cat_of:
                cat = cat_of[key]
            else:
                cat = cat_of[key] = category_for(engine_policy(policies[pk]), key[1])
            if cat is None:
                ok[i] = False
                result.problems.append(
                    SettleProblem(
                        yc.claim_id[i], ERR_NO_CATEGORY.format(day=day.isoformat(), policy=policies[pk].label)
                    )
                )
                continue
            policy_pk[i] = pk
            category[i] = cat
        for pk in set(policy_pk[~yc.pending].tolist()) - set(policies):
            policies[pk] = Policy.objects.get(pk=pk)
        result.invalid = int((~ok).sum())
        # Only persons with a settleable pending claim are touched.
        persons = np.unique(yc.person[yc.pending & ok])
        keep = np.flatnonzero(np.isin(yc.person, persons) & ok)
        yc = yc.take(keep)
        policy_pk = policy_pk[keep]
        category = [category[i] for i in keep.tolist()]
        say(f"policies and categories {time.perf_counter() - started:.1f}s")
        comp = _settle(yc, policy_pk, category, policies)
        say(f"computed {time.perf_counter() - started:.1f}s")
        changed = yc.pending | (comp.amounts != yc.cur_amounts).any(axis=1)
        redo = comp.changed_from(changed)
        old_rows = np.flatnonzero(redo & ~yc.pending)
        new_rows = np.flatnonzero(redo)
        reasons = [
            SettlementReason.SETTLE if yc.pending[i] else SettlementReason.REORDER for i in new_rows.tolist()
        ]
        large = _large(locked, len(new_rows), claim_updates=int(yc.pending.sum()))
        bulkdb.update_by_ids(
            Settlement._meta.db_table,
            "is_current = %s",
            [False],
            yc.cur_pk[old_rows].tolist(),
            "settle_retire_tmp",
        )
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        _insert_settlements(yc, new_rows, comp, policy_pk, category, reasons, user_id)
        say(f"retired and inserted {time.perf_counter() - started:.1f}s")
        bulkdb.update_by_ids(
            Claim._meta.db_table,
            "status = %s",
            [ClaimStatus.SETTLED],
            yc.pk[yc.pending].tolist(),
            "settle_claims_tmp",
        )
        say(f"claims marked settled {time.perf_counter() - started:.1f}s")
        persons_arr, after, counts = comp.year_ends(yc.person)
        _store_ledgers(year, persons_arr, after, counts)
        say(f"ledgers {time.perf_counter() - started:.1f}s")
        if large is not None:
            with connection.cursor() as cursor:
                bulkdb.restore(cursor, large)
            say(f"indexes and foreign keys rebuilt {time.perf_counter() - started:.1f}s")
        if connection.vendor == "postgresql" and int(yc.pending.sum()) >= ANALYZE_MIN_ROWS:
            # Many claims changed status: fresh planner statistics, or the next bulk read of the
            # year (``status = settled``) is planned as a nested loop for "one row".
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {_q(Claim._meta.db_table)}")
        result.settled = int(yc.pending.sum())
        result.persons = len(persons_arr)
        result.resettled = len(old_rows)
        send_data_changed(kind="settlement", years=[year])
        if user is not None:
            audit_record(
                user=user,
                action=AuditAction.SETTLE,
                object_type="year",
                object_id=str(year),
                detail="批量结算",
            )
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- resettle


@dataclass
class TownshipRow:
    """乡镇汇总 Totals of one township before and after (fen → Decimal yuan)."""

    code: str
    name: str
    claims: int
    before: dict[str, Decimal]
    after: dict[str, Decimal]


@dataclass
class PersonDelta:
    """个人负担增加 A person whose own payment of the year rises."""

    person_id: int
    id_number: str
    name: str
    village_name: str
    before: Decimal
    after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.after - self.before


@dataclass
class ResettleReport:
    """重算报告 What re-settling a year under a policy changes (``jkfp resettle`` and the web page)."""

    year: int
    policy: Policy
    dry_run: bool
    claims: int = 0
    changed: int = 0
    persons: int = 0
    totals_before: dict[str, Decimal] = field(default_factory=dict)
    totals_after: dict[str, Decimal] = field(default_factory=dict)
    townships: list[TownshipRow] = field(default_factory=list)
    persons_up: list[PersonDelta] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "policy": self.policy.label,
            "dry_run": self.dry_run,
            "claims": self.claims,
            "changed": self.changed,
            "persons": self.persons,
            "persons_paying_more": len(self.persons_up),
            "totals_before": {k: f"{v:.2f}" for k, v in self.totals_before.items()},
            "totals_after": {k: f"{v:.2f}" for k, v in self.totals_after.items()},
            "seconds": round(self.seconds, 3),
        }


def _totals(matrix: np.ndarray) -> dict[str, Decimal]:
    sums = matrix.sum(axis=0) if len(matrix) else np.zeros(7, dtype=np.int64)
    return {f: fen_to_decimal(int(v)) for f, v in zip(AMOUNT_FIELDS, sums.tolist(), strict=True)}


def year_resettle(
    *,
    year: int,
    policy_name: str,
    dry_run: bool = False,
    user: Any = None,
    persons_limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ResettleReport:
    """政策调整重算 Re-settle every settled claim of ``year`` under the highest version of
    ``policy_name`` (categories as currently settled), with the batch engine; unless ``dry_run``
    write new current rows (reason ``policy_resettle``) for the claims whose policy or results
    change, and the ledgers. Returns the report (totals per fund before/after, per township, the
    persons whose own payment rises, largest first — at most ``persons_limit`` of them)."""
    allowed = PREVIEW_ROLES if dry_run else RESETTLE_ROLES
    role_require(user, allowed, ERR_ROLE_RESETTLE, system=True)
    started = time.perf_counter()
    say = progress or (lambda text: None)
    policy = policy_latest(name=policy_name)
    parsed = engine_policy(policy)
    report = ResettleReport(year=year, policy=policy, dry_run=dry_run)
    with transaction.atomic():
        locked = None
        if not dry_run:
            locked = _large_write_lock(year=year, statuses=(ClaimStatus.SETTLED,))
            _lock_ledgers()
        yc = load_year(year=year, statuses=(ClaimStatus.SETTLED,))
        say(f"read {len(yc)} claims {time.perf_counter() - started:.1f}s")
        n = len(yc)
        report.claims = n
        defined = set(parsed.category_names)
        missing: dict[str, int] = defaultdict(int)
        for name in yc.cur_category:
            if name not in defined:
                missing[name] += 1
        if missing:
            name, count = next(iter(missing.items()))
            raise ValidationError(
                {"policy": ERR_CATEGORY_UNDEFINED.format(policy=policy.label, category=name, count=count)}
            )
        policy_pk = np.full(n, policy.pk, dtype=np.int64)
        comp = _settle(yc, policy_pk, yc.cur_category, {policy.pk: policy})
        say(f"computed {time.perf_counter() - started:.1f}s")
        changed = (comp.amounts != yc.cur_amounts).any(axis=1)
        redo = comp.changed_from(changed) | (yc.cur_policy != policy.pk)
        report.changed = int(redo.sum())
        report.totals_before = _totals(yc.cur_amounts)
        report.totals_after = _totals(comp.amounts)
        _report_details(report, yc, comp, persons_limit)
        say(f"report {time.perf_counter() - started:.1f}s")
        if not dry_run and report.changed:
            rows = np.flatnonzero(redo)
            large = _large(locked, len(rows))
            bulkdb.update_by_ids(
                Settlement._meta.db_table,
                "is_current = %s",
                [False],
                yc.cur_pk[rows].tolist(),
                "settle_retire_tmp",
            )
            say(f"retired {time.perf_counter() - started:.1f}s")
            user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
            _insert_settlements(
                yc,
                rows,
                comp,
                policy_pk,
                yc.cur_category,
                [SettlementReason.POLICY_RESETTLE] * len(rows),
                user_id,
            )
            say(f"inserted {time.perf_counter() - started:.1f}s")
            persons_arr, after, counts = comp.year_ends(yc.person)
            _store_ledgers(year, persons_arr, after, counts)
            send_data_changed(kind="settlement", years=[year])
            say(f"ledgers {time.perf_counter() - started:.1f}s")
            if large is not None:
                with connection.cursor() as cursor:
                    bulkdb.restore(cursor, large)
                say(f"indexes and foreign keys rebuilt {time.perf_counter() - started:.1f}s")
        if user is not None:
            audit_record(
                user=user,
                action=AuditAction.RESETTLE,
                object_type="year",
                object_id=str(year),
                detail=f"{policy.label}{'（试算）' if dry_run else ''}",
            )
    report.seconds = time.perf_counter() - started
    return report


def _person_values(ids: list[int], *, names: bool) -> list[tuple[Any, ...]]:
    """(id, village code) — or with ``names`` (id, ID number, name, village name) — of the persons
    ``ids``: on PostgreSQL one query with the ids as one array parameter (a year has hundreds of
    thousands of persons), elsewhere through the ORM in chunks."""
    if connection.vendor == "postgresql":
        person, region = _q(Person._meta.db_table), _q(Region._meta.db_table)
        sql = (
            f"SELECT p.id, p.id_number, p.name, r.name FROM {person} p "  # noqa: S608
            f"LEFT JOIN {region} r ON r.code = p.village_id WHERE p.id = ANY(%s)"
            if names
            else f"SELECT p.id, p.village_id FROM {person} p WHERE p.id = ANY(%s)"  # noqa: S608
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids])
            return list(cursor.fetchall())
    fields = ("id", "id_number", "name", "village__name") if names else ("id", "village_id")
    qs = Person.objects.values_list(*fields)
    return [
        row for start in range(0, len(ids), 20000) for row in qs.filter(pk__in=ids[start : start + 20000])
    ]


def _report_details(
    report: ResettleReport, yc: YearClaims, comp: engine.YearSettlement, limit: int | None
) -> None:
    n = len(yc)
    if n == 0:
        return
    persons, inverse = np.unique(yc.person, return_inverse=True)
    report.persons = len(persons)
    pb = np.zeros(len(persons), dtype=np.int64)
    pa = np.zeros(len(persons), dtype=np.int64)
    np.add.at(pb, inverse, yc.cur_amounts[:, 6])
    np.add.at(pa, inverse, comp.amounts[:, 6])
    # Villages of the persons (townships: the first 9 digits + 000).
    ids = persons.tolist()
    village: dict[int, str] = dict(_person_values(ids, names=False))
    town_of_person = [village.get(p, "")[:9] + "000" for p in ids]
    towns = sorted(set(town_of_person))
    t_index = {t: k for k, t in enumerate(towns)}
    tp = np.fromiter((t_index[t] for t in town_of_person), dtype=np.int64, count=len(ids))
    row_town = tp[inverse]
    names = dict(Region.objects.filter(code__in=towns).values_list("code", "name"))
    for k, code in enumerate(towns):
        mask = row_town == k
        report.townships.append(
            TownshipRow(
                code=code,
                name=names.get(code, code),
                claims=int(mask.sum()),
                before=_totals(yc.cur_amounts[mask]),
                after=_totals(comp.amounts[mask]),
            )
        )
    up = np.flatnonzero(pa > pb)
    up = up[np.lexsort((persons[up], -(pa[up] - pb[up])))]
    if limit is not None:
        up = up[:limit]
    chosen = [int(persons[k]) for k in up.tolist()]
    info: dict[int, tuple[str, str, str]] = {}
    for pid, idn, name, vname in _person_values(chosen, names=True):
        info[pid] = (idn, name, vname)
    for k in up.tolist():
        pid = int(persons[k])
        idn, name, vname = info.get(pid, ("", "", ""))
        report.persons_up.append(
            PersonDelta(
                person_id=pid,
                id_number=idn,
                name=name,
                village_name=vname,
                before=fen_to_decimal(int(pb[k])),
                after=fen_to_decimal(int(pa[k])),
            )
        )
