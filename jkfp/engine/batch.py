"""批量结算 Batch settlement: the same arithmetic as ``reference.py``, vectorised over int64 fen.

Exactness (``performance.md``, "How to stay exact while vectorising"; ``docs/adr/0001``):

* amounts are int64 fen, rates int64 parts per million (``RATE_SCALE``);
* ``round(amount × rate)`` is ``(fen × ppm + S/2) // S`` — exact half-up for the non-negative
  values it is applied to; the consistent write-off divides by ``S − ppm`` as an exact rational;
* the cumulative critical-illness function ``F`` is one sum ``Σ rate·segment`` rounded once when
  every person-year's in-scope cost is below ``F_PLAIN_LIMIT`` (no product can then overflow), and
  otherwise splits each tier segment into ``q·S + r``;
* claim amounts are at most ``MAX_CLAIM_AMOUNT_FEN`` (10^10 fen), so every per-claim product stays
  below 10^16.

One formula for every kind of claim. Stays (§2), stays already settled elsewhere (§7) and
outpatient claims (§6) differ only in per-claim parameters computed once before the sequential
part: a stay's basic rate applies to its in-scope cost above the level's deductible, a paid stay's
"basic" is its ``basic_paid`` at a rate of 100 % with no cap, an outpatient claim's basic applies
its block's rate within two caps (all outpatient claims, the disease) after the yearly outpatient
deductible; an outpatient claim has no critical-illness base, no aid deductible and a
supplementary floor of ``personal_share_cap × counted``; a layer that does not apply gets a rate
of 0 or an unlimited allowance. So one vectorised step settles a mixed set of claims without
branches, and the year-to-date sums a claim must not move are advanced by 0.

Year-to-date: claims are sorted by (person, discharge date, claim id) and grouped by (person,
calendar year). Every layer after the write-off depends on the group's earlier claims (caps, the
cumulative critical base, the deductibles, the personal cap that depends on earlier top-ups), so
the claims are settled rank by rank: the first claim of every group at once, then every second
claim, and so on — one vectorised step per rank. Once fewer than ``SCALAR_BELOW`` groups remain
active (the tail of a few long groups, e.g. one person with thousands of claims), each remaining
group is finished by a scalar loop over Python integers with the same arithmetic, so the number
of vectorised steps is bounded by N / SCALAR_BELOW and no step is mostly overhead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
from numpy.typing import NDArray

from jkfp.engine.claims import EPOCH_ORDINAL, NOT_PAID, ClaimTable
from jkfp.engine.policy import RATE_SCALE, Amount, Policy

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

S: Final = RATE_SCALE
HALF: Final = RATE_SCALE // 2
NO_LIMIT: Final = 1 << 62  # "no cap": larger than any sum of amounts, small enough to subtract from
# round(F(x)) as one sum Σ rate·segment needs rate × x < 2^63: x below 9.2·10^12 fen.
F_PLAIN_LIMIT: Final = (1 << 63) // RATE_SCALE - 1
# Ranks where fewer groups than this remain are settled by the scalar loop (see settle_batch).
SCALAR_BELOW: Final = 16
# The per-disease outpatient sums are one array of groups × diseases when that is no larger.
DENSE_PAIRS: Final = 1 << 23
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
    aid_deductible: Int64Array  # 0 without an aid block
    aid_ratio: Int64Array  # 0 without an aid block
    aid_cap: Int64Array  # 0 without an aid block
    has_supp: BoolArray
    supp_referred: BoolArray  # applies_to = in_county_or_referred
    covers_out_of_scope: BoolArray
    has_min_ratio: BoolArray
    min_ratio: Int64Array
    has_personal_cap: BoolArray
    personal_cap: Int64Array
    sum_insured: Int64Array  # NO_LIMIT without a sum insured or a supplementary block
    has_op: BoolArray  # the category has an outpatient block (§6)
    op_deductible: Int64Array
    op_ratio: Int64Array  # (k, 3) ppm
    op_cap: Int64Array
    op_aid_ratio: Int64Array  # 0 unless the block has aid_ratio and the category an aid block
    has_share_cap: BoolArray
    share_cap: Int64Array  # personal_share_cap, ppm


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

    def by_level(values: list[list[int]]) -> Int64Array:
        return np.array(values, dtype=np.int64).reshape(k, 3)

    def flags(values: list[bool]) -> BoolArray:
        return np.array(values, dtype=np.bool_).reshape(k)

    def cap(amount: Amount | None) -> int:
        return NO_LIMIT if amount is None else amount.fen

    supp = [r.supplementary for r in rules]
    ops = [r.outpatient for r in rules]
    return _Rules(
        deductible=by_level([[d.fen for d in r.basic.deductible] for r in rules]),
        ratio=by_level([[x.ppm for x in r.basic.ratio] for r in rules]),
        basic_cap=arr([cap(r.basic.annual_cap) for r in rules]),
        tier_lo=lo,
        tier_width=width,
        tier_rate=rate,
        critical_cap=arr([cap(r.critical.annual_cap) for r in rules]),
        aid_deductible=arr([r.aid.deductible.fen if r.aid else 0 for r in rules]),
        aid_ratio=arr([r.aid.ratio.ppm if r.aid else 0 for r in rules]),
        aid_cap=arr([cap(r.aid.annual_cap) if r.aid else 0 for r in rules]),
        has_supp=flags([s is not None for s in supp]),
        supp_referred=flags([s is not None and s.applies_to == "in_county_or_referred" for s in supp]),
        covers_out_of_scope=flags([s is not None and s.covers_out_of_scope for s in supp]),
        has_min_ratio=flags([s is not None and s.min_ratio is not None for s in supp]),
        min_ratio=arr([s.min_ratio.ppm if s and s.min_ratio else 0 for s in supp]),
        has_personal_cap=flags([s is not None and s.annual_personal_cap is not None for s in supp]),
        personal_cap=arr([s.annual_personal_cap.fen if s and s.annual_personal_cap else 0 for s in supp]),
        sum_insured=arr([cap(s.sum_insured) if s else NO_LIMIT for s in supp]),
        has_op=flags([o is not None for o in ops]),
        op_deductible=arr([o.deductible.fen if o else 0 for o in ops]),
        op_ratio=by_level([[x.ppm for x in o.ratio] if o else [0, 0, 0] for o in ops]),
        op_cap=arr([cap(o.annual_cap) if o else 0 for o in ops]),
        op_aid_ratio=arr(
            [
                o.aid_ratio.ppm if o and o.aid_ratio is not None and r.aid else 0
                for o, r in zip(ops, rules, strict=True)
            ]
        ),
        has_share_cap=flags([o is not None and o.personal_share_cap is not None for o in ops]),
        share_cap=arr([o.personal_share_cap.ppm if o and o.personal_share_cap else 0 for o in ops]),
    )


def _mul_rate(amount: Int64Array, ppm: Int64Array | int) -> Int64Array:
    """round(amount × rate) half-up, for amount ≥ 0 below 10^12 fen (no int64 overflow)."""
    out: Int64Array = (amount * ppm + HALF) // S
    return out


def _tiers_rounded(lo: Int64Array, width: Int64Array, rate: Int64Array, x: Int64Array) -> Int64Array:
    """round(F(x)) in fen: F(x) = Σ rate × max(0, min(x, hi) − lo), rounded at the cumulative level.

    ``lo``, ``width`` (hi − lo) and ``rate`` are (tiers, claims). Each segment is split as q·S + r
    so that rate × segment never overflows: Σ rate·seg / S = Σ rate·q + (Σ rate·r) / S, and only
    the second part needs rounding.
    """
    whole = np.zeros(len(x), dtype=np.int64)
    part = np.zeros(len(x), dtype=np.int64)
    for j in range(lo.shape[0]):
        segment = np.minimum(np.maximum(x - lo[j], 0), width[j])
        q = segment // S
        whole += rate[j] * q
        part += rate[j] * (segment - q * S)
    out: Int64Array = whole + (part + HALF) // S
    return out


def _tiers_rounded_plain(lo: Int64Array, width: Int64Array, rate: Int64Array, x: Int64Array) -> Int64Array:
    """round(F(x)) in fen as one sum, for 0 ≤ x ≤ F_PLAIN_LIMIT (Σ rate·segment ≤ S·x < 2^63)."""
    total = np.zeros(len(x), dtype=np.int64)
    for j in range(lo.shape[0]):
        segment = np.minimum(np.maximum(x - lo[j], 0), width[j])
        segment *= rate[j]
        total += segment
    total += HALF
    total //= S
    return total


def _settlement_order(table: ClaimTable) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Row indices sorted by (person, discharge day, claim id, row index), and the person and day in
    that order."""
    person = table.person
    day = table.discharge_day
    n = len(person)
    span = int(day.max()) - int(day.min()) + 1 if n else 1
    if n and int(person.min()) >= 0 and int(person.max()) < (1 << 62) // span:
        # One integer key sorts faster than lexsort on two; ties are put in claim-id order below.
        first = int(day.min())
        key = person * span + (day - first)
        if int(key.max()) < (1 << 32):
            # Two stable 16-bit passes (numpy radix-sorts 16-bit keys): about twice as fast.
            low = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
            high = np.argsort((key[low] >> 16).astype(np.uint16), kind="stable")
            order = low[high].astype(np.int64)
        else:
            order = np.argsort(key, kind="stable").astype(np.int64)
        key = key[order]  # one gather gives both sorted columns
        p = key // span
        d = key - p * span + first
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
            # The row index last: one id at two institutions (ids are unique per institution)
            # keeps table order, the caller's primary-key order (``year.settlement_order``).
            order[start : end + 1] = sorted(order[start : end + 1].tolist(), key=lambda i: (ids[i], i))
    return order, p, d


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


@dataclass(frozen=True, eq=False)
class _Params:
    """Every claim's inputs to the sequential part, in one row order (the module docstring: one
    formula for stays, paid stays and outpatient claims)."""

    category: Int64Array
    in_scope: Int64Array
    counted: Int64Array
    basic_base: Int64Array  # what the basic rate applies to (before the outpatient deductible)
    basic_rate: Int64Array  # ppm; S for a paid stay
    basic_cap: Int64Array  # the yearly cap of the basic sum the claim counts in (stays' or §6's)
    op_deductible: Int64Array  # the yearly outpatient deductible; 0 for a stay
    disease_cap: Int64Array  # the disease's yearly cap; NO_LIMIT for a stay
    pair: Int64Array  # outpatient: its (person-year, disease) sum; a stay: the spare slot
    outpatient: BoolArray
    stay: Int64Array  # 1 for a stay, 0 for an outpatient claim: multiplies what only stays count
    paid: BoolArray  # a stay settled elsewhere (§7)
    critical_paid: Int64Array
    critical_cap: Int64Array
    aid_deductible: Int64Array  # 0 for an outpatient claim or without an aid block
    aid_ratio: Int64Array  # an outpatient claim: its block's aid_ratio (0 without)
    aid_cap: Int64Array
    uncovered: Int64Array  # what the supplementary layer may not cover: counted − in_scope, or 0
    floor_allowed: Int64Array  # the personal share the floor allows; NO_LIMIT: no top-up
    personal_cap: Int64Array  # the yearly personal cap; NO_LIMIT: none
    sum_insured: Int64Array


def _params(
    policy: Policy,
    rules: _Rules,
    table: ClaimTable,
    rows: Int64Array,
    *,
    disease: Int64Array,
    disease_caps: Int64Array,
    pair: Int64Array,
) -> tuple[_Params, Int64Array]:
    """The parameters of the claims ``rows`` (in that order), and their hospital_absorbed;
    ``disease`` each row's disease code, ``disease_caps`` by disease code of the table, ``pair``
    each row's per-disease slot.

    The rows are a random permutation of the table, so every gather is a cache miss per claim:
    category, level and the two flags travel as one packed integer, and the §6/§7 columns only
    when the table has such claims.
    """
    m = len(rows)
    packed = table.category.astype(np.int64) * 3 + (table.level.astype(np.int64) - 1)
    packed = packed * 4 + table.in_county.astype(np.int64) * 2 + table.referred.astype(np.int64)
    packed = packed[rows]
    referred = (packed & 1).astype(np.bool_)
    in_county = (packed & 2).astype(np.bool_)
    cat_level = packed >> 2  # category × 3 + level − 1: the index into the (k, 3) tables
    cat = cat_level // 3
    lvl = cat_level - 3 * cat
    total = table.total_fen.astype(np.int64, copy=False)[rows]
    oos = table.out_of_scope_fen.astype(np.int64, copy=False)[rows]
    outpatient = np.zeros(m, dtype=np.bool_)
    if table.outpatient is not None and bool(table.outpatient.any()):
        outpatient = table.outpatient.astype(np.bool_, copy=False)[rows]
    any_op = bool(outpatient.any())
    basic_paid = critical_paid = np.full(m, NOT_PAID, dtype=np.int64)
    if table.basic_paid_fen is not None and bool((table.basic_paid_fen != NOT_PAID).any()):
        basic_paid, critical_paid = (a[rows] for a in table.paid_fen())
    paid = basic_paid != NOT_PAID
    any_paid = bool(paid.any())

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

    # §2.1 basic (§6: the outpatient block's rate and cap; §7: what was paid, at 100 %, uncapped).
    rate = rules.ratio.ravel()[cat_level]
    basic_base = np.maximum(0, in_scope - rules.deductible.ravel()[cat_level])
    basic_cap = rules.basic_cap[cat]
    if any_op:
        rate = np.where(outpatient, rules.op_ratio.ravel()[cat_level], rate)
        basic_base = np.where(outpatient, in_scope, basic_base)
        basic_cap = np.where(outpatient, rules.op_cap[cat], basic_cap)
    unreferred = ~in_county & ~referred
    rate = np.where(unreferred, np.maximum(0, rate - policy.unreferred_ratio_cut.ppm), rate)
    if any_paid:
        rate = np.where(paid, S, rate)
        basic_base = np.where(paid, basic_paid, basic_base)
        basic_cap = np.where(paid, NO_LIMIT, basic_cap)

    # §2.3 aid (§6: the block's aid_ratio, no deductible).
    aid_deductible = rules.aid_deductible[cat]
    aid_ratio = rules.aid_ratio[cat]
    if any_op:
        aid_deductible = np.where(outpatient, 0, aid_deductible)
        aid_ratio = np.where(outpatient, rules.op_aid_ratio[cat], aid_ratio)

    # §2.4 supplementary: what the person may keep paying (§6: personal_share_cap × counted).
    supp_applies = rules.has_supp[cat] & (in_county | (rules.supp_referred[cat] & referred))
    if any_op:
        supp_applies &= ~outpatient
    floor_allowed = np.where(
        supp_applies & rules.has_min_ratio[cat], counted - _mul_rate(counted, rules.min_ratio[cat]), NO_LIMIT
    )
    if any_op:
        share_cap = outpatient & rules.has_share_cap[cat]
        floor_allowed = np.where(share_cap, _mul_rate(counted, rules.share_cap[cat]), floor_allowed)
    personal_cap = np.where(supp_applies & rules.has_personal_cap[cat], rules.personal_cap[cat], NO_LIMIT)
    uncovered = np.where(supp_applies & ~rules.covers_out_of_scope[cat], counted - in_scope, 0)

    if any_op:
        op_deductible = np.where(outpatient, rules.op_deductible[cat], 0)
        disease_cap = np.where(outpatient, disease_caps[disease], NO_LIMIT)
    else:
        op_deductible = np.zeros(m, dtype=np.int64)
        disease_cap = np.full(m, NO_LIMIT, dtype=np.int64)
    params = _Params(
        category=cat,
        in_scope=in_scope,
        counted=counted,
        basic_base=basic_base,
        basic_rate=rate,
        basic_cap=basic_cap,
        op_deductible=op_deductible,
        disease_cap=disease_cap,
        pair=pair,
        outpatient=outpatient,
        stay=(~outpatient).astype(np.int64),
        paid=paid,
        critical_paid=np.where(paid, critical_paid, 0) if any_paid else np.zeros(m, dtype=np.int64),
        critical_cap=rules.critical_cap[cat],
        aid_deductible=aid_deductible,
        aid_ratio=aid_ratio,
        aid_cap=rules.aid_cap[cat],
        uncovered=uncovered,
        floor_allowed=floor_allowed,
        personal_cap=personal_cap,
        sum_insured=rules.sum_insured[cat],
    )
    return params, absorbed


def _check_claims(policy: Policy, rules: _Rules, table: ClaimTable) -> Int64Array:
    """Refuse what a validated claims file cannot hold (§6, §7); the yearly cap of every disease
    code of the table (NO_LIMIT for a name the policy does not list, which no claim then uses)."""
    n = len(table)
    level = table.level
    if n and (int(level.min()) < 1 or int(level.max()) > 3):
        raise ValueError("level must be 1, 2 or 3")
    outpatient = table.outpatient_mask()
    disease = table.disease_codes()
    names = table.disease_names
    caps = np.full(len(names) + 1, NO_LIMIT, dtype=np.int64)  # the last: code −1
    listed = np.zeros(len(names) + 1, dtype=np.bool_)
    for code, name in enumerate(names):
        try:
            caps[code] = policy.disease(name).annual_cap.fen
            listed[code] = True
        except KeyError:
            pass
    if bool(outpatient.any()):
        cat = table.category.astype(np.int64)
        no_block = outpatient & ~rules.has_op[cat]
        if bool(no_block.any()):
            name = table.category_names[int(cat[int(np.flatnonzero(no_block)[0])])]
            raise ValueError(f"category {name!r} has no outpatient block in policy {policy.name!r}")
        unknown = outpatient & ~listed[disease]
        if bool(unknown.any()):
            code = int(disease[int(np.flatnonzero(unknown)[0])])
            what = repr(names[code]) if code >= 0 else "(none)"
            raise ValueError(f"disease {what} is not in the outpatient_diseases of policy {policy.name!r}")
    basic_paid, critical_paid = table.paid_fen()
    given_b = basic_paid != NOT_PAID
    given_c = critical_paid != NOT_PAID
    if bool((given_b != given_c).any()):
        raise ValueError("basic_paid and critical_paid go together")
    if bool(given_b.any()):
        in_scope = table.total_fen.astype(np.int64) - table.out_of_scope_fen.astype(np.int64)
        if bool((given_b & outpatient).any()):
            raise ValueError("an outpatient claim has no basic_paid / critical_paid")
        if bool((given_b & ((basic_paid < 0) | (critical_paid < 0))).any()):
            raise ValueError("basic_paid and critical_paid must not be negative")
        if bool((given_b & (basic_paid + critical_paid > in_scope)).any()):
            raise ValueError("basic_paid + critical_paid exceed the in-scope cost")
    return caps


def _settle_tail(
    rules: _Rules,
    p: _Params,
    *,
    lengths: list[int],
    state: list[list[int]],
    op_basic_by_pair: Int64Array,
) -> list[tuple[int, int, int, int, int]]:
    """Settle the remaining claims of a few long groups one by one, with Python integers.

    ``p`` holds, group after group, the parameters of each group's remaining claims in settlement
    order (``lengths[g]`` of them); ``state[g]`` is the group's year-to-date after its vectorised
    ranks: (basic, outpatient basic, outpatient deductible used, critical base, critical, aid, aid
    deductible used, supplementary, personal); ``op_basic_by_pair`` the per-disease sums. The
    arithmetic is the vectorised step's, term for term (Python integers do not overflow, so
    ``round(F(x))`` needs no q·S + r split: the sum is the same integer). Returns (basic,
    critical, aid, supplementary, personal) per claim.
    """
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

    cols = {name: getattr(p, name).tolist() for name in p.__dataclass_fields__}
    cat, scope_l, counted_l = cols["category"], cols["in_scope"], cols["counted"]
    base_l, rate_l, cap_l = cols["basic_base"], cols["basic_rate"], cols["basic_cap"]
    op_ded_l, dcap_l, pair_l, stay_l = cols["op_deductible"], cols["disease_cap"], cols["pair"], cols["stay"]
    paid_l, cpaid_l, ccap_l = cols["paid"], cols["critical_paid"], cols["critical_cap"]
    aded_l, aratio_l, acap_l = cols["aid_deductible"], cols["aid_ratio"], cols["aid_cap"]
    uncovered_l, floor_l, pcap_l, si_l = (
        cols["uncovered"],
        cols["floor_allowed"],
        cols["personal_cap"],
        cols["sum_insured"],
    )
    by_pair: dict[int, int] = {}
    results: list[tuple[int, int, int, int, int]] = []
    pos = 0
    for length, ytd in zip(lengths, state, strict=True):
        y_basic, y_op_basic, y_op_ded, y_base, y_critical, y_aid, y_aid_ded, y_supp, y_personal = ytd
        for x in range(pos, pos + length):
            j = cat[x]
            scope = scope_l[x]
            stay = stay_l[x]
            op_ded = min(scope, max(0, op_ded_l[x] - y_op_ded))
            raw = ((base_l[x] - op_ded) * rate_l[x] + HALF) // S
            used = y_basic if stay else y_op_basic
            b = min(raw, max(0, cap_l[x] - used))
            pair = pair_l[x]
            pair_used = by_pair.get(pair)
            if pair_used is None:
                pair_used = int(op_basic_by_pair[pair])
            b = min(b, max(0, dcap_l[x] - pair_used))
            base = (scope - b) * stay
            if paid_l[x]:
                cr = cpaid_l[x]
            else:
                cr = cumulative(j, y_base + base) - cumulative(j, y_base)
                cr = min(cr, max(0, ccap_l[x] - y_critical))
            rem = scope - b - cr
            ded = min(rem, max(0, aded_l[x] - y_aid_ded))
            a = min(((rem - ded) * aratio_l[x] + HALF) // S, max(0, acap_l[x] - y_aid))
            rest = counted_l[x] - b - cr - a
            allowed = max(0, min(floor_l[x], pcap_l[x] - y_personal))
            room = min(rest - uncovered_l[x], max(0, si_l[x] - y_supp))
            s = min(max(rest - allowed, 0), room)
            pers = rest - s
            results.append((b, cr, a, s, pers))
            if stay:
                y_basic += b
                y_personal += pers
            else:
                y_op_basic += b
                by_pair[pair] = pair_used + b
            y_op_ded += op_ded
            y_base += base
            y_critical += cr
            y_aid += a
            y_aid_ded += ded
            y_supp += s
        pos += length
    return results


def settle_batch(policy: Policy, table: ClaimTable, *, scalar_below: int = SCALAR_BELOW) -> BatchResult:
    """批量结算 Settle every claim of ``table`` under ``policy``; amounts in fen in table order.

    Equal to ``reference.settle_claims`` on the same claims, to the fen (a person's two claims of one
    day with one claim id, at two institutions, settle in table order as ``settle_in_order`` keeps
    them: the callers pass claims in primary-key order). Amounts within
    ``claims.MAX_CLAIM_AMOUNT_FEN``; every category must be the policy's, every outpatient claim's
    category must have an ``outpatient`` block and its disease be listed, paid amounts (§7) come
    in pairs on stays within the in-scope cost — a ``ValueError`` otherwise.

    ``scalar_below``: ranks where fewer groups than this remain are settled by the scalar loop
    (0 — every rank vectorised; a huge value — every claim by the scalar loop). Same results.
    """
    n = len(table)
    rules = _rules(policy, table.category_names)
    disease_caps = _check_claims(policy, rules, table)

    # Groups (person, calendar year), largest first; the claims laid out rank by rank: all first
    # claims (group 0, 1, …), then all second claims of the groups that have one, and so on. The
    # groups still active at rank k are then exactly 0 … m_k − 1, so every step works on slices.
    # Ranks where fewer than ``scalar_below`` groups remain (the tail of a few long groups) are
    # settled group by group with Python integers instead (``_settle_tail``): one vectorised
    # step costs tens of microseconds whatever its width.
    order, person_sorted, day_sorted = _settlement_order(table)
    year_sorted = _years(day_sorted)
    new_group = np.ones(n, dtype=np.bool_)
    if n:
        new_group[1:] = (person_sorted[1:] != person_sorted[:-1]) | (year_sorted[1:] != year_sorted[:-1])
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    by_size = np.argsort(-sizes, kind="stable")
    starts = starts[by_size]
    sizes = sizes[by_size]
    groups = len(starts)
    longest = int(sizes[0]) if n else 0
    active = np.searchsorted(-sizes, -np.arange(longest), side="left")  # groups with size > k
    vector_ranks = int(np.count_nonzero(active >= max(1, scalar_below)))  # a prefix: active falls
    active_v = active[:vector_ranks]
    bounds = np.concatenate(([0], np.cumsum(active_v))).astype(np.int64)
    m = int(bounds[-1])
    tail_groups = int(active[vector_ranks]) if vector_ranks < longest else 0
    tail_lengths = sizes[:tail_groups] - vector_ranks

    # Every claim in settling order: the vectorised ranks (positions 0 … m − 1), then the rest of
    # the tail groups, group after group; ``gid`` is the group of each position.
    pieces = [starts[:a] + k for k, a in enumerate(active_v.tolist())]
    pieces += [
        np.arange(s + vector_ranks, s + z, dtype=np.int64)
        for s, z in zip(starts[:tail_groups].tolist(), sizes[:tail_groups].tolist(), strict=True)
    ]
    seq = order[np.concatenate(pieces)] if pieces else np.zeros(0, np.int64)
    gid = np.concatenate(
        (
            np.arange(m, dtype=np.int64) - np.repeat(bounds[:-1], active_v),
            np.repeat(np.arange(tail_groups, dtype=np.int64), tail_lengths),
        )
    )
    # The per-disease outpatient sums: one slot per (group, disease), and a spare slot (always 0)
    # that every stay reads and writes.
    any_op = table.outpatient is not None and bool(table.outpatient.any())
    outpatient = table.outpatient_mask()[seq] if any_op else np.zeros(n, dtype=np.bool_)
    disease = table.disease_codes()[seq] if any_op else np.zeros(n, dtype=np.int64)
    diseases = max(1, len(table.disease_names))
    if any_op and groups * diseases < DENSE_PAIRS:
        spare = groups * diseases
        pair = np.where(outpatient, gid * diseases + np.maximum(disease, 0), spare)
    elif any_op:
        unique, inverse = np.unique(gid[outpatient] * diseases + disease[outpatient], return_inverse=True)
        spare = len(unique)
        pair = np.full(n, spare, dtype=np.int64)
        pair[outpatient] = inverse.reshape(-1)
    else:
        spare = 0
        pair = np.zeros(n, dtype=np.int64)
    op_basic_by_pair = np.zeros(spare + 1, dtype=np.int64)
    p, absorbed = _params(policy, rules, table, seq, disease=disease, disease_caps=disease_caps, pair=pair)
    any_op_ded = bool(p.op_deductible.any())
    any_paid = bool(p.paid.any())

    c = p.category[:m]
    tier_lo = np.stack([rules.tier_lo[:, j][c] for j in range(rules.tier_lo.shape[1])])
    tier_width = np.stack([rules.tier_width[:, j][c] for j in range(rules.tier_lo.shape[1])])
    tier_rate = np.stack([rules.tier_rate[:, j][c] for j in range(rules.tier_lo.shape[1])])
    raw_basic = None if any_op_ded else _mul_rate(p.basic_base[:m], p.basic_rate[:m])

    ytd = np.zeros((9, groups), np.int64)
    y_basic, y_op_basic, y_op_ded, y_base, y_critical, y_aid, y_aid_ded, y_supp, y_personal = ytd
    y_f = np.zeros(groups, np.int64)  # round(F(y_base)) under the tiers of ``last_cat``
    last_cat = np.zeros(groups, np.int64)
    out = np.zeros((5, n), np.int64)  # basic, critical, aid, supplementary, personal, by position
    out_basic, out_critical, out_aid, out_supp, out_personal = out

    for k in range(vector_ranks):
        i = slice(int(bounds[k]), int(bounds[k + 1]))  # this rank's claims
        g = slice(0, int(active[k]))  # and their groups
        scope = p.in_scope[i]

        # §2.1 / §6 basic, within the yearly cap of its kind (and, §6, the disease's).
        if raw_basic is None:
            op_ded = np.minimum(scope, np.maximum(0, p.op_deductible[i] - y_op_ded[g]))
            b = _mul_rate(p.basic_base[i] - op_ded, p.basic_rate[i])
        else:
            b = raw_basic[i]
        used = np.where(p.outpatient[i], y_op_basic[g], y_basic[g]) if any_op else y_basic[g]
        b = np.minimum(b, np.maximum(0, p.basic_cap[i] - used))
        if any_op:
            pairs = p.pair[i]
            pair_used = op_basic_by_pair[pairs]
            b = np.minimum(b, np.maximum(0, p.disease_cap[i] - pair_used))

        # §2.2 critical on the cumulative base, rounded at the cumulative level, then capped; an
        # outpatient claim adds nothing to the base, so F does not move.
        base = scope - b
        if any_op:
            base *= p.stay[i]
        before = y_base[g]
        after = before + base
        # One rounded sum Σ rate·segment while no product can overflow (after ≥ before ≥ 0).
        tiers_value = _tiers_rounded_plain if int(after.max()) <= F_PLAIN_LIMIT else _tiers_rounded
        f_after = tiers_value(tier_lo[:, i], tier_width[:, i], tier_rate[:, i], after)
        f_before = y_f[g]
        cats = c[i]
        if k:
            changed = np.flatnonzero(last_cat[g] != cats)
            if len(changed):  # a new category this year: F(before) under the new tiers
                f_before[changed] = tiers_value(
                    tier_lo[:, i][:, changed],
                    tier_width[:, i][:, changed],
                    tier_rate[:, i][:, changed],
                    before[changed],
                )
        cr = np.minimum(f_after - f_before, np.maximum(0, p.critical_cap[i] - y_critical[g]))
        if any_paid:
            cr = np.where(p.paid[i], p.critical_paid[i], cr)

        # §2.3 aid with its yearly deductible (§6: none, the block's aid_ratio).
        rem = scope - b - cr
        ded = np.minimum(rem, np.maximum(0, p.aid_deductible[i] - y_aid_ded[g]))
        a = np.minimum(_mul_rate(rem - ded, p.aid_ratio[i]), np.maximum(0, p.aid_cap[i] - y_aid[g]))

        # §2.4 supplementary: lift to the ratio floor, cap the yearly out-of-pocket (§6: keep the
        # share within personal_share_cap).
        rest = p.counted[i] - b - cr - a
        allowed = np.maximum(0, np.minimum(p.floor_allowed[i], p.personal_cap[i] - y_personal[g]))
        room = np.minimum(rest - p.uncovered[i], np.maximum(0, p.sum_insured[i] - y_supp[g]))
        s = np.minimum(np.maximum(rest - allowed, 0), room)

        # §2.5 the person's share; advance the year-to-date sums (outpatient claims move only
        # their own sums and the shared aid and supplementary ones).
        pers = rest - s
        out_basic[i] = b
        out_critical[i] = cr
        out_aid[i] = a
        out_supp[i] = s
        out_personal[i] = pers
        if any_op:
            stay = p.stay[i]
            y_basic[g] += b * stay
            y_personal[g] += pers * stay
            op_b = b - b * stay
            y_op_basic[g] += op_b
            op_basic_by_pair[pairs] = pair_used + op_b
        else:
            y_basic[g] += b
            y_personal[g] += pers
        if raw_basic is None:
            y_op_ded[g] += op_ded
        y_base[g] = after
        y_f[g] = f_after
        last_cat[g] = cats
        y_critical[g] += cr
        y_aid[g] += a
        y_aid_ded[g] += ded
        y_supp[g] += s

    if tail_groups:
        rest_of = slice(m, n)
        tail = _settle_tail(
            rules,
            _Params(**{name: getattr(p, name)[rest_of] for name in p.__dataclass_fields__}),
            lengths=tail_lengths.tolist(),
            state=ytd[:, :tail_groups].T.tolist(),
            op_basic_by_pair=op_basic_by_pair,
        )
        out[:, m:] = np.array(tail, dtype=np.int64).reshape(n - m, 5).T

    result = np.empty((7, n), np.int64)
    result[0, seq] = p.counted
    result[1, seq] = absorbed
    for row in range(5):  # one row at a time: a 2-d scatter is several times slower
        result[2 + row, seq] = out[row]
    counted_total, hospital_absorbed, basic, critical, aid, supp, personal = result
    return BatchResult(
        counted_total=counted_total,
        hospital_absorbed=hospital_absorbed,
        basic=basic,
        critical=critical,
        aid=aid,
        supplementary=supp,
        personal=personal,
    )
