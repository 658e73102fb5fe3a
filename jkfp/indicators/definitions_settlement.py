"""结算指标 Settlement indicators (domain.md §9, settlement.md): reimbursement, personal share, in-county, one-stop.

**Settled claims** of year Y: live settlements (``is_current``; a reversed claim has none) of claims
of target persons discharged in Y — stays (住院) for the stays' indicators, outpatient special chronic
disease claims (门诊慢特病, settlement.md §6) for ``one_stop_outpatient_count`` and
``outpatient_personal_share``, both kinds in the ledger 一站式结算台账. Money sums are Decimal yuan
with two places.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.db.models import BooleanField, ExpressionWrapper, F, Q

from jkfp.indicators.definitions import Column, Indicator, Spec, person_columns, target_q, year_bounds
from jkfp.settlement.models import Admission, AdmissionStatus, ClaimKind, ClaimSource, Settlement

P = "claim__person__"
SETTLEMENT_COLUMNS = (
    *person_columns(P),
    Column("结算号", "claim__claim_id"),
    Column("就诊类别", "claim__kind", labels={str(v): str(label) for v, label in ClaimKind.choices}),
    Column("门诊慢特病病种", "claim__disease"),
    Column("医疗机构", "claim__institution__name"),
    Column("出院（就诊）日期", "claim__discharged_on"),
    Column("县域内", "claim__in_county"),
    Column("医疗总费用", "claim__total_amount", money=True),
    # A stay of 0.00 settles (nothing to pay), but is flagged for a second look (issue 17 §6).
    Column("零金额待核", "zero_amount"),
    Column("计入结算费用", "counted_total", money=True),
    Column("基本医保", "basic", money=True),
    Column("大病保险", "critical", money=True),
    Column("医疗救助", "aid", money=True),
    Column("补充保障", "supplementary", money=True),
    Column("个人负担", "personal", money=True),
)
# One-stop (一站式): settled at discharge through the hospital window or its API, on one slip;
# claims loaded afterwards by a batch import were not settled on the spot.
ONE_STOP_SOURCES = (ClaimSource.API, ClaimSource.WINDOW)


def settled_claims(year: int, kind: str | None = ClaimKind.INPATIENT) -> Spec | None:
    """年度已结算 Live settlements of target persons' claims of ``kind`` (None: both kinds) discharged
    in ``year`` (None: no such settlement)."""
    jan1, dec31 = year_bounds(year)
    live = Settlement.objects.filter(
        is_current=True, claim__discharged_on__gte=jan1, claim__discharged_on__lte=dec31
    )
    if kind is not None:
        live = live.filter(claim__kind=kind)
    if not live.exists():
        return None
    return Spec(
        rows=live.filter(target_q(year, P)).annotate(
            zero_amount=ExpressionWrapper(Q(claim__total_amount=0), output_field=BooleanField())
        ),
        numerator=Q(),
        village=f"{P}village_id",
        person=P,
        month="claim__discharged_on",
        columns=SETTLEMENT_COLUMNS,
    )


def settled_claims_all(year: int) -> Spec | None:
    """年度已结算（住院与门诊慢特病） Both kinds: the rows of the ledger 一站式结算台账."""
    return settled_claims(year, None)


def _money(numerator: object, kind: str = ClaimKind.INPATIENT) -> Callable[[int], Spec | None]:
    def build(year: int) -> Spec | None:
        spec = settled_claims(year, kind)
        if spec is None:
            return None
        spec.num_sum = numerator
        spec.den_sum = "counted_total"
        return spec

    return build


def _in_county(year: int) -> Spec | None:
    spec = settled_claims(year)
    if spec is not None:
        spec.numerator = Q(claim__in_county=True)
    return spec


def _one_stop(year: int) -> Spec | None:
    spec = settled_claims(year)
    if spec is not None:
        spec.numerator = Q(claim__source__in=ONE_STOP_SOURCES)
    return spec


def _one_stop_outpatient(year: int) -> Spec | None:
    spec = settled_claims(year, ClaimKind.OUTPATIENT)
    if spec is not None:
        spec.numerator = Q(claim__source__in=ONE_STOP_SOURCES)
    return spec


def _deferred(year: int) -> Spec | None:
    jan1, dec31 = year_bounds(year)
    admissions = Admission.objects.filter(admitted_on__gte=jan1, admitted_on__lte=dec31).exclude(
        status=AdmissionStatus.CANCELLED
    )
    if not admissions.exists():
        return None
    return Spec(
        rows=admissions.filter(target_q(year, "person__")),
        numerator=Q(deferred_payment=True),
        village="person__village_id",
        person="person__",
        month="admitted_on",
        columns=(
            *person_columns("person__"),
            Column("医疗机构", "institution__name"),
            Column("入院日期", "admitted_on"),
            Column("先诊疗后付费", "deferred_payment"),
            Column("免交押金", "deposit_waived_amount", money=True),
        ),
    )


FUNDS = F("basic") + F("critical") + F("aid") + F("supplementary")

SETTLEMENT_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="actual_reimbursement_ratio",
        name="实际报销比例",
        formula="Σ（基本医保 + 大病保险 + 医疗救助 + 补充保障）÷ Σ 计入结算费用（年度已结算住院）",
        source="settlement",
        build=_money(FUNDS),
        unit="元",
        money=True,
        target=Decimal("0.85"),
        numerator_label="报销金额（元）",
        denominator_label="计入结算费用（元）",
        group="重病兜底保障",
    ),
    Indicator(
        code="personal_share",
        name="个人自付比例",
        formula="Σ 个人负担 ÷ Σ 计入结算费用（年度已结算住院）",
        source="settlement",
        build=_money("personal"),
        unit="元",
        money=True,
        target=Decimal("0.10"),
        numerator_label="个人负担（元）",
        denominator_label="计入结算费用（元）",
        group="重病兜底保障",
        extra={"lower_is_better": True},
    ),
    Indicator(
        code="in_county_rate",
        name="县域内就诊率",
        formula="在县域内医疗机构结算的住院人次 ÷ 已结算住院人次",
        source="settlement",
        build=_in_county,
        unit="人次",
        target=Decimal("0.9"),
        numerator_label="县域内人次",
        denominator_label="结算人次",
        group="便捷就医",
    ),
    Indicator(
        code="deferred_payment_count",
        name="先诊疗后付费人次",
        formula="年度内免交押金（先诊疗后付费）入院人次（分母：目标人群入院人次，不含撤销）",
        source="settlement",
        build=_deferred,
        unit="人次",
        target=Decimal("1"),
        numerator_label="先诊疗后付费人次",
        denominator_label="入院人次",
        group="便捷就医",
    ),
    Indicator(
        code="one_stop_count",
        name="一站式结算人次",
        formula="出院时在窗口或医院接口一单结算的住院人次（分母：已结算住院人次）",
        source="settlement",
        build=_one_stop,
        unit="人次",
        target=Decimal("1"),
        numerator_label="一站式结算人次（住院）",
        denominator_label="结算人次（住院）",
        group="便捷就医",
    ),
    Indicator(
        code="one_stop_outpatient_count",
        name="门诊慢特病一站式结算人次",
        formula="在窗口或医院接口即时结算的门诊慢特病人次（分母：已结算门诊慢特病人次）",
        source="settlement",
        build=_one_stop_outpatient,
        unit="人次",
        target=Decimal("1"),
        numerator_label="一站式结算人次（门诊慢特病）",
        denominator_label="结算人次（门诊慢特病）",
        group="便捷就医",
    ),
    Indicator(
        code="outpatient_personal_share",
        name="门诊慢特病个人负担比例",
        formula="Σ 个人负担 ÷ Σ 计入结算费用（年度已结算门诊慢特病）",
        source="settlement",
        build=_money("personal", ClaimKind.OUTPATIENT),
        unit="元",
        money=True,
        target=Decimal("0.10"),
        numerator_label="个人负担（元）",
        denominator_label="计入结算费用（元）",
        group="重病兜底保障",
        extra={"lower_is_better": True},
    ),
)
