"""批量结算 Batch settlement: the same arithmetic as ``reference.py``, vectorised over int64 fen.

Exactness (``performance.md``, "How to stay exact while vectorising"; ``docs/adr/0001``):

* amounts are int64 fen, rates int64 parts per million (``RATE_SCALE``);
* ``round(amount × rate)`` is ``(fen × ppm + S/2) // S`` — exact half-up for the non-negative
  values it is applied to; the consistent write-off divides by ``S − ppm`` as an exact rational;
* the cumulative critical-illness function ``F`` splits each tier segment into ``q·S + r`` so that
  no product exceeds int64 whatever the year-to-date base;
* claim amounts are at most ``MAX_CLAIM_AMOUNT_FEN`` (10^10 fen), so every per-claim product stays
  below 10^16.

Year-to-date: claims are sorted by (person, discharge date, claim id) and grouped by (person,
calendar year). Every layer after the write-off depends on the group's earlier claims (caps, the
cumulative critical base, the aid deductible, the personal cap that depends on earlier top-ups),
so the claims are settled rank by rank: the first claim of every group at once, then every
second claim, and so on — one vectorised step per rank. Once fewer than ``SCALAR_BELOW`` groups
remain active (the tail of a few long groups, e.g. one person with thousands of claims), each
remaining group is finished by a scalar loop over Python integers with the same arithmetic, so the
number of vectorised steps is bounded by N / SCALAR_BELOW and no step is mostly overhead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
from numpy.typing import NDArray

from jkfp.engine.claims import EPOCH_ORDINAL, ClaimTable
from jkfp.engine.policy import RATE_SCALE, Amount, Policy

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

S: Final = RATE_SCALE
HALF: Final = RATE_SCALE // 2
NO_LIMIT: Final = 1 << 62  # "no cap": larger than any sum of amounts, small enough to subtract from
# Ranks where fewer groups than this remain are settled by the scalar loop (see settle_batch).
SCALAR_BELOW: Final = 16
OUTPUT_FIELDS: Final = (
    "counted_total",
    "hospital_absorbed",
    "basic",
    "critical",
    "aid",
    "supplementary",
    "personal",
)


@dataclass(frozen=True, eq=False)
class BatchResult:
    """批量结算结果 Amounts in fen, one entry per claim, in the order of the input table."""

    counted_total: Int64Array
    hospital_absorbed: Int64Array
    basic: Int64Array
    critical: Int64Array
    aid: Int64Array
    supplementary: Int64Array
    personal: Int64Array

    def __len__(self) -> int:
        return len(self.counted_total)

    def columns(self) -> tuple[Int64Array, ...]:
        """The seven arrays in the order of the output file (``OUTPUT_FIELDS``)."""
        return tuple(getattr(self, name) for name in OUTPUT_FIELDS)

    def row(self, i: int) -> tuple[int, ...]:
        """Claim ``i``'s seven amounts in fen."""
        return tuple(int(a[i]) for a in self.columns())

    def rows(self) -> Iterator[tuple[int, ...]]:
        matrix = np.stack(self.columns(), axis=1).tolist()
        return (tuple(r) for r in matrix)


@dataclass(frozen=True, eq=False)
class _Rules:
    """The policy as arrays indexed by category code of the claim table (and level − 1)."""

    deductible: Int64Array  # (k, 3)
    ratio: Int64Array  # (k, 3) ppm
    basic_cap: Int64Array
    tier_lo: Int64Array  # (k, t)
    tier_width: Int64Array  # (k, t); NO_LIMIT for an open last tier, 0 for padding
    tier_rate: Int64Array  # (k, t) ppm
    critical_cap: Int64Array
    has_aid: BoolArray
    aid_deductible: Int64Array
    aid_ratio: Int64Array
    aid_cap: Int64Array
    has_supp: BoolArray
    supp_referred: BoolArray  # applies_to = in_county_or_referred
    covers_out_of_scope: BoolArray
    has_min_ratio: BoolArray
    min_ratio: Int64Array
    has_personal_cap: BoolArray
    personal_cap: Int64Array
    sum_insured: Int64Array


def _rules(policy: Policy, names: tuple[str, ...]) -> _Rules:
    try:
        rules = [policy.category(name) for name in names]
    except KeyError as exc:
        raise ValueError(f"category {exc.args[0]!r} is not defined by policy {policy.name!r}") from None
    k = len(rules)
    t = max((len(r.critical.tiers) for r in rules), default=1)
    lo = np.zeros((k, t), np.int64)
    width = np.zeros((k, t), np.int64)
    rate = np.zeros((k, t), np.int64)
    for i, r in enumerate(rules):
        for j, tier in enumerate(r.critical.tiers):
            lo[i, j] = tier.lo.fen
            width[i, j] = NO_LIMIT if tier.hi is None else tier.hi.fen - tier.lo.fen
            rate[i, j] = tier.rate.ppm

    def arr(values: list[int]) -> Int64Array:
        return np.array(values, dtype=np.int64).reshape(k)

    def flags(values: list[bool]) -> BoolArray:
        return np.array(values, dtype=np.bool_).reshape(k)

    def cap(amount: Amount | None) -> int:
        return NO_LIMIT if amount is None else amount.fen

    return _Rules(
        deductible=np.array([[d.fen for d in r.basic.deductible] for r in rules], np.int64).reshape(k, 3),
        ratio=np.array([[x.ppm for x in r.basic.ratio] for r in rules], np.int64).reshape(k, 3),
        basic_cap=arr([cap(r.basic.annual_cap) for r in rules]),
        tier_lo=lo,
        tier_width=width,
        tier_rate=rate,
        critical_cap=arr([cap(r.critical.annual_cap) for r in rules]),
        has_aid=flags([r.aid is not None for r in rules]),
        aid_deductible=arr([r.aid.deductible.fen if r.aid else 0 for r in rules]),
        aid_ratio=arr([r.aid.ratio.ppm if r.aid else 0 for r in rules]),
        aid_cap=arr([cap(r.aid.annual_cap) if r.aid else 0 for r in rules]),
        has_supp=flags([r.supplementary is not None for r in rules]),
        supp_referred=flags(
            [
                r.supplementary is not None and r.supplementary.applies_to == "in_county_or_referred"
                for r in rules
            ]
        ),
        covers_out_of_scope=flags(
            [r.supplementary is not None and r.supplementary.covers_out_of_scope for r in rules]
        ),
        has_min_ratio=flags(
            [r.supplementary is not None and r.supplementary.min_ratio is not None for r in rules]
        ),
        min_ratio=arr(
            [
                r.supplementary.min_ratio.ppm if r.supplementary and r.supplementary.min_ratio else 0
                for r in rules
            ]
        ),
        has_personal_cap=flags(
            [r.supplementary is not None and r.supplementary.annual_personal_cap is not None for r in rules]
        ),
        personal_cap=arr(
            [
                r.supplementary.annual_personal_cap.fen
                if r.supplementary and r.supplementary.annual_personal_cap
                else 0
                for r in rules
            ]
        ),
        sum_insured=arr([cap(r.supplementary.sum_insured) if r.supplementary else 0 for r in rules]),
    )


def _mul_rate(amount: Int64Array, ppm: Int64Array) -> Int64Array:
    """round(amount × rate) half-up, for amount ≥ 0 below 10^12 fen (no int64 overflow)."""
    return (amount * ppm + HALF) // S


def _tiers_rounded(lo: Int64Array, width: Int64Array, rate: Int64Array, x: Int64Array) -> Int64Array:
    """round(F(x)) in fen: F(x) = Σ rate × max(0, min(x, hi) − lo), rounded at the cumulative level.

    ``lo``, ``width`` (hi − lo) and ``rate`` are (tiers, claims). Each segment is split as q·S + r
    so that rate × segment never overflows: Σ rate·seg / S = Σ rate·q + (Σ rate·r) / S, and only
    the second part needs rounding.
    """
    whole = np.zeros(len(x), dtype=np.int64)
    part = np.zeros(len(x), dtype=np.int64)
    for j in range(lo.shape[0]):
        segment = np.clip(x - lo[j], 0, width[j])
        q = segment // S
        whole += rate[j] * q
        part += rate[j] * (segment - q * S)
    out: Int64Array = whole + (part + HALF) // S
    return out


def _settlement_order(table: ClaimTable) -> Int64Array:
    """Row indices sorted by (person, discharge day, claim id)."""
    person = table.person
    day = table.discharge_day
    n = len(person)
    span = int(day.max()) - int(day.min()) + 1 if n else 1
    if n and int(person.min()) >= 0 and int(person.max()) < (1 << 62) // span:
        # One integer key sorts faster than lexsort on two; ties are put in claim-id order below.
        order = np.argsort(person * span + (day - int(day.min()))).astype(np.int64)
    else:
        order = np.lexsort((day, person)).astype(np.int64)
    p = person[order]
    d = day[order]
    tie = (p[1:] == p[:-1]) & (d[1:] == d[:-1])
    if bool(tie.any()):
        # Same person, same day: settle in claim-id order (rare, so resolved in Python).
        padded = np.concatenate(([False], tie, [False]))
        starts = np.flatnonzero(padded[1:-1] & ~padded[:-2])
        ends = np.flatnonzero(padded[1:-1] & ~padded[2:]) + 1
        ids = table.claim_id
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            block = sorted(order[start : end + 1].tolist(), key=lambda i: ids[i])
            for a, b in itertools.pairwise(block):
                if ids[a] == ids[b]:
                    raise ValueError(f"claim id {ids[a]!r} appears twice for the same person and day")
            order[start : end + 1] = block
    return order


def _years(day: Int64Array) -> Int64Array:
    """Calendar year of each day number (days since 1970-01-01)."""
    if not len(day):
        return np.zeros(0, dtype=np.int64)
    first = date.fromordinal(int(day.min()) + EPOCH_ORDINAL).year
    last = date.fromordinal(int(day.max()) + EPOCH_ORDINAL).year
    new_years = np.array(
        [date(y, 1, 1).toordinal() - EPOCH_ORDINAL for y in range(first + 1, last + 1)], np.int64
    )
    out: Int64Array = first + np.searchsorted(new_years, day, side="right")
    return out


def _settle_tail(
    rules: _Rules,
    *,
    tail: Int64Array,
    lengths: list[int],
    ytd: list[list[int]],
    inputs: tuple[Int64Array, Int64Array, Int64Array, Int64Array, BoolArray],
    out: Int64Array,
) -> None:
    """Settle the remaining claims of a few long groups one by one, with Python integers.

    ``tail`` holds, group after group, the row indices of each group's remaining claims in
    settlement order (``lengths[g]`` of them); ``ytd[g]`` is the group's year-to-date state
    (basic, critical base, critical, aid, aid deductible, supplementary, personal) after its
    vectorised ranks. The arithmetic is the vectorised step's, term for term (Python integers do
    not overflow, so ``round(F(x))`` needs no q·S + r split: the sum is the same integer).
    Writes basic, critical, aid, supplementary and personal into ``out`` (5, n).
    """
    cat, in_scope, counted, basic_raw, supp_applies = (a[tail].tolist() for a in inputs)
    k = len(rules.basic_cap)
    tiers: list[list[tuple[int, int, int]]] = [
        [
            (lo, width, rate)
            for lo, width, rate in zip(
                rules.tier_lo[j].tolist(),
                rules.tier_width[j].tolist(),
                rules.tier_rate[j].tolist(),
                strict=True,
            )
            if width
        ]
        for j in range(k)
    ]

    def cumulative(j: int, x: int) -> int:
        total: int = sum(rate * min(max(x - lo, 0), width) for lo, width, rate in tiers[j])
        return (total + HALF) // S

    basic_cap = rules.basic_cap.tolist()
    critical_cap = rules.critical_cap.tolist()
    has_aid = rules.has_aid.tolist()
    aid_deductible = rules.aid_deductible.tolist()
    aid_ratio = rules.aid_ratio.tolist()
    aid_cap = rules.aid_cap.tolist()
    covers = rules.covers_out_of_scope.tolist()
    has_min_ratio = rules.has_min_ratio.tolist()
    min_ratio = rules.min_ratio.tolist()
    has_personal_cap = rules.has_personal_cap.tolist()
    personal_cap = rules.personal_cap.tolist()
    sum_insured = rules.sum_insured.tolist()

    results: list[tuple[int, int, int, int, int]] = []
    pos = 0
    for length, state in zip(lengths, ytd, strict=True):
        y_basic, y_base, y_critical, y_aid, y_aid_ded, y_supp, y_personal = state
        for x in range(pos, pos + length):
            j = cat[x]
            scope = in_scope[x]
            cnt = counted[x]
            b = min(basic_raw[x], max(0, basic_cap[j] - y_basic))
            base = scope - b
            cr = cumulative(j, y_base + base) - cumulative(j, y_base)
            cr = min(cr, max(0, critical_cap[j] - y_critical))
            rem = scope - b - cr
            if has_aid[j]:
                ded = min(rem, max(0, aid_deductible[j] - y_aid_ded))
                a = min(((rem - ded) * aid_ratio[j] + HALF) // S, max(0, aid_cap[j] - y_aid))
            else:
                ded = a = 0
            paid = b + cr + a
            rest = cnt - paid
            if supp_applies[x]:
                coverable = rest if covers[j] else scope - paid
                floor_allowed = cnt - (cnt * min_ratio[j] + HALF) // S if has_min_ratio[j] else NO_LIMIT
                cap_allowed = personal_cap[j] - y_personal if has_personal_cap[j] else NO_LIMIT
                allowed = max(0, min(floor_allowed, cap_allowed))
                room = min(coverable, max(0, sum_insured[j] - y_supp))
                s = min(max(rest - allowed, 0), room)
            else:
                s = 0
            pers = rest - s
            results.append((b, cr, a, s, pers))
            y_basic += b
            y_base += base
            y_critical += cr
            y_aid += a
            y_aid_ded += ded
            y_supp += s
            y_personal += pers
        pos += length
    out[:, tail] = np.array(results, dtype=np.int64).reshape(len(results), 5).T


def settle_batch(policy: Policy, table: ClaimTable, *, scalar_below: int = SCALAR_BELOW) -> BatchResult:
    """批量结算 Settle every claim of ``table`` under ``policy``; amounts in fen in table order.

    Equal to ``reference.settle_claims`` on the same claims, to the fen. Claim ids must be unique
    (checked, for speed, only where it decides the order: same person, same day), amounts within
    ``claims.MAX_CLAIM_AMOUNT_FEN``; every category must be the policy's.

    ``scalar_below``: ranks where fewer groups than this remain are settled by the scalar loop
    (0 — every rank vectorised; a huge value — every claim by the scalar loop). Same results.
    """
    n = len(table)
    rules = _rules(policy, table.category_names)
    cat = table.category.astype(np.int64)
    lvl = table.level.astype(np.int64) - 1
    if n and (int(lvl.min()) < 0 or int(lvl.max()) > 2):
        raise ValueError("level must be 1, 2 or 3")
    in_county = table.in_county.astype(np.bool_)
    referred = table.referred.astype(np.bool_)
    total = table.total_fen.astype(np.int64)
    oos = table.out_of_scope_fen.astype(np.int64)

    # §2.0 write-off: depends on the claim alone.
    wo = policy.out_of_scope
    wo_has = np.array([r is not None for r in wo.cap_ratio], dtype=np.bool_)
    wo_ppm = np.array([0 if r is None else r.ppm for r in wo.cap_ratio], dtype=np.int64)
    applies = in_county & wo_has[lvl]
    r = np.where(applies, wo_ppm[lvl], 0)
    if wo.mode == "simple":
        absorbed = np.where(applies, np.maximum(0, oos - _mul_rate(total, r)), 0)
    else:
        # round((oos − r·total) / (1 − r)) = round((S·oos − ppm·total) / (S − ppm)), exact rational.
        num = np.maximum(0, S * oos - r * total)
        den = S - r
        absorbed = np.where(applies, (2 * num + den) // (2 * den), 0)
    counted = total - absorbed
    in_scope = total - oos

    # §2.1 basic before its cap: depends on the claim alone.
    ratio = rules.ratio[cat, lvl]
    unreferred = ~in_county & ~referred
    ratio = np.where(unreferred, np.maximum(0, ratio - policy.unreferred_ratio_cut.ppm), ratio)
    basic_raw = _mul_rate(np.maximum(0, in_scope - rules.deductible[cat, lvl]), ratio)
    supp_applies = rules.has_supp[cat] & (in_county | (rules.supp_referred[cat] & referred))

    # Groups (person, calendar year), largest first; the claims laid out rank by rank: all first
    # claims (group 0, 1, …), then all second claims of the groups that have one, and so on. The
    # groups still active at rank k are then exactly 0 … m_k − 1, so every step works on slices.
    # Ranks where fewer than ``scalar_below`` groups remain (the tail of a few long groups) are
    # settled group by group with Python integers instead (``_settle_tail``): one vectorised
    # step costs tens of microseconds whatever its width.
    order = _settlement_order(table)
    person_sorted = table.person[order]
    year_sorted = _years(table.discharge_day[order])
    new_group = np.ones(n, dtype=np.bool_)
    if n:
        new_group[1:] = (person_sorted[1:] != person_sorted[:-1]) | (year_sorted[1:] != year_sorted[:-1])
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    by_size = np.argsort(-sizes, kind="stable")
    starts = starts[by_size]
    sizes = sizes[by_size]
    longest = int(sizes[0]) if n else 0
    active = np.searchsorted(-sizes, -np.arange(longest), side="left")  # groups with size > k
    vector_ranks = int(np.count_nonzero(active >= max(1, scalar_below)))  # a prefix: active falls
    active_v = active[:vector_ranks]
    bounds = np.concatenate(([0], np.cumsum(active_v)))
    layout = (
        order[np.concatenate([starts[:m] + k for k, m in enumerate(active_v.tolist())])]
        if vector_ranks
        else np.zeros(0, np.int64)
    )

    # Per-claim inputs in that layout (one gather each, then only slices in the loop).
    c = cat[layout]
    scope_all = in_scope[layout]
    counted_all = counted[layout]
    basic_raw_all = basic_raw[layout]
    applies_all = supp_applies[layout]
    basic_cap = rules.basic_cap[c]
    critical_cap = rules.critical_cap[c]
    tier_lo = np.ascontiguousarray(rules.tier_lo[c].T)
    tier_width = np.ascontiguousarray(rules.tier_width[c].T)
    tier_rate = np.ascontiguousarray(rules.tier_rate[c].T)
    has_aid_all = rules.has_aid[c]
    aid_deductible = rules.aid_deductible[c]
    aid_ratio = rules.aid_ratio[c]
    aid_cap = rules.aid_cap[c]
    covers = rules.covers_out_of_scope[c]
    has_min_ratio = rules.has_min_ratio[c]
    min_ratio = rules.min_ratio[c]
    has_personal_cap = rules.has_personal_cap[c]
    personal_cap = rules.personal_cap[c]
    sum_insured = rules.sum_insured[c]

    groups = len(starts)
    ytd = np.zeros((7, groups), np.int64)
    ytd_basic, ytd_base, ytd_critical, ytd_aid, ytd_aid_ded, ytd_supp, ytd_personal = ytd

    m = len(layout)
    basic_out = np.zeros(m, np.int64)
    critical_out = np.zeros(m, np.int64)
    aid_out = np.zeros(m, np.int64)
    supp_out = np.zeros(m, np.int64)
    personal_out = np.zeros(m, np.int64)

    for k in range(vector_ranks):
        i = slice(int(bounds[k]), int(bounds[k + 1]))  # this rank's claims
        g = slice(0, int(active[k]))  # and their groups
        scope = scope_all[i]
        cnt = counted_all[i]

        # §2.1 basic, capped by what is left of the annual cap.
        b = np.minimum(basic_raw_all[i], np.maximum(0, basic_cap[i] - ytd_basic[g]))

        # §2.2 critical on the cumulative base, rounded at the cumulative level, then capped.
        base = scope - b
        before = ytd_base[g]
        cr = _tiers_rounded(tier_lo[:, i], tier_width[:, i], tier_rate[:, i], before + base)
        if k:
            cr -= _tiers_rounded(tier_lo[:, i], tier_width[:, i], tier_rate[:, i], before)
        cr = np.minimum(cr, np.maximum(0, critical_cap[i] - ytd_critical[g]))

        # §2.3 aid with its annual deductible.
        rem = scope - b - cr
        has_aid = has_aid_all[i]
        ded = np.where(has_aid, np.minimum(rem, np.maximum(0, aid_deductible[i] - ytd_aid_ded[g])), 0)
        a = np.minimum(_mul_rate(rem - ded, aid_ratio[i]), np.maximum(0, aid_cap[i] - ytd_aid[g]))
        a = np.where(has_aid, a, 0)

        # §2.4 supplementary: lift to the ratio floor, cap the yearly out-of-pocket.
        paid = b + cr + a
        rest = cnt - paid
        coverable = np.where(covers[i], rest, scope - paid)
        floor_allowed = np.where(has_min_ratio[i], cnt - _mul_rate(cnt, min_ratio[i]), NO_LIMIT)
        cap_allowed = np.where(has_personal_cap[i], personal_cap[i] - ytd_personal[g], NO_LIMIT)
        allowed = np.maximum(0, np.minimum(floor_allowed, cap_allowed))
        room = np.minimum(coverable, np.maximum(0, sum_insured[i] - ytd_supp[g]))
        s = np.where(applies_all[i], np.minimum(np.maximum(rest - allowed, 0), room), 0)

        # §2.5 the person's share; advance the year-to-date sums.
        pers = rest - s
        basic_out[i] = b
        critical_out[i] = cr
        aid_out[i] = a
        supp_out[i] = s
        personal_out[i] = pers
        ytd_basic[g] += b
        ytd_base[g] = before + base
        ytd_critical[g] += cr
        ytd_aid[g] += a
        ytd_aid_ded[g] += ded
        ytd_supp[g] += s
        ytd_personal[g] += pers

    out = np.zeros((5, n), np.int64)
    basic, critical, aid, supp, personal = out
    basic[layout] = basic_out
    critical[layout] = critical_out
    aid[layout] = aid_out
    supp[layout] = supp_out
    personal[layout] = personal_out
    tail_groups = int(active[vector_ranks]) if vector_ranks < longest else 0
    if tail_groups:
        tail = np.concatenate(
            [
                order[s + vector_ranks : s + z]
                for s, z in zip(starts[:tail_groups].tolist(), sizes[:tail_groups].tolist(), strict=True)
            ]
        )
        lengths = sizes[:tail_groups] - vector_ranks
        _settle_tail(
            rules,
            tail=tail,
            lengths=lengths.tolist(),
            ytd=ytd[:, :tail_groups].T.tolist(),
            inputs=(cat, in_scope, counted, basic_raw, supp_applies),
            out=out,
        )
    return BatchResult(
        counted_total=counted,
        hospital_absorbed=absorbed,
        basic=basic,
        critical=critical,
        aid=aid,
        supplementary=supp,
        personal=personal,
    )
