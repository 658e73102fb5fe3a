"""一年的结算 Claims of one calendar year settled in order, for one person or a whole county.

The engine's part of every settlement path of the system (the window, the API, ``settle-claims``
and ``resettle``): the settlement order, settling a year in that order (the batch engine for
persons whose year has one policy, the reference engine claim by claim for the others, or with a
trace), the year-to-date sums before and after each claim, which claims a change reaches, what the
funds paid and the reimbursement ratio. Callers fetch the facts and store the results; they
compute no money.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from jkfp.engine.batch import settle_batch
from jkfp.engine.claims import (
    EPOCH_ORDINAL,
    INPATIENT,
    NOT_PAID,
    OUTPATIENT,
    Claim,
    ClaimIds,
    ClaimTable,
    fen_to_decimal,
)
from jkfp.engine.policy import Policy
from jkfp.engine.reference import ClaimSettlement, YearToDate, settle_claim

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Columns of the seven amounts (``OUTPUT_FIELDS``) that the funds pay: basic, critical, aid, supplementary.
PAID_COLUMNS = (2, 3, 4, 5)
RATIO_SCALE = 1_000_000  # the ratio is stored with 6 decimals
RATIO_UNDEFINED = -1  # ``ratio_micro`` where nothing is counted

# §6's year-to-date of one person in fen, as ``YearToDate.outpatient_fen`` gives it: (outpatient
# deductible used, outpatient basic insurance, basic per disease as (disease, fen) sorted by disease).
OutpatientSums = tuple[int, int, tuple[tuple[str, int], ...]]
NO_OUTPATIENT_SUMS: OutpatientSums = (0, 0, ())


@overload
def ratio_micro(counted_fen: int, paid_fen: int) -> int: ...
@overload
def ratio_micro(counted_fen: Int64Array, paid_fen: Int64Array) -> Int64Array: ...
def ratio_micro(counted_fen: int | Int64Array, paid_fen: int | Int64Array) -> int | Int64Array:
    """实际报销比例 paid / counted in millionths, rounded half-up (integer arithmetic);
    ``RATIO_UNDEFINED`` where nothing is counted (``ratio_decimal`` then says None)."""
    if isinstance(counted_fen, np.ndarray):
        safe = np.where(counted_fen > 0, counted_fen, 1)
        micro: Int64Array = np.where(
            counted_fen > 0, (2 * paid_fen * RATIO_SCALE + safe) // (2 * safe), RATIO_UNDEFINED
        )
        return micro
    if counted_fen <= 0:
        return RATIO_UNDEFINED
    return int((2 * paid_fen * RATIO_SCALE + counted_fen) // (2 * counted_fen))


def ratio_decimal(counted_fen: int, paid_fen: int) -> Decimal | None:
    """实际报销比例 paid / counted as a Decimal with 6 decimals (half-up); None when nothing is counted."""
    if counted_fen <= 0:
        return None
    return Decimal(ratio_micro(counted_fen, paid_fen)).scaleb(-6)


def paid_fen(amounts: Int64Array) -> Int64Array:
    """基金支付 What the funds paid: basic + critical + aid + supplementary, per row of an (n, 7) matrix."""
    paid: Int64Array = amounts[:, list(PAID_COLUMNS)].sum(axis=1)
    return paid


def county_subsidy(aid: Decimal, supplementary: Decimal) -> Decimal:
    """县级补助 What the county pays of a stay settled elsewhere (§7): its own layers, medical aid +
    the safety net (yuan)."""
    return aid + supplementary


def insurance_paid(basic_paid: Decimal, critical_paid: Decimal) -> Decimal:
    """统筹地已付 What basic and critical illness insurance paid of a stay settled elsewhere (§7)."""
    return basic_paid + critical_paid


def funds_ratio(
    counted: Decimal, basic: Decimal, critical: Decimal, aid: Decimal, supplementary: Decimal
) -> Decimal | None:
    """实际报销比例 of amounts in yuan (sums over claims, e.g. a ledger's case or totals row):
    (basic + critical + aid + supplementary) ÷ counted, unrounded (the caller formats it); None when
    nothing is counted. One settlement's stored ratio is ``settlement_ratio`` (6 decimals)."""
    if not counted:
        return None
    return (basic + critical + aid + supplementary) / counted


def settlement_ratio(result: ClaimSettlement) -> Decimal | None:
    """The reimbursement ratio of one settlement (6 decimals, half-up)."""
    counted, _, basic, critical, aid, supplementary, _ = result.amounts_fen
    return ratio_decimal(counted, basic + critical + aid + supplementary)


def settlement_order(person: Int64Array, day: Int64Array, claim_id: ClaimIds) -> Int64Array:
    """Row indices by (person, discharge day, claim id, row index) — the year-to-date order (claim ids
    in Python string order, whatever a database's collation). The row index last: the tables are read
    in claim primary-key order, so one claim id at two institutions settles in the order its claims
    were registered, as on the window path (``settle_in_order``, ``settlement.fetch``)."""
    n = len(person)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    span = int(day.max()) - int(day.min()) + 1
    order = np.argsort(person * span + (day - int(day.min())), kind="stable").astype(np.int64)
    p, d = person[order], day[order]
    tie = (p[1:] == p[:-1]) & (d[1:] == d[:-1])
    if bool(tie.any()):
        padded = np.concatenate(([False], tie, [False]))
        starts = np.flatnonzero(padded[1:-1] & ~padded[:-2])
        ends = np.flatnonzero(padded[1:-1] & ~padded[2:]) + 1
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            order[start : end + 1] = sorted(order[start : end + 1].tolist(), key=lambda i: (claim_id[i], i))
    return order


def settle_in_order(
    items: Sequence[tuple[Policy, Claim]], *, start: YearToDate | None = None, trace: bool = True
) -> list[ClaimSettlement]:
    """逐笔顺序重算 Settle one person's claims of one year in settlement order, each with its own policy
    (the reference engine, with a trace), from ``start`` (a zero year-to-date when None: the person's
    whole year; else the sums of the claims before these); results in settlement order. Claims of
    one day with one claim id (two institutions) keep their order in ``items`` (a stable sort): the
    callers pass them in primary-key order."""
    chain = sorted(items, key=lambda item: (item[1].discharge_on, item[1].claim_id))
    ytd = start if start is not None else YearToDate()
    out: list[ClaimSettlement] = []
    for policy, claim in chain:
        result = settle_claim(policy, claim, ytd, trace=trace)
        ytd = result.ytd_after
        out.append(result)
    return out


@dataclass(frozen=True, eq=False)
class YearTable:
    """A year's claims by column, each with the key of its policy and its category name."""

    claim_id: list[str]
    person: Int64Array
    day: Int64Array  # days since 1970-01-01
    level: Int64Array
    in_county: BoolArray
    referred: BoolArray
    total: Int64Array  # fen
    out_of_scope: Int64Array  # fen
    policy: Int64Array  # key into the policies passed to ``settle_year``
    category: Sequence[str]
    # §6 (optional: None means every row is a stay): outpatient rows and each row's disease name
    # (one of its policy's ``outpatient_diseases``; "" for a stay).
    outpatient: BoolArray | None = None
    disease: Sequence[str] | None = None
    # §7: what basic and critical illness insurance already paid (fen; ``NOT_PAID`` where not
    # settled elsewhere); None: no claim of the table was settled elsewhere.
    basic_paid: Int64Array | None = None
    critical_paid: Int64Array | None = None

    def __post_init__(self) -> None:
        if (self.outpatient is None) != (self.disease is None):
            raise ValueError("YearTable.outpatient and YearTable.disease go together")

    def __len__(self) -> int:
        return len(self.claim_id)

    def outpatient_mask(self) -> BoolArray:
        """Where the row is an outpatient claim (§6)."""
        if self.outpatient is None:
            return np.zeros(len(self), dtype=np.bool_)
        return self.outpatient.astype(np.bool_, copy=False)

    def paid_of(self, i: int) -> tuple[Decimal | None, Decimal | None]:
        """Row ``i``'s (basic_paid, critical_paid) as yuan, or (None, None) when not settled elsewhere."""
        if self.basic_paid is None or self.critical_paid is None or int(self.basic_paid[i]) == NOT_PAID:
            return None, None
        return fen_to_decimal(int(self.basic_paid[i])), fen_to_decimal(int(self.critical_paid[i]))

    def claim(self, i: int) -> Claim:
        """Row ``i`` as a ``Claim`` (the person as its number)."""
        return Claim(
            claim_id=self.claim_id[i],
            person_id=str(int(self.person[i])),
            category=self.category[i],
            discharge_on=date.fromordinal(int(self.day[i]) + EPOCH_ORDINAL),
            level=int(self.level[i]),
            in_county=bool(self.in_county[i]),
            referred=bool(self.referred[i]),
            total_amount=fen_to_decimal(int(self.total[i])),
            out_of_scope_amount=fen_to_decimal(int(self.out_of_scope[i])),
            kind=OUTPATIENT if self.outpatient is not None and bool(self.outpatient[i]) else INPATIENT,
            disease=self.disease[i] if self.disease is not None and self.outpatient is not None else "",
            basic_paid_amount=self.paid_of(i)[0],
            critical_paid_amount=self.paid_of(i)[1],
        )


@dataclass(frozen=True, eq=False)
class YearSettlement:
    """The settlement of a ``YearTable``: amounts (``OUTPUT_FIELDS``) and the seven year-to-date sums
    (``YearToDate`` field order) before and after each claim, in fen, by row; the settlement order and,
    by sorted position, where each person's claims start."""

    amounts: Int64Array  # (n, 7)
    before: Int64Array  # (n, 7)
    after: Int64Array  # (n, 7)
    order: Int64Array
    group_start: BoolArray
    # §6's sums after each person's last claim, by person (the table's ``person`` value); a person
    # without outpatient claims is absent (``NO_OUTPATIENT_SUMS``).
    outpatient_after: Mapping[int, OutpatientSums] = field(default_factory=dict)

    def changed_from(self, changed: BoolArray) -> BoolArray:
        """Rows whose settlement must be written again when the rows ``changed`` (by row) changed:
        every claim of the person from the first changed one on (it alters every later year-to-date)."""
        n = len(self.order)
        if n == 0:
            return np.zeros(0, dtype=np.bool_)
        ch_sorted = changed[self.order].astype(np.int64)
        cum = np.cumsum(ch_sorted)  # "any change so far", restarted at every person
        start_idx = np.flatnonzero(self.group_start)
        sizes = np.diff(np.append(start_idx, n))
        base = np.repeat(cum[start_idx] - ch_sorted[start_idx], sizes)
        out = np.empty(n, dtype=np.bool_)
        out[self.order] = (cum - base) > 0
        return out

    def year_ends(self, person: Int64Array) -> tuple[Int64Array, Int64Array, Int64Array]:
        """(persons, their year-to-date after their last claim, their claim counts)."""
        n = len(self.order)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros((0, 7), np.int64), np.zeros(0, np.int64)
        start_idx = np.flatnonzero(self.group_start)
        end_idx = np.append(start_idx[1:], n) - 1
        last_rows = self.order[end_idx]
        return person[last_rows], self.after[last_rows], np.diff(np.append(start_idx, n))


def settle_year(table: YearTable, policies: Mapping[int, Policy]) -> YearSettlement:
    """年度结算 Settle every row of ``table`` (one calendar year) with its policy and category, each
    person's claims in settlement order from a zero year-to-date. Persons whose claims all share one
    policy go through the batch engine (one call per policy); a person whose year spans two policies
    is settled claim by claim with the reference engine. Equal to the reference to the fen."""
    n = len(table)
    order = settlement_order(table.person, table.day, table.claim_id)
    person_sorted = table.person[order]
    group_start = np.ones(n, dtype=np.bool_)
    if n:
        group_start[1:] = person_sorted[1:] != person_sorted[:-1]
    group_id_sorted = np.cumsum(group_start) - 1
    group_of = np.empty(n, dtype=np.int64)
    group_of[order] = group_id_sorted
    pol_sorted = table.policy[order]
    first_pol = pol_sorted[np.flatnonzero(group_start)] if n else np.zeros(0, np.int64)
    mixed_group = np.zeros(len(first_pol), dtype=np.bool_)
    if n:
        np.logical_or.at(mixed_group, group_id_sorted, pol_sorted != first_pol[group_id_sorted])
    mixed_row = mixed_group[group_of] if n else np.zeros(0, np.bool_)
    amounts = np.zeros((n, 7), dtype=np.int64)
    category = table.category
    for key in np.unique(table.policy[~mixed_row]).tolist() if n else []:
        rows = np.flatnonzero((table.policy == key) & ~mixed_row)
        names = tuple(sorted({category[i] for i in rows.tolist()}))
        code = {name: k for k, name in enumerate(names)}
        op: dict[str, Any] = {}
        if table.outpatient is not None and table.disease is not None:
            outpatient = table.outpatient_mask()[rows]
            if bool(outpatient.any()):
                row_disease = table.disease
                found = tuple(sorted({row_disease[i] for i in rows[outpatient].tolist()}))
                disease_code = {name: k for k, name in enumerate(found)}
                op = {
                    "outpatient": outpatient,
                    "disease": np.fromiter(
                        (
                            disease_code.get(row_disease[i], -1) if o else -1
                            for i, o in zip(rows.tolist(), outpatient.tolist(), strict=True)
                        ),
                        dtype=np.int64,
                        count=len(rows),
                    ),
                    "disease_names": found,
                }
        claims = ClaimTable(
            claim_id=[table.claim_id[i] for i in rows.tolist()],
            person=table.person[rows],
            category=np.fromiter((code[category[i]] for i in rows.tolist()), dtype=np.int64, count=len(rows)),
            category_names=names,
            discharge_day=table.day[rows],
            level=table.level[rows],
            in_county=table.in_county[rows],
            referred=table.referred[rows],
            total_fen=table.total[rows],
            out_of_scope_fen=table.out_of_scope[rows],
            **op,
            basic_paid_fen=None if table.basic_paid is None else table.basic_paid[rows],
            critical_paid_fen=None if table.critical_paid is None else table.critical_paid[rows],
        )
        result = settle_batch(policies[key], claims)
        amounts[rows] = np.stack(result.columns(), axis=1)
    if n and bool(mixed_row.any()):
        ytd: YearToDate | None = None
        last_person = None
        for i in order[mixed_row[order]].tolist():
            if table.person[i] != last_person:
                ytd, last_person = YearToDate(), table.person[i]
            one = settle_claim(policies[int(table.policy[i])], table.claim(i), ytd, trace=False)
            ytd = one.ytd_after
            amounts[i] = one.amounts_fen
    before, after = _year_to_date(table, amounts, order, group_start, policies)
    return YearSettlement(
        amounts=amounts,
        before=before,
        after=after,
        order=order,
        group_start=group_start,
        outpatient_after=_outpatient_ends(table, amounts, order, policies),
    )


def _outpatient_ends(
    table: YearTable, amounts: Int64Array, order: Int64Array, policies: Mapping[int, Policy]
) -> dict[int, OutpatientSums]:
    """§6's year-to-date after each person's last claim (persons with outpatient claims only): the
    outpatient basic paid in all and per disease, and the outpatient deductible used, which follows
    §6 claim by claim in settlement order (``min(in_scope, max(0, deductible − used))`` with each
    claim's own policy and category). What the window settles the person's next visit on."""
    mask = table.outpatient_mask()
    if table.disease is None or not bool(mask.any()):
        return {}
    rows = order[mask[order]]
    person = table.person[rows].tolist()
    policy = table.policy[rows].tolist()
    in_scope = (table.total - table.out_of_scope)[rows].tolist()
    basic = amounts[rows, 2].tolist()
    index = rows.tolist()
    category, disease = table.category, table.disease
    deductible_of: dict[tuple[int, str], int] = {}
    out: dict[int, OutpatientSums] = {}
    used = paid = 0
    by_disease: dict[str, int] = {}
    for k, i in enumerate(index):
        if k == 0 or person[k] != person[k - 1]:
            used = paid = 0
            by_disease = {}
        key = (policy[k], category[i])
        d = deductible_of.get(key)
        if d is None:
            rule = policies[key[0]].category(key[1]).outpatient
            d = deductible_of[key] = 0 if rule is None else rule.deductible.fen
        used += min(in_scope[k], max(0, d - used))
        paid += basic[k]
        by_disease[disease[i]] = by_disease.get(disease[i], 0) + basic[k]
        if k + 1 == len(index) or person[k + 1] != person[k]:
            out[person[k]] = (used, paid, tuple(sorted(by_disease.items())))
    return out


def _year_to_date(
    table: YearTable,
    amounts: Int64Array,
    order: Int64Array,
    group_start: BoolArray,
    policies: Mapping[int, Policy],
) -> tuple[Int64Array, Int64Array]:
    """The seven year-to-date sums before and after each claim (fen), from the amounts: running sums
    per person in settlement order; the aid deductible used follows §2.3 claim by claim. An
    outpatient claim (§6) moves only the shared ``aid`` and ``supplementary`` of the seven."""
    n = len(table)
    in_scope = (table.total - table.out_of_scope)[order]
    a = amounts[order]
    stay = ~table.outpatient_mask()[order]
    basic, critical, aid, supp, personal = a[:, 2] * stay, a[:, 3] * stay, a[:, 4], a[:, 5], a[:, 6] * stay
    in_scope = in_scope * stay
    # aid deductible per claim (§2.3): ded = min(rem, max(0, D − used)); categories without aid: 0.
    category = table.category
    ded_of: dict[tuple[int, str], int | None] = {}
    for key, cat in {(int(table.policy[i]), category[i]) for i in range(n)}:
        rule = policies[key].category(cat).aid
        ded_of[(key, cat)] = None if rule is None else int(rule.deductible.yuan * 100)
    rem = (in_scope - basic - critical).tolist()
    keys = [(int(p), category[i]) for p, i in zip(table.policy[order].tolist(), order.tolist(), strict=True)]
    starts = group_start.tolist()
    is_stay = stay.tolist()
    ded = [0] * n
    used = 0
    for k in range(n):
        if starts[k]:
            used = 0
        d = ded_of[keys[k]]
        if d is not None and is_stay[k]:
            x = min(rem[k], max(0, d - used))
            ded[k] = x
            used += x
    step = np.stack(
        [basic, in_scope - basic, critical, aid, np.array(ded, dtype=np.int64), supp, personal], axis=1
    )
    cum = np.cumsum(step, axis=0)
    start_idx = np.flatnonzero(group_start)
    sizes = np.diff(np.append(start_idx, n))
    offset = np.repeat(cum[start_idx] - step[start_idx], sizes, axis=0) if n else cum
    after_sorted = cum - offset
    before_sorted = after_sorted - step
    before = np.empty_like(before_sorted)
    after = np.empty_like(after_sorted)
    before[order] = before_sorted
    after[order] = after_sorted
    return before, after
