"""批量结算与重算 Whole-year settlement in bulk: ``jkfp settle-claims`` and ``jkfp resettle``.

The three steps of every settlement, for a whole year in one transaction: fetch
(``fetch.facts(year=…)``: one query for the year's claims with their current settlement, amounts
as integer fen, and the policy in force and the category of each pending claim), engine
(``jkfp.engine.settle_year``: the batch engine, int64 fen, equal to the reference engine to the
fen, with the year-to-date sums and which claims a change reaches) and store
(``store.save(store.Writes.of_year(…))``: PostgreSQL ``COPY`` into temporary tables and set-based
statements; plain ``executemany`` on SQLite). Rows written here store no trace
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from jkfp import engine
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.scoping import role_require, user_prefix
from jkfp.accounts.services import audit_record
from jkfp.core import bulkdb
from jkfp.core.signals import send_data_changed
from jkfp.engine.claims import fen_to_decimal
from jkfp.regions.models import Region, stored_code
from jkfp.settlement import fetch, store
from jkfp.settlement.compute import (
    engine_policy,
    outpatient_problem,
)
from jkfp.settlement.fetch import AMOUNT_FIELDS, _q
from jkfp.settlement.models import (
    Claim,
    ClaimStatus,
    Policy,
    Settlement,
    SettlementReason,
    YearLedger,
)
from jkfp.settlement.selectors import policy_latest

FUNDS = ("basic", "critical", "aid", "supplementary")
RESETTLE_ROLES = frozenset({Role.COUNTY_ADMIN})
PREVIEW_ROLES = frozenset({Role.COUNTY_ADMIN, Role.FUND})  # a dry run writes nothing
ERR_ROLE_RESETTLE = "只有县卫健局管理员可以重新结算全年（医保局·民政可以试算）"
ERR_CATEGORY_UNDEFINED = "政策“{policy}”没有定义结算类别“{category}”（{count}笔结算使用该类别）"
ERR_REGION_UNKNOWN = "区划代码{code}不存在"
ERR_REGION_OUTSIDE_POLICY = "区划{code}不在政策“{policy}”的适用区划内"
ERR_OUTPATIENT_UNSETTLEABLE = "{problem}：该年度有{count}笔门诊慢特病结算不能按此政策重算"


# --------------------------------------------------------------------------- reading


# --------------------------------------------------------------------------- computing


# --------------------------------------------------------------------------- writing


# A bulk write that touches at least this share of the settlement table (and this many rows) runs in
# "large" mode on PostgreSQL (ADR 0004, bulk write path).
LARGE_SHARE = 0.3
LARGE_MIN_ROWS = 100_000
ANALYZE_MIN_ROWS = 10_000


def _large_write_lock(*, year: int, statuses: Sequence[str], prefix: str | None = None) -> float | None:
    """PostgreSQL: when the year's claims are a large share of the settlement table, lock claims,
    settlements, policies and ledgers ``IN ACCESS EXCLUSIVE MODE`` for the transaction (first,
    so a window that inserted a claim and waits for its ledger row cannot deadlock with us) and
    return the settlement table's row estimate (None otherwise): ``_large`` may then drop and
    rebuild its indexes and foreign keys."""
    if connection.vendor != "postgresql":
        return None
    claims, table = _q(Claim._meta.db_table), _q(Settlement._meta.db_table)
    with connection.cursor() as cursor:
        in_region, region_params = fetch.person_in(prefix, year)
        cursor.execute(
            f"SELECT count(*) FROM {claims} c WHERE discharged_on >= %s AND discharged_on <= %s "  # noqa: S608
            f"AND status = ANY(%s){in_region}",
            [date(year, 1, 1), date(year, 12, 31), list(statuses), *region_params],
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
        facts = fetch.facts(year=year, statuses=(ClaimStatus.PENDING, ClaimStatus.SETTLED))
        yc = facts.claims
        say(f"read {len(yc)} claims {time.perf_counter() - started:.1f}s")
        result.claims = int(yc.pending.sum())
        if result.claims == 0:
            result.seconds = time.perf_counter() - started
            return result
        result.problems.extend(SettleProblem(claim_id, reason) for claim_id, reason in facts.problems)
        result.invalid = int((~facts.ok).sum())
        # Only persons with a settleable pending claim are touched.
        persons = np.unique(yc.person[yc.pending & facts.ok])
        facts = facts.take(np.flatnonzero(np.isin(yc.person, persons) & facts.ok))
        yc = facts.claims
        say(f"policies and categories {time.perf_counter() - started:.1f}s")
        comp = engine.settle_year(*facts.engine_input())
        say(f"computed {time.perf_counter() - started:.1f}s")
        changed = yc.pending | (comp.amounts != yc.cur_amounts).any(axis=1)
        redo = comp.changed_from(changed)
        old_rows = np.flatnonzero(redo & ~yc.pending)
        new_rows = np.flatnonzero(redo)
        reasons = [
            SettlementReason.SETTLE if yc.pending[i] else SettlementReason.REORDER for i in new_rows.tolist()
        ]
        large = _large(locked, len(new_rows), claim_updates=int(yc.pending.sum()))
        writes = store.Writes.of_year(
            facts,
            comp,
            new_rows,
            reasons=reasons,
            retire=yc.cur_pk[old_rows].tolist(),
            settled=yc.pk[yc.pending].tolist(),
            user=user,
        )
        messages = {
            "inserted": "retired and inserted",
            "settled": "claims marked settled",
            "ledgers": "ledgers",
        }
        store.save(
            writes,
            step=lambda name: (
                say(f"{messages[name]} {time.perf_counter() - started:.1f}s") if name in messages else None
            ),
        )
        persons_arr = writes.persons
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
    # The same persons' later claims under another policy (another county's) that a change reaches:
    # settled again in order with their own policy (reason ``reorder``).
    reordered: int = 0
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
            "reordered": self.reordered,
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
    region: str | None = None,
) -> ResettleReport:
    """政策调整重算 Re-settle every settled claim of ``year`` under the highest version of
    ``policy_name`` (categories as currently settled) — when policies are bound to regions, the claims
    whose policy in force (person's county and discharge date) is a version of it
    (``fetch.rows_of_scope``) —
    with the batch engine; unless ``dry_run``
    write new current rows (reason ``policy_resettle``) for the claims whose policy or results
    change, and the ledgers. Returns the report (totals per fund before/after, per township, the
    persons whose own payment rises, largest first — at most ``persons_limit`` of them).
    ``region``: only the claims of persons living in that region (e.g. one county of a province)."""
    allowed = PREVIEW_ROLES if dry_run else RESETTLE_ROLES
    role_require(user, allowed, ERR_ROLE_RESETTLE, system=True)
    prefix = None
    if region is not None:
        found = Region.objects.filter(code=stored_code(region) or region).first()
        if found is None:
            raise ValidationError({"region": ERR_REGION_UNKNOWN.format(code=region)})
        prefix = found.prefix
    started = time.perf_counter()
    say = progress or (lambda text: None)
    policy = policy_latest(name=policy_name)
    if (
        policy.scope
        and prefix is not None
        and not (prefix.startswith(policy.scope) or policy.scope.startswith(prefix))
    ):
        raise ValidationError({"region": ERR_REGION_OUTSIDE_POLICY.format(code=region, policy=policy.label)})
    if policy.scope and (prefix is None or len(policy.scope) > len(prefix)):
        prefix = policy.scope
    parsed = engine_policy(policy)
    report = ResettleReport(year=year, policy=policy, dry_run=dry_run)
    with transaction.atomic():
        locked = None
        if not dry_run:
            locked = _large_write_lock(year=year, statuses=(ClaimStatus.SETTLED,), prefix=prefix)
            _lock_ledgers()
        # Read only the claims of the region asked for, or of the policy's region (issue 21): a county of
        # a province reads its own claims, not the province's; then a region's policy keeps the persons it
        # governs only (a county's own policy inside a city's), and a user bound to a region sees and
        # changes the claims of their region only.
        facts = fetch.facts(year=year, statuses=(ClaimStatus.SETTLED,), prefix=prefix)
        within = "" if user is None else (user_prefix(user) or "\x00")
        mine = facts.inside_mask().copy()
        governed = fetch.rows_of_scope(facts.claims, policy.name, within=within)
        if governed is not None:
            mine &= governed
        # The claims re-settled (``mine``) with their persons' other claims of the year beside them
        # (another county's, another policy's): a person has one year-to-date, as at the window. Those
        # are settled in order with their own policy and rewritten only where a change of ``mine``
        # before them reaches them (``reorder``).
        if not bool(mine.all()):
            keep = np.flatnonzero(np.isin(facts.claims.person, facts.claims.person[mine]))
            facts, mine = facts.take(keep), mine[keep]
        yc = facts.claims
        say(f"read {len(yc)} claims {time.perf_counter() - started:.1f}s")
        n = int(mine.sum())
        report.claims = n
        defined = set(parsed.category_names)
        missing: dict[str, int] = defaultdict(int)
        for i in np.flatnonzero(mine).tolist():
            name = yc.cur_category[i]
            if name not in defined:
                missing[name] += 1
        if missing:
            name, count = next(iter(missing.items()))
            raise ValidationError(
                {"policy": ERR_CATEGORY_UNDEFINED.format(policy=policy.label, category=name, count=count)}
            )
        # Outpatient claims (§6) need the category's outpatient block and their disease in the policy.
        pairs: dict[tuple[str, str], int] = defaultdict(int)
        for i in np.flatnonzero(yc.outpatient & mine).tolist():
            pairs[(yc.cur_category[i], yc.disease[i])] += 1
        for (category, disease), count in sorted(pairs.items()):
            problem = outpatient_problem(parsed, policy.label, category, disease)
            if problem is not None:
                raise ValidationError(
                    {"policy": ERR_OUTPATIENT_UNSETTLEABLE.format(problem=problem[1], count=count)}
                )
        facts = facts.under(policy, mine)
        comp = engine.settle_year(*facts.engine_input())
        say(f"computed {time.perf_counter() - started:.1f}s")
        changed = (comp.amounts != yc.cur_amounts).any(axis=1)
        reached = comp.changed_from(changed & mine)
        redo = mine & (reached | (yc.cur_policy != policy.pk))
        reorder = ~mine & reached
        report.changed = int(redo.sum())
        report.reordered = int(reorder.sum())
        report.totals_before = _totals(yc.cur_amounts[mine])
        report.totals_after = _totals(comp.amounts[mine])
        _report_details(report, yc.person[mine], yc.cur_amounts[mine], comp.amounts[mine], persons_limit)
        say(f"report {time.perf_counter() - started:.1f}s")
        if not dry_run and report.changed:
            rows = np.flatnonzero(redo | reorder)
            large = _large(locked, len(rows))
            store.save(
                store.Writes.of_year(
                    facts,
                    comp,
                    rows,
                    reasons=[
                        SettlementReason.POLICY_RESETTLE if own else SettlementReason.REORDER
                        for own in mine[rows].tolist()
                    ],
                    retire=yc.cur_pk[rows].tolist(),
                    settled=[],
                    user=user,
                ),
                step=lambda name: (
                    say(f"{name} {time.perf_counter() - started:.1f}s")
                    if name in ("retired", "inserted")
                    else None
                ),
            )
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


def _report_details(
    report: ResettleReport, person: np.ndarray, before: np.ndarray, after: np.ndarray, limit: int | None
) -> None:
    """The persons, townships and persons paying more of the rows re-settled (by row: the person,
    the amounts before and after)."""
    if len(person) == 0:
        return
    persons, inverse = np.unique(person, return_inverse=True)
    report.persons = len(persons)
    pb = np.zeros(len(persons), dtype=np.int64)
    pa = np.zeros(len(persons), dtype=np.int64)
    np.add.at(pb, inverse, before[:, 6])
    np.add.at(pa, inverse, after[:, 6])
    # Villages of the persons (townships: the first 9 digits + 000).
    ids = persons.tolist()
    village: dict[int, str] = dict(fetch.person_values(ids, names=False))
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
                before=_totals(before[mask]),
                after=_totals(after[mask]),
            )
        )
    up = np.flatnonzero(pa > pb)
    up = up[np.lexsort((persons[up], -(pa[up] - pb[up])))]
    if limit is not None:
        up = up[:limit]
    chosen = [int(persons[k]) for k in up.tolist()]
    info: dict[int, tuple[str, str, str]] = {}
    for pid, idn, name, vname in fetch.person_values(chosen, names=True):
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
