"""台账 The ledgers of domain.md §10 as .xlsx for a county, township or village (Chinese headers, frozen
header row, a 合计 row), generated from the same definitions as the indicators so their totals agree:

- 花名册 roster: the target persons of the year;
- 签约与履约 contracts and follow-ups: contracted target persons living at home (contract_rate
  numerator), their follow-ups and check of the year and whether fulfilled (fulfilment_rate numerator);
- 大病专项救治 treatment: ``jkfp.treatment.ledger`` (all cases of the region);
- 一站式结算 settlement: the settled claims of the year (the money indicators' rows);
- 参保资助 premium subsidy: who holds a subsidised tag on 31 December and gets what (domain.md §11),
  with the enrolment status, premium paid and subsidy received where an enrolment record exists;
- 慢病卡 chronic cards: cards issued in the year to target persons (chronic_card_count numerator);
- 防返贫监测预警 alerts: ``jkfp.monitoring.ledger`` (the alerts of the year);
- 问题整改 rectification;
- 基层医疗卫生服务能力 capacity: ``jkfp.capacity.ledger`` (the standard and the blank points on the
  year's as-of date, with their rectification); 对口帮扶, 远程医疗 and 培训 of the year.

A ledger whose data does not exist for the year is not offered (``available`` is False).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Length
from django.utils import timezone

from jkfp.capacity.ledger import capacity_ledger_write
from jkfp.capacity.models import PairedSupport, SupportLevel, TelemedicineLink, Training, TrainingAttendance
from jkfp.capacity.selectors import has_facilities
from jkfp.care.models import Checkup, Contract, ContractStatus, FollowUpItem
from jkfp.indicators.catalogue import BY_CODE
from jkfp.indicators.definitions import (
    ENROLMENT_LABELS,
    LIVING_LABELS,
    PERSON_COLUMNS,
    Column,
    enrolment_status,
    target_q,
    year_bounds,
)
from jkfp.indicators.definitions_capacity import capacity_as_of
from jkfp.indicators.definitions_settlement import settled_claims_all
from jkfp.indicators.exports import table_xlsx
from jkfp.indicators.models import PremiumRule, Rectification, RectificationStatus
from jkfp.monitoring.ledger import monitoring_ledger_write
from jkfp.regions.models import Region, prefix_range
from jkfp.registry.models import Condition, Enrolment, Person, Tag, TagCode, VerificationStatus
from jkfp.settlement.selectors import case_payment_totals
from jkfp.treatment.ledger import treatment_ledger_write
from jkfp.treatment.models import MajorDiseaseCase

SEX_LABELS = {"M": "男", "F": "女"}
TAG_LABELS = {value: str(label) for value, label in TagCode.choices}
MONEY_FIELD: DecimalField[Any, Any] = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class LedgerSpec:
    """台账 One ledger: its title, whether its data exists for a year, what it shows."""

    title: str
    available: Callable[[int], bool]
    note: str = ""


def _in_region(qs: QuerySet[Any], path: str, region: Region) -> QuerySet[Any]:
    lo, hi = prefix_range(region.prefix)
    return qs.filter(**{f"{path}__gte": lo, f"{path}__lt": hi})


def _held(code: str, on: Any) -> Exists:
    return Exists(
        Tag.objects.filter(person_id=OuterRef("pk"), code=code, start_on__lte=on).filter(
            Q(end_on__isnull=True) | Q(end_on__gte=on)
        )
    )


def _notes(region: Region, year: int, user: Any, *extra: str) -> tuple[str, ...]:
    return (
        f"统计范围：{region.name}（{region.code}）　年度：{year}　导出时间：{timezone.localtime():%Y-%m-%d %H:%M}"
        f"　导出人：{getattr(user, 'username', '')}",
        *extra,
    )


# --- the ledgers ---------------------------------------------------------------------------------


def roster_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """花名册 The target persons of ``year`` in ``region`` with their target tags on 31 December."""
    _, dec31 = year_bounds(year)
    qs = _in_region(Person.objects.filter(target_q(year)), "village_id", region).annotate(
        t_poor=_held(TagCode.POOR, dec31),
        t_monitored=_held(TagCode.MONITORED, dec31),
        t_tekun=_held(TagCode.TEKUN, dec31),
        t_dibao=_held(TagCode.DIBAO, dec31),
        ill=Exists(Condition.objects.filter(person_id=OuterRef("pk"))),
        enrol_status=enrolment_status(year),
    )
    columns = (
        Column("乡镇", "village__parent__name"),
        Column("村", "village__name"),
        Column("户编号", "household__household_no"),
        Column("姓名", "name"),
        Column("身份证号", "id_number"),
        Column("性别", "sex", labels=SEX_LABELS),
        Column("出生日期", "birth_date"),
        Column("居住状态", "living_status", labels=LIVING_LABELS),
        Column("死亡日期", "death_on"),
        Column("建档立卡/脱贫", "t_poor"),
        Column("监测对象", "t_monitored"),
        Column("特困供养", "t_tekun"),
        Column("低保", "t_dibao"),
        Column("患病", "ill"),
        Column("核实状态", "verification_status", labels=dict(VerificationStatus.choices)),
        Column("参保状态", "enrol_status", labels=ENROLMENT_LABELS),
    )
    return qs.order_by("village_id", "household_id", "pk"), columns


def contracts_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """签约与履约 Contracted target persons at home (contract_rate numerator) with their services of the year."""

    contract_spec = BY_CODE["contract_rate"].build(year)
    fulfil_spec = BY_CODE["fulfilment_rate"].build(year)
    assert contract_spec is not None and fulfil_spec is not None  # available() checked it
    jan1, dec31 = year_bounds(year)
    covering = (
        Contract.objects.filter(person_id=OuterRef("pk"), signed_on__lte=dec31, end_on__gte=jan1)
        .exclude(status=ContractStatus.TERMINATED)
        .order_by("-signed_on")
    )
    items = (
        FollowUpItem.objects.filter(person_id=OuterRef("pk"), visited_on__gte=jan1, visited_on__lte=dec31)
        .order_by()
        .values("person_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    checks = (
        Checkup.objects.filter(person_id=OuterRef("pk"), checked_on__gte=jan1, checked_on__lte=dec31)
        .order_by()
        .values("person_id")
        .annotate(last=Max("checked_on"))
        .values("last")[:1]
    )
    qs = _in_region(contract_spec.rows.filter(contract_spec.numerator), "village_id", region).annotate(
        c_signed=Subquery(covering.values("signed_on")[:1]),
        c_end=Subquery(covering.values("end_on")[:1]),
        c_team=Subquery(covering.values("team__name")[:1]),
        c_doctor=Subquery(covering.values("doctor__name")[:1]),
        n_items=Coalesce(Subquery(items), Value(0), output_field=IntegerField()),
        last_check=Subquery(checks),
        fulfilled=ExpressionWrapper(fulfil_spec.numerator, output_field=BooleanField()),
    )
    columns = (
        *PERSON_COLUMNS,
        Column("签约日期", "c_signed"),
        Column("到期日期", "c_end"),
        Column("签约团队", "c_team"),
        Column("家庭医生", "c_doctor"),
        Column("本年随访病种次数", "n_items"),
        Column("本年体检日期", "last_check"),
        Column("履约", "fulfilled"),
    )
    return qs.order_by("village_id", "pk"), columns


def settlement_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    spec = settled_claims_all(year)
    assert spec is not None
    return _in_region(spec.rows, spec.village, region).order_by(
        spec.village, "claim__discharged_on", "pk"
    ), spec.columns


def cards_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    spec = BY_CODE["chronic_card_count"].build(year)
    assert spec is not None
    return _in_region(spec.rows, spec.village, region).order_by(spec.village, "pk"), spec.columns


def premium_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """参保资助 Persons holding on 31 December a tag with a subsidy rule; the most favourable rule applies.

    Rules per region (issue 21 item 3): per tag the rule of the most specific region containing the
    person's village (longest ``scope`` that prefixes it; "" = the whole deployment) — the SQL form of
    ``regions.models.most_specific``. Of the person's tags' rules the most favourable one — the
    smallest personal share, then the largest subsidy — gives both the premium standard and the
    subsidy: one rule, so the personal share is never negative (a rule's subsidy is at most its
    premium, ``premium_rule_subsidy_within_premium``)."""
    _, dec31 = year_bounds(year)

    def applying(village: Any) -> QuerySet[PremiumRule]:
        """The year's rules of the regions containing ``village``."""
        return (
            PremiumRule.objects.filter(year=year)
            .annotate(v=ExpressionWrapper(village, output_field=CharField()))
            .filter(v__startswith=F("scope"))
        )

    held = Tag.objects.filter(person_id=OuterRef(OuterRef("pk")), code=OuterRef("tag"), start_on__lte=dec31)
    overridden = (
        applying(OuterRef(OuterRef("village_id")))
        .annotate(scope_len=Length("scope"))
        .filter(tag=OuterRef("tag"), scope_len__gt=Length(OuterRef("scope")))
    )
    # Per tag held, the rule of the most specific region (no longer-scoped rule of the same tag
    # applies); of those the most favourable. Outer columns appear in WHERE only (SQLite resolves
    # a grand-outer column there, not in a nested ORDER BY).
    best = (
        applying(OuterRef("village_id"))
        .filter(Exists(held.filter(Q(end_on__isnull=True) | Q(end_on__gte=dec31))))
        .exclude(Exists(overridden))
        .annotate(
            share=ExpressionWrapper(F("premium_amount") - F("subsidy_amount"), output_field=MONEY_FIELD)
        )
        .order_by("share", "-subsidy_amount", "tag")
    )
    qs = (
        _in_region(Person.objects.all(), "village_id", region)
        .filter(Q(death_on__isnull=True) | Q(death_on__gt=dec31))
        .annotate(
            sub_tag=Subquery(best.values("tag")[:1]),
            subsidy=Subquery(best.values("subsidy_amount")[:1], output_field=MONEY_FIELD),
            premium=Subquery(best.values("premium_amount")[:1], output_field=MONEY_FIELD),
        )
        .filter(subsidy__isnull=False)
        .annotate(own=ExpressionWrapper(F("premium") - F("subsidy"), output_field=MONEY_FIELD))
    )
    # The enrolment record of the year (jkfp import-enrolment), where one exists: status, what the
    # person actually paid and the subsidy actually received; blank without a record.
    of_year = Enrolment.objects.filter(person_id=OuterRef("pk"), year=year)
    qs = qs.annotate(
        enrol_status=enrolment_status(year),
        enrol_premium=Subquery(of_year.values("premium_paid")[:1], output_field=MONEY_FIELD),
        enrol_subsidy=Subquery(of_year.values("subsidy_amount")[:1], output_field=MONEY_FIELD),
    )
    columns = (
        *PERSON_COLUMNS,
        Column("资助类别", "sub_tag", labels=TAG_LABELS),
        Column("个人缴费标准", "premium", money=True),
        Column("资助金额", "subsidy", money=True),
        Column("个人实缴", "own", money=True),
        Column("参保状态", "enrol_status", labels=ENROLMENT_LABELS),
        Column("实际个人缴费", "enrol_premium", money=True),
        Column("实际资助金额", "enrol_subsidy", money=True),
    )
    return qs.order_by("village_id", "pk"), columns


def rectification_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    qs = _in_region(Rectification.objects.all(), "region_code", region)
    columns = (
        Column("区划代码", "region_code"),
        Column("发现问题", "finding"),
        Column("问题来源", "source"),
        Column("责任人", "owner"),
        Column("整改时限", "deadline_on"),
        Column("整改措施", "measures"),
        Column("佐证材料", "evidence"),
        Column("状态", "status", labels=dict(RectificationStatus.choices)),
        Column("完成日期", "done_on"),
    )
    return qs.order_by("region_code", "deadline_on", "pk"), columns


def support_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """对口帮扶 Support received in ``year`` (periods overlapping it) by institutions of ``region``."""
    jan1, dec31 = year_bounds(year)
    qs = _in_region(PairedSupport.objects.all(), "supported__region_id", region).filter(start_on__lte=dec31)
    qs = qs.filter(Q(end_on__isnull=True) | Q(end_on__gte=jan1))
    columns = (
        Column("帮扶医院", "supporting__name"),
        Column("帮扶医院代码", "supporting_id"),  # the codes: the ledger imports again (issue 18 item 8)
        Column("受援机构", "supported__name"),
        Column("受援机构代码", "supported_id"),
        Column("受援机构所在地区", "supported__region__name"),
        Column("起始日期", "start_on"),
        Column("终止日期", "end_on"),
        Column("派驻人员（人）", "staff_count"),
        Column("驻点时间（人·月）", "staff_months"),
        Column("门诊（人次）", "outpatients_count"),
        Column("手术（台次）", "operations_count"),
        Column("培训（场次）", "trainings_count"),
        Column("备注", "note"),
    )
    return qs.order_by("supported__region_id", "supported_id", "start_on", "pk"), columns


def telemedicine_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """远程医疗 Links of institutions of ``region`` with their consultations in ``year``."""
    qs = _in_region(TelemedicineLink.objects.all(), "institution__region_id", region).annotate(
        year_consultations=Coalesce(
            Sum("months__consultations_count", filter=Q(months__month__year=year)),
            Value(0),
            output_field=IntegerField(),
        )
    )
    columns = (
        Column("所在地区", "institution__region__name"),
        Column("机构", "institution__name"),
        Column("对接机构（平台）", "partner"),
        Column("接入日期", "connected_on"),
        Column("停用日期", "disconnected_on"),
        Column(f"{year}年会诊（人次）", "year_consultations"),
    )
    return qs.order_by("institution__region_id", "institution_id"), columns


def training_rows(year: int, region: Region) -> tuple[QuerySet[Any], tuple[Column, ...]]:
    """培训 Attendance of institutions of ``region`` at the trainings held in ``year`` (training_count's rows)."""
    qs = _in_region(
        TrainingAttendance.objects.filter(training__held_on__year=year), "institution__region_id", region
    )
    columns = (
        Column("培训日期", "training__held_on"),
        Column("培训主题", "training__topic"),
        Column("主办单位", "training__organiser"),
        Column("级别", "training__level", labels={v: str(lbl) for v, lbl in SupportLevel.choices}),
        Column("参训机构", "institution__name"),
        Column("机构代码", "institution_id"),  # the code: the ledger imports again (issue 18 item 8)
        Column("参训人数", "attendees_count"),
    )
    return qs.order_by("training__held_on", "training_id", "institution_id"), columns


def _has(code: str) -> Callable[[int], bool]:
    return lambda year: BY_CODE[code].build(year) is not None


def _treatment_available(year: int) -> bool:

    return MajorDiseaseCase.objects.exists()


LEDGERS: dict[str, LedgerSpec] = {
    "roster": LedgerSpec(
        "目标人群花名册",
        lambda year: Person.objects.exists(),
        "年末（或死亡日）持有建档立卡/监测/特困/低保类别的人员",
    ),
    "contracts": LedgerSpec(
        "签约与履约服务登记簿",
        lambda year: _has("contract_rate")(year) and _has("fulfilment_rate")(year),
        "在家目标人群中签约覆盖本年度的人员，本年随访、体检与履约情况",
    ),
    "treatment": LedgerSpec("大病专项救治台账", _treatment_available, "本区划全部大病病例（含无需救治）"),
    "settlement": LedgerSpec(
        "一站式结算台账",
        lambda year: settled_claims_all(year) is not None,
        "本年度出院（就诊）、已结算（未冲销）的目标人群住院与门诊慢特病",
    ),
    "premium": LedgerSpec(
        "参保资助台账",
        lambda year: PremiumRule.objects.filter(year=year).exists(),
        "年末持有资助类别的人员；多个类别取最优惠的资助",
    ),
    "cards": LedgerSpec("慢病卡办理台账", _has("chronic_card_count"), "本年度为目标人群认定的慢病卡"),
    "alerts": LedgerSpec("防返贫监测预警台账", _has("alert_handling_rate"), "本年度预警、核实期限与处置情况"),
    "rectification": LedgerSpec(
        "问题整改台账", lambda year: True, "发现问题、责任人、整改时限、佐证材料与状态"
    ),
    "capacity": LedgerSpec(
        "基层医疗卫生服务能力台账",
        lambda year: has_facilities(),
        "年末（本年为今天）乡镇卫生院、村、村卫生室、在岗人员与空白点及其整改",
    ),
    "support": LedgerSpec(
        "对口帮扶台账", lambda year: PairedSupport.objects.exists(), "帮扶期覆盖本年度的对口帮扶记录"
    ),
    "telemedicine": LedgerSpec(
        "远程医疗台账", lambda year: TelemedicineLink.objects.exists(), "接入远程医疗的机构与本年度会诊人次"
    ),
    "training": LedgerSpec("培训台账", lambda year: Training.objects.exists(), "本年度培训与各机构参训人数"),
}
ROWS: dict[str, Callable[[int, Region], tuple[QuerySet[Any], tuple[Column, ...]]]] = {
    "roster": roster_rows,
    "contracts": contracts_rows,
    "settlement": settlement_rows,
    "premium": premium_rows,
    "cards": cards_rows,
    "rectification": rectification_rows,
    "support": support_rows,
    "telemedicine": telemedicine_rows,
    "training": training_rows,
}
UNITS = {
    "roster": "人",
    "contracts": "人",
    "settlement": "人次",
    "premium": "人",
    "cards": "张",
    "rectification": "项",
    "support": "条",
    "telemedicine": "所",
    "training": "条",
}


def ledger_write(*, kind: str, user: Any, region: Region, year: int) -> tuple[Path, str]:
    """写台账 Write ledger ``kind`` of ``region`` (already checked to lie in the user's scope).

    Returns (temporary path, a one-line summary for the audit log).
    """
    spec = LEDGERS[kind]
    if kind == "treatment":
        directory = Path(settings.VAR_DIR) / "exports"
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="ledger-", suffix=".xlsx", dir=directory)
        os.close(handle)
        totals = treatment_ledger_write(
            user=user, region=region, target=Path(name), payments=case_payment_totals
        )
        return Path(name), f"{totals.cases}例 救治率{totals.rate_text()}"
    if kind == "alerts":
        directory = Path(settings.VAR_DIR) / "exports"
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="ledger-", suffix=".xlsx", dir=directory)
        os.close(handle)
        alert_totals = monitoring_ledger_write(user=user, region=region, year=year, target=Path(name))
        return Path(name), f"{alert_totals.alerts}条 处置率{alert_totals.rate_text()}"
    if kind == "capacity":
        directory = Path(settings.VAR_DIR) / "exports"
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="ledger-", suffix=".xlsx", dir=directory)
        os.close(handle)
        capacity_totals = capacity_ledger_write(
            user=user,
            region=region,
            as_of=capacity_as_of(year),
            target=Path(name),
            rectified=lambda subjects: _rectified(subjects, region),
        )
        return Path(name), capacity_totals.text()
    rows, columns = ROWS[kind](year, region)
    path, count, money = table_xlsx(
        rows,
        columns,
        sheet=spec.title,
        unit=UNITS[kind],
        notes=_notes(region, year, user, spec.note),
        prefix="ledger-",
    )
    summary = f"{count}{UNITS[kind]}" + "".join(f" {label}{amount}" for label, amount in money.items())
    return path, summary


def _rectified(subjects: list[str], region: Region) -> dict[str, tuple[str, date, str]]:
    """subject → (status, deadline, owner) of the region's rectification items (an open one first)."""
    labels = dict(RectificationStatus.choices)
    out: dict[str, tuple[str, date, str]] = {}
    items = _in_region(Rectification.objects.filter(subject__in=subjects), "region_code", region).order_by(
        "subject", "status", "-id"
    )
    for subject, status, deadline, owner in items.values_list("subject", "status", "deadline_on", "owner"):
        out.setdefault(subject, (str(labels[status]), deadline, owner))
    return out
