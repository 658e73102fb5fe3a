"""逐笔结算 Reference settlement: one claim at a time, in Decimal, with a readable trace (计算过程).

This module is the executable specification of ``settlement.md`` §2 (stays), §6 (outpatient
special chronic disease claims) and §7 (stays already settled by the insurance platform): it
follows the text line by line and favours clarity over speed. ``batch.py`` must equal it to the fen, which the property
tests check on random claims and random policies.

Two readings of the contract (see ``docs/adr/0001-settlement-engine.md``):

* "what is left of an annual cap" (``annual_cap − basic_ytd`` and the like) is taken as
  ``max(0, …)``. The two differ only when a person's category changes within a year to one with a
  lower cap; without the floor a layer would pay a negative amount, which §2.5 forbids.
* every exact value is rounded half-up (away from zero at a tie) to 0.01 yuan only where §2 says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from typing import Final

from jkfp.engine.claims import Claim, decimal_to_fen, fen_to_decimal
from jkfp.engine.policy import Amount, CategoryRule, OutpatientRule, Policy, SupplementaryRule, Tier

ZERO: Final = Decimal("0.00")
CENT: Final = Decimal("0.01")
# Additions, subtractions and products of amounts (2 decimals) and rates (6 decimals) are exact
# at this precision; trapping Inexact proves it on every run.
_EXACT: Final = Context(
    prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact]
)
_ROUNDING: Final = Context(
    prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)
LEVEL_NAMES: Final = {1: "一级", 2: "二级", 3: "三级"}


def round_cent(value: Decimal) -> Decimal:
    """四舍五入到分 Round an exact value half-up to 0.01 yuan."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_ROUNDING)


def round_fraction_cent(value: Fraction) -> Decimal:
    """Round an exact rational number of yuan half-up (away from zero at a tie) to 0.01 yuan."""
    scaled = abs(value) * 100
    cents = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(-cents if value < 0 else cents).scaleb(-2)


def _show(value: Decimal) -> str:
    """An amount for the trace: two decimals, or every decimal when the exact value has more."""
    if value == value.quantize(CENT, context=_ROUNDING):
        return f"{value:.2f}"
    return f"{value.normalize():f}"


def _rounded(exact: Decimal, rounded: Decimal) -> str:
    """``exact`` (and ``→ rounded`` when rounding changed it) for the trace."""
    if exact == rounded:
        return f"{rounded:.2f}"
    return f"{_show(exact)} → {rounded:.2f}"


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


STAY_SUMS: Final = (
    "basic",
    "critical_base",
    "critical",
    "aid",
    "aid_deductible_used",
    "supplementary",
    "personal",
)


@dataclass(frozen=True, slots=True)
class YearToDate:
    """年度累计 Year-to-date sums of one person in one calendar year (``settlement.md`` §2, §6).

    The first seven are §2's (``STAY_SUMS``); stays and outpatient claims share ``aid`` and
    ``supplementary``, while ``basic``, ``critical_base``, ``critical``, ``aid_deductible_used``
    and ``personal`` count stays only. The ``op_*`` sums are §6's and count outpatient claims only:
    the outpatient deductible used, the outpatient basic insurance paid, and the same per disease
    (``op_basic_by_disease``: (disease, amount) pairs sorted by disease).
    """

    basic: Decimal = ZERO
    critical_base: Decimal = ZERO
    critical: Decimal = ZERO
    aid: Decimal = ZERO
    aid_deductible_used: Decimal = ZERO
    supplementary: Decimal = ZERO
    personal: Decimal = ZERO
    op_deductible_used: Decimal = ZERO
    op_basic: Decimal = ZERO
    op_basic_by_disease: tuple[tuple[str, Decimal], ...] = ()

    def op_basic_for(self, disease: str) -> Decimal:
        """Outpatient basic insurance paid this year for ``disease``."""
        return next((amount for name, amount in self.op_basic_by_disease if name == disease), ZERO)

    def describe(self) -> str:
        """One line in Chinese (the outpatient sums only once there are some)."""
        text = (
            f"基本医保 {self.basic:.2f}，大病保险累计基数 {self.critical_base:.2f}，"
            f"大病保险 {self.critical:.2f}，医疗救助 {self.aid:.2f}，救助起付线已用 {self.aid_deductible_used:.2f}，"
            f"补充保险 {self.supplementary:.2f}，个人负担 {self.personal:.2f}"
        )
        if self.op_deductible_used or self.op_basic or self.op_basic_by_disease:
            per_disease = "、".join(f"{name} {amount:.2f}" for name, amount in self.op_basic_by_disease)
            text += (
                f"；门诊慢特病：起付线已用 {self.op_deductible_used:.2f}，基本医保 {self.op_basic:.2f}"
                + (f"（{per_disease}）" if per_disease else "")
            )
        return text

    @classmethod
    def of_stay_sums(cls, values: Sequence[Decimal]) -> YearToDate:
        """§2's seven sums (``STAY_SUMS`` order) with no outpatient sums (a stored ledger of stays)."""
        basic, critical_base, critical, aid, aid_deductible_used, supplementary, personal = values
        return cls(
            basic=basic,
            critical_base=critical_base,
            critical=critical,
            aid=aid,
            aid_deductible_used=aid_deductible_used,
            supplementary=supplementary,
            personal=personal,
        )

    def as_fen(self) -> tuple[int, ...]:
        """§2's seven sums (``STAY_SUMS``) in fen, in that order."""
        return tuple(decimal_to_fen(getattr(self, name)) for name in STAY_SUMS)

    def outpatient_fen(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        """§6's sums in fen: (deductible used, basic, basic per disease)."""
        return (
            decimal_to_fen(self.op_deductible_used),
            decimal_to_fen(self.op_basic),
            tuple((name, decimal_to_fen(amount)) for name, amount in self.op_basic_by_disease),
        )

    def with_outpatient_fen(self, sums: tuple[int, int, tuple[tuple[str, int], ...]]) -> YearToDate:
        """The same sums with §6's replaced by ``sums`` (``outpatient_fen``'s shape, in fen): a stored
        ledger row's outpatient sums on top of its seven."""
        deductible_used, basic, by_disease = sums
        return replace(
            self,
            op_deductible_used=fen_to_decimal(deductible_used),
            op_basic=fen_to_decimal(basic),
            op_basic_by_disease=tuple(sorted((name, fen_to_decimal(fen)) for name, fen in by_disease)),
        )


@dataclass(frozen=True, slots=True)
class ClaimSettlement:
    """结算结果 The settlement of one claim: what each party pays, the year-to-date before and after,
    and the trace of every step."""

    claim_id: str
    counted_total: Decimal
    hospital_absorbed: Decimal
    basic: Decimal
    critical: Decimal
    aid: Decimal
    supplementary: Decimal
    personal: Decimal
    ytd_before: YearToDate
    ytd_after: YearToDate
    trace: tuple[str, ...] = ()

    @property
    def amounts(self) -> tuple[Decimal, ...]:
        """The seven output amounts in the order of the output file."""
        return (
            self.counted_total,
            self.hospital_absorbed,
            self.basic,
            self.critical,
            self.aid,
            self.supplementary,
            self.personal,
        )

    @property
    def amounts_fen(self) -> tuple[int, ...]:
        return tuple(decimal_to_fen(a) for a in self.amounts)

    @property
    def reimbursement_ratio(self) -> Decimal | None:
        """实际报销比例 (basic + critical + aid + supplementary) / counted_total; None when nothing counted."""
        if self.counted_total == 0:
            return None
        paid = self.basic + self.critical + self.aid + self.supplementary
        return paid / self.counted_total


def _cap_left(cap: Amount | None, used: Decimal) -> Decimal | None:
    """What is left of an annual cap (None: no cap), never below zero."""
    if cap is None:
        return None
    return max(ZERO, cap.yuan - used)


def _tiers_value(tiers: tuple[Tier, ...], x: Decimal) -> Decimal:
    """F(x) = Σ rate × max(0, min(x, hi) − lo), exact (settlement.md §2.2)."""
    total = Decimal(0)
    for tier in tiers:
        top = x if tier.hi is None else min(x, tier.hi.yuan)
        if top > tier.lo.yuan:
            total += tier.rate.decimal * (top - tier.lo.yuan)
    return total


def _describe_f(tiers: tuple[Tier, ...], x: Decimal) -> str:
    """F(x) with its terms, for the trace."""
    terms = []
    for tier in tiers:
        top = x if tier.hi is None else min(x, tier.hi.yuan)
        if top > tier.lo.yuan:
            terms.append(f"{tier.rate.percent()} × ({top:.2f} − {tier.lo.yuan:.2f})")
    if not terms:
        return f"F({x:.2f}) = 0.00（未达起付线 {tiers[0].lo.yuan:.2f}）"
    exact = _tiers_value(tiers, x)
    return f"F({x:.2f}) = {' + '.join(terms)} = {_rounded(exact, round_cent(exact))}"


def settle_claim(
    policy: Policy, claim: Claim, ytd: YearToDate | None = None, *, trace: bool = True
) -> ClaimSettlement:
    """结算一笔 Settle one claim on top of the person's year-to-date ``ytd`` (``settlement.md`` §2;
    §6 for an outpatient claim, §7 for a stay with paid amounts).

    ``ytd`` must be the sums of the same person and calendar year over the claims that come
    before this one in (discharge_date, claim_id) order. The returned ``ytd_after`` is the state
    for the next claim.
    """
    try:
        rule = policy.category(claim.category)
    except KeyError:
        raise ValueError(f"category {claim.category!r} is not defined by policy {policy.name!r}") from None
    before = ytd or YearToDate()
    if claim.outpatient:
        if rule.outpatient is None:
            raise ValueError(f"category {claim.category!r} has no outpatient block in policy {policy.name!r}")
        try:
            disease_cap = policy.disease(claim.disease).annual_cap
        except KeyError:
            raise ValueError(
                f"disease {claim.disease!r} is not in the outpatient_diseases of policy {policy.name!r}"
            ) from None
        with localcontext(_EXACT):
            return _settle_outpatient(policy, rule, rule.outpatient, disease_cap, claim, before, trace)
    with localcontext(_EXACT):
        return _settle(policy, rule, claim, before, trace)


def _write_off(policy: Policy, claim: Claim, say: Callable[[str], None] | None) -> tuple[Decimal, Decimal]:
    """§2.0 Hospital write-off of excess out-of-scope cost: (absorbed, counted_total)."""
    level = claim.level
    total = claim.total_amount
    out_of_scope = claim.out_of_scope_amount
    absorbed = ZERO
    cap_ratio = policy.out_of_scope.cap_ratio[level - 1]
    if claim.in_county and cap_ratio is not None:
        r = cap_ratio.decimal
        if policy.out_of_scope.mode == "simple":
            limit = round_cent(r * total)
            absorbed = max(ZERO, out_of_scope - limit)
            if say:
                say(
                    f"目录外费用控制（simple）：限额 {_pct(r)} × {total:.2f} = {_rounded(r * total, limit)}；"
                    f"医院承担 max(0, {out_of_scope:.2f} − {limit:.2f}) = {absorbed:.2f}"
                )
        else:
            quotient = (Fraction(out_of_scope) - Fraction(r) * Fraction(total)) / (1 - Fraction(r))
            absorbed = max(ZERO, round_fraction_cent(quotient))
            if say:
                say(
                    f"目录外费用控制（consistent）：医院承担 max(0, round(({out_of_scope:.2f} − {_pct(r)} × "
                    f"{total:.2f}) ÷ (1 − {_pct(r)}))) = {absorbed:.2f}"
                )
    elif say and claim.in_county:
        say(f"目录外费用控制：政策未规定{LEVEL_NAMES[level]}医院的目录外费用比例，医院承担 0.00")
    elif say:
        say(f"目录外费用控制：县域外{'就诊' if claim.outpatient else '住院'}不适用，医院承担 0.00")
    counted = total - absorbed
    if say:
        in_scope = total - out_of_scope
        say(
            f"计入费用：{total:.2f} − {absorbed:.2f} = {counted:.2f}（其中目录外 {out_of_scope - absorbed:.2f}）；"
            f"目录内费用：{total:.2f} − {out_of_scope:.2f} = {in_scope:.2f}"
        )
    return absorbed, counted


def _where(claim: Claim) -> str:
    return "县域内" if claim.in_county else ("县域外·已转诊备案" if claim.referred else "县域外·未转诊")


def _settle(
    policy: Policy, rule: CategoryRule, claim: Claim, ytd: YearToDate, trace: bool
) -> ClaimSettlement:
    lines: list[str] = []
    say = lines.append
    level = claim.level
    total = claim.total_amount
    out_of_scope = claim.out_of_scope_amount
    if trace:
        say(
            f"结算号 {claim.claim_id}：{claim.discharge_on} 出院，类别 {rule.name}，{LEVEL_NAMES[level]}医院，"
            f"{_where(claim)}；医疗总费用 {total:.2f}，目录外费用 {out_of_scope:.2f}"
            + ("；统筹地已结算（事后补助）" if claim.settled_elsewhere else "")
        )
        say(f"当年累计（结算前）：{ytd.describe()}")

    # §2.0 Hospital write-off of excess out-of-scope cost.
    absorbed, counted = _write_off(policy, claim, say if trace else None)
    in_scope = total - out_of_scope

    # §2.1 Basic medical insurance (§7: what the insurance platform paid).
    b = rule.basic
    if claim.basic_paid_amount is not None:
        basic = claim.basic_paid_amount
        if trace:
            say(f"基本医保：统筹地已结算，按结算单 {basic:.2f}（不再计算）")
    else:
        ratio = b.ratio[level - 1].decimal
        unreferred = not claim.in_county and not claim.referred
        if unreferred:
            ratio = max(Decimal(0), ratio - policy.unreferred_ratio_cut.decimal)
        deductible = b.deductible[level - 1].yuan
        exact = max(Decimal(0), in_scope - deductible) * ratio
        basic = round_cent(exact)
        left = _cap_left(b.annual_cap, ytd.basic)
        if trace:
            if in_scope < deductible:
                text = f"基本医保：目录内费用 {in_scope:.2f} 未达起付线 {deductible:.2f}，= 0.00"
            else:
                text = (
                    f"基本医保：({in_scope:.2f} − 起付线 {deductible:.2f}) × {_pct(ratio)} = "
                    f"{_rounded(exact, basic)}"
                )
            if unreferred:
                cut = policy.unreferred_ratio_cut.decimal
                text += f"（县域外未转诊：{b.ratio[level - 1].percent()} − {_pct(cut)} = {_pct(ratio)}）"
            if left is not None:
                text += f"；年度封顶 {b.annual_cap}，已付 {ytd.basic:.2f}，剩余 {left:.2f} → {min(basic, left):.2f}"
            say(text)
        if left is not None:
            basic = min(basic, left)

    # §2.2 Critical illness insurance, on the cumulative base (§7: what the platform paid; the
    # base still accumulates).
    c = rule.critical
    base = in_scope - basic
    cum_before = ytd.critical_base
    cum_after = cum_before + base
    if claim.critical_paid_amount is not None:
        critical = claim.critical_paid_amount
        if trace:
            say(
                f"大病保险：统筹地已结算，按结算单 {critical:.2f}（不再计算）；基数 {in_scope:.2f} − {basic:.2f} "
                f"= {base:.2f}，累计基数 {cum_before:.2f} → {cum_after:.2f}"
            )
    else:
        f_after = round_cent(_tiers_value(c.tiers, cum_after))
        f_before = round_cent(_tiers_value(c.tiers, cum_before))
        critical = f_after - f_before
        left = _cap_left(c.annual_cap, ytd.critical)
        if trace:
            say(
                f"大病保险：基数 {in_scope:.2f} − {basic:.2f} = {base:.2f}；累计基数 {cum_before:.2f} → "
                f"{cum_after:.2f}；{_describe_f(c.tiers, cum_after)}；{_describe_f(c.tiers, cum_before)}；"
                f"本次 = {f_after:.2f} − {f_before:.2f} = {critical:.2f}"
            )
            if left is not None:
                say(
                    f"大病保险年度封顶 {c.annual_cap}，已付 {ytd.critical:.2f}，剩余 {left:.2f} → "
                    f"{min(critical, left):.2f}"
                )
        if left is not None:
            critical = min(critical, left)

    # §2.3 Medical aid, with its annual deductible.
    remaining = in_scope - basic - critical
    aid = ZERO
    aid_deductible = ZERO
    a = rule.aid
    if a is None:
        if trace:
            say(f"医疗救助：类别 {rule.name} 无医疗救助，= 0.00")
    else:
        aid_deductible = min(remaining, max(ZERO, a.deductible.yuan - ytd.aid_deductible_used))
        exact = (remaining - aid_deductible) * a.ratio.decimal
        aid = round_cent(exact)
        left = _cap_left(a.annual_cap, ytd.aid)
        if trace:
            text = (
                f"医疗救助：余额 {in_scope:.2f} − {basic:.2f} − {critical:.2f} = {remaining:.2f}；"
                f"起付线 {a.deductible} 已用 {ytd.aid_deductible_used:.2f}，本次起付 {aid_deductible:.2f}；"
                f"({remaining:.2f} − {aid_deductible:.2f}) × {a.ratio.percent()} = {_rounded(exact, aid)}"
            )
            if left is not None:
                text += (
                    f"；年度封顶 {a.annual_cap}，已付 {ytd.aid:.2f}，剩余 {left:.2f} → {min(aid, left):.2f}"
                )
            say(text)
        if left is not None:
            aid = min(aid, left)

    # §2.4 Supplementary insurance / county safety net.
    paid = basic + critical + aid
    rest = counted - paid
    supplementary = ZERO
    s = rule.supplementary
    if s is None:
        if trace:
            say(f"补充医疗保险：类别 {rule.name} 无补充保险，= 0.00")
    elif not (claim.in_county or (s.applies_to == "in_county_or_referred" and claim.referred)):
        if trace:
            scope = "县域内" if s.applies_to == "in_county" else "县域内或已转诊"
            say(f"补充医疗保险：只适用于{scope}住院，= 0.00")
    else:
        coverable = rest if s.covers_out_of_scope else in_scope - paid
        limits: list[Decimal] = []
        if s.min_ratio is not None:
            floor = round_cent(s.min_ratio.decimal * counted)
            limits.append(counted - floor)
        if s.annual_personal_cap is not None:
            limits.append(s.annual_personal_cap.yuan - ytd.personal)
        room = coverable
        if s.sum_insured is not None:
            room = min(coverable, max(ZERO, s.sum_insured.yuan - ytd.supplementary))
        allowed = max(ZERO, min(limits)) if limits else None
        if allowed is not None:  # no floor and no cap: allowed is unlimited and nothing is topped up
            supplementary = min(max(rest - allowed, ZERO), room)
        if trace:
            say(_describe_supplementary(s, counted, paid, rest, coverable, room, allowed, supplementary, ytd))

    # §2.5 The person's share and the new year-to-date.
    personal = counted - basic - critical - aid - supplementary
    after = YearToDate(
        basic=ytd.basic + basic,
        critical_base=ytd.critical_base + base,
        critical=ytd.critical + critical,
        aid=ytd.aid + aid,
        aid_deductible_used=ytd.aid_deductible_used + aid_deductible,
        supplementary=ytd.supplementary + supplementary,
        personal=ytd.personal + personal,
        op_deductible_used=ytd.op_deductible_used,  # §6's sums: stays do not move them
        op_basic=ytd.op_basic,
        op_basic_by_disease=ytd.op_basic_by_disease,
    )
    if trace:
        say(
            f"个人负担：{counted:.2f} − {basic:.2f} − {critical:.2f} − {aid:.2f} − {supplementary:.2f} "
            f"= {personal:.2f}"
        )
        if counted > 0:
            reimbursed = basic + critical + aid + supplementary
            ratio_text = round_cent(_ROUNDING.divide(reimbursed * 100, counted))
            say(f"实际报销比例：{reimbursed:.2f} ÷ {counted:.2f} ≈ {ratio_text:.2f}%")
        say(f"当年累计（结算后）：{after.describe()}")
    return ClaimSettlement(
        claim_id=claim.claim_id,
        counted_total=counted,
        hospital_absorbed=absorbed,
        basic=basic,
        critical=critical,
        aid=aid,
        supplementary=supplementary,
        personal=personal,
        ytd_before=ytd,
        ytd_after=after,
        trace=tuple(lines),
    )


def _settle_outpatient(
    policy: Policy,
    rule: CategoryRule,
    op: OutpatientRule,
    disease_cap: Amount,
    claim: Claim,
    ytd: YearToDate,
    trace: bool,
) -> ClaimSettlement:
    """§6: one outpatient special chronic disease claim (门诊慢特病)."""
    lines: list[str] = []
    say = lines.append
    level = claim.level
    total = claim.total_amount
    out_of_scope = claim.out_of_scope_amount
    disease = claim.disease
    if trace:
        say(
            f"结算号 {claim.claim_id}：{claim.discharge_on} 门诊慢特病（{disease}），类别 {rule.name}，"
            f"{LEVEL_NAMES[level]}医院，{_where(claim)}；医疗总费用 {total:.2f}，目录外费用 {out_of_scope:.2f}"
        )
        say(f"当年累计（结算前）：{ytd.describe()}")

    # §2.0 applies unchanged.
    absorbed, counted = _write_off(policy, claim, say if trace else None)
    in_scope = total - out_of_scope

    # The yearly outpatient deductible, over all outpatient claims of the person.
    deductible = min(in_scope, max(ZERO, op.deductible.yuan - ytd.op_deductible_used))

    # Basic insurance: the level's ratio (cut as in §2.1), within the yearly cap of all outpatient
    # claims and the disease's own yearly cap.
    ratio = op.ratio[level - 1].decimal
    unreferred = not claim.in_county and not claim.referred
    if unreferred:
        ratio = max(Decimal(0), ratio - policy.unreferred_ratio_cut.decimal)
    exact = (in_scope - deductible) * ratio
    basic = round_cent(exact)
    left = _cap_left(op.annual_cap, ytd.op_basic)
    used_disease = ytd.op_basic_for(disease)
    left_disease = max(ZERO, disease_cap.yuan - used_disease)
    capped = min(basic, left_disease) if left is None else min(basic, left, left_disease)
    if trace:
        say(
            f"门诊起付线：年度 {op.deductible}，已用 {ytd.op_deductible_used:.2f}，本次起付 "
            f"min({in_scope:.2f}, max(0, {op.deductible.yuan:.2f} − {ytd.op_deductible_used:.2f})) = "
            f"{deductible:.2f}"
        )
        text = f"门诊基本医保：({in_scope:.2f} − {deductible:.2f}) × {_pct(ratio)} = {_rounded(exact, basic)}"
        if unreferred:
            cut = policy.unreferred_ratio_cut.decimal
            text += f"（县域外未转诊：{op.ratio[level - 1].percent()} − {_pct(cut)} = {_pct(ratio)}）"
        if left is not None:
            text += f"；门诊年度封顶 {op.annual_cap}，已付 {ytd.op_basic:.2f}，剩余 {left:.2f}"
        text += f"；{disease}年度限额 {disease_cap}，已付 {used_disease:.2f}，剩余 {left_disease:.2f} → {capped:.2f}"
        say(text)
        say("大病保险：门诊慢特病不计大病保险，= 0.00")
    basic = capped

    # Medical aid from the same yearly fund as stays, without a deductible.
    aid = ZERO
    a = rule.aid
    if op.aid_ratio is None or a is None:
        if trace:
            why = (
                "门诊规定无救助比例（aid_ratio）" if op.aid_ratio is None else f"类别 {rule.name} 无医疗救助"
            )
            say(f"医疗救助：{why}，= 0.00")
    else:
        exact = (in_scope - basic) * op.aid_ratio.decimal
        aid = round_cent(exact)
        left = _cap_left(a.annual_cap, ytd.aid)
        if trace:
            text = (
                f"医疗救助：({in_scope:.2f} − {basic:.2f}) × {op.aid_ratio.percent()} = {_rounded(exact, aid)}"
                "（门诊不设救助起付线）"
            )
            if left is not None:
                text += f"；年度封顶 {a.annual_cap}（与住院共用），已付 {ytd.aid:.2f}，剩余 {left:.2f} → {min(aid, left):.2f}"
            say(text)
        if left is not None:
            aid = min(aid, left)

    # Supplementary: keeps the person's share within personal_share_cap of the counted cost.
    rest = counted - basic - aid
    supplementary = ZERO
    if op.personal_share_cap is None:
        if trace:
            say("补充医疗保险：门诊规定无个人负担比例上限（personal_share_cap），= 0.00")
    else:
        exact = op.personal_share_cap.decimal * counted
        allowed = round_cent(exact)
        s = rule.supplementary
        sum_insured = None if s is None else s.sum_insured
        room = _cap_left(sum_insured, ytd.supplementary)
        supplementary = max(rest - allowed, ZERO)
        if room is not None:
            supplementary = min(supplementary, room)
        if trace:
            text = (
                f"补充医疗保险：个人现需负担 {counted:.2f} − {basic:.2f} − {aid:.2f} = {rest:.2f}；"
                f"个人负担上限 {op.personal_share_cap.percent()} × {counted:.2f} = {_rounded(exact, allowed)}"
            )
            if room is not None:
                text += f"；保额 {sum_insured}（与住院共用）已用 {ytd.supplementary:.2f}，剩余 {room:.2f}"
                text += f"；补充 = min(max({rest:.2f} − {allowed:.2f}, 0), {room:.2f}) = {supplementary:.2f}"
            else:
                text += f"；补充 = max({rest:.2f} − {allowed:.2f}, 0) = {supplementary:.2f}"
            say(text)

    # The person's share; outpatient sums do not enter the stays' caps or yearly out-of-pocket.
    personal = counted - basic - aid - supplementary
    by_disease = dict(ytd.op_basic_by_disease)
    by_disease[disease] = used_disease + basic
    after = YearToDate(
        basic=ytd.basic,  # the stays' sums: an outpatient claim does not move them
        critical_base=ytd.critical_base,
        critical=ytd.critical,
        aid=ytd.aid + aid,
        aid_deductible_used=ytd.aid_deductible_used,
        supplementary=ytd.supplementary + supplementary,
        personal=ytd.personal,
        op_deductible_used=ytd.op_deductible_used + deductible,
        op_basic=ytd.op_basic + basic,
        op_basic_by_disease=tuple(sorted(by_disease.items())),
    )
    if trace:
        say(
            f"个人负担：{counted:.2f} − {basic:.2f} − 0.00 − {aid:.2f} − {supplementary:.2f} = {personal:.2f}"
        )
        if counted > 0:
            share = round_cent(_ROUNDING.divide(personal * 100, counted))
            say(
                f"个人负担比例：{personal:.2f} ÷ {counted:.2f} ≈ {share:.2f}%（门诊费用不计入住院年度个人负担）"
            )
        say(f"当年累计（结算后）：{after.describe()}")
    return ClaimSettlement(
        claim_id=claim.claim_id,
        counted_total=counted,
        hospital_absorbed=absorbed,
        basic=basic,
        critical=ZERO,
        aid=aid,
        supplementary=supplementary,
        personal=personal,
        ytd_before=ytd,
        ytd_after=after,
        trace=tuple(lines),
    )


def _describe_supplementary(
    s: SupplementaryRule,
    counted: Decimal,
    paid: Decimal,
    rest: Decimal,
    coverable: Decimal,
    room: Decimal,
    allowed: Decimal | None,
    supplementary: Decimal,
    ytd: YearToDate,
) -> str:
    head = f"补充医疗保险：已报销 {paid:.2f}，个人现需负担 {counted:.2f} − {paid:.2f} = {rest:.2f}"
    if allowed is None:
        return head + "；未规定保底比例与个人负担上限，= 0.00"
    notes = []
    if s.min_ratio is not None:
        exact = s.min_ratio.decimal * counted
        notes.append(
            f"保底报销 {s.min_ratio.percent()}：{counted:.2f} − {_rounded(exact, round_cent(exact))}"
        )
    if s.annual_personal_cap is not None:
        notes.append(f"年度个人负担上限 {s.annual_personal_cap} − 已负担 {ytd.personal:.2f}")
    room_note = f"可补偿 {coverable:.2f}（{'含' if s.covers_out_of_scope else '不含'}目录外）"
    if s.sum_insured is not None:
        room_note += f"，保额 {s.sum_insured} 已用 {ytd.supplementary:.2f}"
    return (
        f"{head}；允许个人负担 = max(0, min({'；'.join(notes)})) = {allowed:.2f}；{room_note}；"
        f"补充 = min(max({rest:.2f} − {allowed:.2f}, 0), {room:.2f}) = {supplementary:.2f}"
    )


def settlement_order(claims: Iterable[Claim]) -> list[int]:
    """Indices of ``claims`` in settlement order: (discharge date, claim id, input position)."""
    rows = list(claims)
    return sorted(range(len(rows)), key=lambda i: (rows[i].discharge_on, rows[i].claim_id, i))


def settle_claims(
    policy: Policy,
    claims: Iterable[Claim],
    *,
    trace: bool = False,
    opening: Mapping[tuple[str, int], YearToDate] | None = None,
) -> list[ClaimSettlement]:
    """逐笔结算一批 Settle claims one by one; results in input order.

    Year-to-date sums run per (person_id, calendar year of discharge), in (discharge date,
    claim id) order whatever the input order; ``opening`` gives the sums already reached before
    these claims (default: zero). Claim ids must be unique.
    """
    rows = list(claims)
    if len({c.claim_id for c in rows}) != len(rows):
        raise ValueError("claim ids must be unique")
    state: dict[tuple[str, int], YearToDate] = dict(opening or {})
    out: list[ClaimSettlement | None] = [None] * len(rows)
    for i in settlement_order(rows):
        claim = rows[i]
        key = (claim.person_id, claim.year)
        result = settle_claim(policy, claim, state.get(key), trace=trace)
        state[key] = result.ytd_after
        out[i] = result
    return [r for r in out if r is not None]


__all__ = [
    "ClaimSettlement",
    "YearToDate",
    "round_cent",
    "round_fraction_cent",
    "settle_claim",
    "settle_claims",
    "settlement_order",
]
