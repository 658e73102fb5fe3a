"""签约服务与慢病管理指标 Care indicators (domain.md §6, §9): contracts, fulfilment, records, checks, chronic care.

Each returns ``None`` (暂无数据) when the care app has no rows of the kind it counts for the year.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from jkfp.care.models import (
    Checkup,
    ChronicCard,
    Classification,
    Contract,
    ContractStatus,
    FollowUpItem,
    HealthRecord,
)
from jkfp.care.selectors import CARD_KINDS, rules_for
from jkfp.indicators.definitions import (
    PERSON_COLUMNS,
    Column,
    Indicator,
    Spec,
    at_home_q,
    person_columns,
    served_q,
    target_q,
    year_bounds,
)
from jkfp.regions.models import Region, RegionLevel, prefix_range
from jkfp.registry.disease_catalogue import catalogue_q
from jkfp.registry.models import Condition, Disease, Person

HYPERTENSION = "高血压"
DIABETES = "2型糖尿病"
STANDARD_VISITS = 4  # domain.md §9: ≥ 4 face-to-face follow-ups dated in the year


def _covering(year: int) -> Q:
    jan1, dec31 = year_bounds(year)
    return Q(signed_on__lte=dec31, end_on__gte=jan1) & ~Q(status=ContractStatus.TERMINATED)


def _has_contract(year: int) -> Exists:
    return Exists(Contract.objects.filter(_covering(year), person_id=OuterRef("pk")))


def _contract(year: int) -> Spec | None:
    if not Contract.objects.filter(_covering(year)).exists():
        return None
    return Spec(
        rows=Person.objects.filter(at_home_q(year)),
        numerator=Q(_has_contract(year)),
        columns=PERSON_COLUMNS,
    )


def _item_count(year: int, *, face_to_face: bool) -> Subquery:
    jan1, dec31 = year_bounds(year)
    items = FollowUpItem.objects.filter(
        person_id=OuterRef("person_id"),
        disease_id=OuterRef("disease_id"),
        visited_on__gte=jan1,
        visited_on__lte=dec31,
    )
    if face_to_face:
        items = items.filter(face_to_face=True)
    return Subquery(items.order_by().values("person_id").annotate(n=Count("pk")).values("n")[:1])


def _visits_missing(year: int, county: str) -> Q:
    """Q over persons with a ruled chronic condition whose follow-ups of the year fall short of its rule."""
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    # The chronic diseases of the county's catalogue on 31 December (``registry.disease_catalogue``).
    for disease_id, rule in rules_for(county_code=county, on=year_bounds(year)[1]).items():
        groups[(rule.visits_per_year, rule.face_to_face)].append(disease_id)
    missing = Q(pk__in=[])
    for (visits, face), ids in groups.items():
        short = (
            Condition.objects.filter(person_id=OuterRef("pk"), disease_id__in=ids)
            .annotate(n=Coalesce(_item_count(year, face_to_face=face), Value(0), output_field=IntegerField()))
            .filter(n__lt=visits)
        )
        missing |= Q(Exists(short))
    return missing


def _fulfilment(year: int) -> Spec | None:
    if not Contract.objects.filter(_covering(year)).exists():
        return None
    jan1, dec31 = year_bounds(year)
    checked = Exists(
        Checkup.objects.filter(person_id=OuterRef("pk"), checked_on__gte=jan1, checked_on__lte=dec31)
    )
    fulfilled = Q(pk__in=[])
    # Follow-up rules are per county (a county's rows override the defaults).
    for county in Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", flat=True):
        lo, hi = prefix_range(county)
        fulfilled |= Q(village_id__gte=lo, village_id__lt=hi) & ~_visits_missing(year, county)
    return Spec(
        rows=Person.objects.filter(at_home_q(year)).filter(_has_contract(year)),
        numerator=Q(checked) & fulfilled,
        columns=PERSON_COLUMNS,
    )


def _record(year: int) -> Spec | None:
    _, dec31 = year_bounds(year)
    if not HealthRecord.objects.exists():
        return None
    has_record = Exists(HealthRecord.objects.filter(person_id=OuterRef("pk"), opened_on__lte=dec31))
    return Spec(rows=Person.objects.filter(served_q(year)), numerator=Q(has_record), columns=PERSON_COLUMNS)


def _checkup(year: int) -> Spec | None:
    jan1, dec31 = year_bounds(year)
    checks = Checkup.objects.filter(checked_on__gte=jan1, checked_on__lte=dec31)
    if not checks.exists():
        return None
    return Spec(
        rows=Person.objects.filter(served_q(year)),
        numerator=Q(Exists(checks.filter(person_id=OuterRef("pk")))),
        columns=PERSON_COLUMNS,
    )


def _chronic(disease_name: str, *, control: bool):
    def build(year: int) -> Spec | None:
        jan1, dec31 = year_bounds(year)
        disease = Disease.objects.filter(name=disease_name).first()
        if disease is None:
            return None
        items = FollowUpItem.objects.filter(
            disease_id=disease.pk, visited_on__gte=jan1, visited_on__lte=dec31
        )
        if not items.exists():
            return None
        # Uncorrelated IN-subqueries: each is computed once (a hash semi-join), not once per person.
        ill = Condition.objects.filter(disease_id=disease.pk).values("person_id")
        rows = Person.objects.filter(served_q(year)).filter(pk__in=ill)
        if control:
            later = items.filter(person_id=OuterRef("person_id"), visited_on__gt=OuterRef("visited_on"))
            latest_controlled = items.filter(classification=Classification.CONTROLLED).filter(~Exists(later))
            numerator = Q(pk__in=latest_controlled.values("person_id"))
        else:
            enough = (
                items.filter(face_to_face=True)
                .order_by()
                .values("person_id")
                .annotate(n=Count("pk"))
                .filter(n__gte=STANDARD_VISITS)
                .values("person_id")
            )
            numerator = Q(pk__in=enough)
        return Spec(rows=rows, numerator=numerator, columns=PERSON_COLUMNS)

    return build


def _cards(year: int) -> Spec | None:
    jan1, dec31 = year_bounds(year)
    cards = ChronicCard.objects.filter(certified_on__gte=jan1, certified_on__lte=dec31)
    if not cards.exists():
        return None
    # A chronic or special chronic disease of the person's county's catalogue on 31 December.
    in_catalogue = catalogue_q(dec31, village="person__village_id", disease="disease_id", kinds=CARD_KINDS)
    eligible = Exists(Condition.objects.filter(in_catalogue, person_id=OuterRef("pk")))
    return Spec(
        rows=cards.filter(target_q(year, "person__")),
        numerator=Q(),
        village="person__village_id",
        person="person__",
        month="certified_on",
        columns=(
            *person_columns("person__"),
            Column("病种", "disease__name"),
            Column("认定日期", "certified_on"),
            Column("认定机构", "institution__name"),
            Column("卡号", "card_no"),
        ),
        den_rows=Person.objects.filter(served_q(year)).filter(eligible),
        den_columns=PERSON_COLUMNS,
    )


CARE_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="contract_rate",
        name="签约率",
        formula="在家目标人群中签约覆盖年度内任一天的人数 ÷ 在家目标人群人数",
        source="care",
        build=_contract,
        target=Decimal("1"),
        numerator_label="签约人数",
        denominator_label="在家目标人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="fulfilment_rate",
        name="履约率",
        formula="签约目标人群中按规则完成全部随访且年度体检的人数 ÷ 签约目标人群人数",
        source="care",
        build=_fulfilment,
        target=Decimal("0.9"),
        numerator_label="履约人数",
        denominator_label="签约人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="record_rate",
        name="健康档案建档率",
        formula="有健康档案的目标人群人数 ÷ 目标人群人数（不含死亡、失联）",
        source="care",
        build=_record,
        target=Decimal("0.9"),
        numerator_label="建档人数",
        denominator_label="目标人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="checkup_rate",
        name="体检率",
        formula="年度内有健康体检的目标人群人数 ÷ 目标人群人数（不含死亡、失联）",
        source="care",
        build=_checkup,
        target=Decimal("0.9"),
        numerator_label="体检人数",
        denominator_label="目标人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="htn_standard_rate",
        name="高血压规范管理率",
        formula="高血压目标人群中年度内面对面随访≥4次的人数 ÷ 高血压目标人群人数",
        source="care",
        build=_chronic(HYPERTENSION, control=False),
        target=Decimal("0.9"),
        numerator_label="规范管理人数",
        denominator_label="高血压人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="htn_control_rate",
        name="血压控制率",
        formula="高血压目标人群中年度最近一次随访控制满意的人数 ÷ 高血压目标人群人数",
        source="care",
        build=_chronic(HYPERTENSION, control=True),
        target=Decimal("0.6"),
        numerator_label="控制满意人数",
        denominator_label="高血压人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="dm_standard_rate",
        name="糖尿病规范管理率",
        formula="2型糖尿病目标人群中年度内面对面随访≥4次的人数 ÷ 2型糖尿病目标人群人数",
        source="care",
        build=_chronic(DIABETES, control=False),
        target=Decimal("0.9"),
        numerator_label="规范管理人数",
        denominator_label="糖尿病人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="dm_control_rate",
        name="血糖控制率",
        formula="2型糖尿病目标人群中年度最近一次随访控制满意的人数 ÷ 2型糖尿病目标人群人数",
        source="care",
        build=_chronic(DIABETES, control=True),
        target=Decimal("0.6"),
        numerator_label="控制满意人数",
        denominator_label="糖尿病人数",
        group="慢病签约服务管理",
    ),
    Indicator(
        code="chronic_card_count",
        name="慢病卡办理数",
        formula="年度内为目标人群认定的慢病卡张数（分母：患慢病或门诊慢特病的目标人群人数，不含死亡、失联）",
        source="care",
        build=_cards,
        unit="张",
        numerator_label="办卡张数",
        denominator_label="慢病患者人数",
        group="慢病签约服务管理",
    ),
)
