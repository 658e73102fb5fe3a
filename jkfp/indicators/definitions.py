"""指标定义 The indicators of domain.md §9 as code: name, formula, data source, target and the rows behind them.

Each indicator is an ``Indicator`` whose ``build(year)`` returns a ``Spec`` — the rows it counts (a
queryset of persons, cases, claims …), the path from a row to its village code, the denominator and
numerator filters and, for money indicators, the summed amounts — or ``None`` when the data the
indicator needs does not exist for that year (暂无数据: shown as such, never as zero).

The same ``Spec`` serves the per-village ``GROUP BY`` (``compute.py``) and the drill-down lists
(``selectors.py``), so a drill-down always lists exactly as many rows as the number it came from.

Populations (domain.md §9, decided in docs/adr/0008-indicators.md):

- **target persons** of year Y: holding on 31 December Y — or on their date of death, when that falls
  in Y — a tag among poor / monitored / tekun / dibao; persons who died before Y are not targets.
  A person is one row (the ID number is unique), so nobody counts twice.
- **served target persons**: target persons not dead (status 死亡 or a death date up to 31 Dec) and
  not lost (失联): the denominators of services that a dead or lost person cannot receive
  (records, checks, chronic-disease management).
- **living at home**: target persons whose status is not in ``JKFP_INDICATOR_NOT_AT_HOME``
  (default 死亡, 外出, 失联) and who have no death date up to 31 Dec: the contract denominator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When

from jkfp.registry.models import (
    TARGET_TAGS,
    Condition,
    Enrolment,
    LivingStatus,
    Person,
    Tag,
    VerificationStatus,
)
from jkfp.treatment.models import CaseStatus, MajorDiseaseCase

NO_DATA_TEXT = "暂无数据"
DEFAULT_NOT_AT_HOME = (LivingStatus.DEAD, LivingStatus.AWAY, LivingStatus.LOST)


@dataclass(frozen=True)
class Column:
    """明细列 A column of the drill-down list and its export: Chinese header and value path."""

    label: str
    path: str
    money: bool = False
    labels: dict[str, str] | None = None  # choice value → Chinese label


@dataclass
class Spec:
    """指标口径 The rows an indicator counts for one year.

    ``rows`` holds every row of the denominator (already filtered); ``numerator`` narrows them to the
    numerator. ``village`` is the path from a row to its village code, ``person`` the path to the
    person (``""`` when the rows are persons). For money indicators ``num_sum``/``den_sum`` are the
    paths of the amounts summed over the numerator and denominator rows.
    """

    rows: QuerySet[Any]
    numerator: Q
    village: str = "village_id"
    person: str = ""
    num_sum: Any = None  # a path or an expression (F sums)
    den_sum: Any = None
    month: str | None = None  # date path of the row: monthly trend rows
    columns: tuple[Column, ...] = ()
    # Optional separate denominator rows (a different unit), e.g. persons for a count of cards.
    den_rows: QuerySet[Any] | None = None
    den_village: str = "village_id"
    den_columns: tuple[Column, ...] = ()
    # Optional village codes that have data (a flat values_list): regions with none of them are
    # 暂无数据 (null) rather than 0 — e.g. enrolment loaded for some townships only.
    coverage: QuerySet[Any] | None = None
    # Optional figures computed elsewhere (by the one home of a rule that is not a queryset, e.g. the
    # capacity standard): ``region code → (numerator, denominator)``, rolled up like village figures.
    figures: dict[str, tuple[Decimal, Decimal]] | None = None


@dataclass(frozen=True)
class Indicator:
    """指标 One indicator of domain.md §9."""

    code: str
    name: str
    formula: str
    source: str  # the app whose data it needs
    build: Callable[[int], Spec | None]
    unit: str = "人"
    money: bool = False
    target: Decimal | None = None  # the value the county must reach (None: no target)
    numerator_label: str = "分子"
    denominator_label: str = "分母"
    group: str = "精准识别"
    extra: dict[str, Any] = field(default_factory=dict)


# --- populations ---------------------------------------------------------------------------------


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def target_person_ids(year: int) -> QuerySet[Tag]:
    """目标人群编号 An uncorrelated subquery of the ids of the target persons of ``year``.

    Used as ``id IN (…)`` in WHERE: both databases run it once (PostgreSQL as a hashed semi-join,
    SQLite as a materialised index) instead of a correlated EXISTS per row under an OR.
    """
    jan1, dec31 = year_bounds(year)
    at_end = (
        (Q(person__death_on__isnull=True) | Q(person__death_on__gt=dec31))
        & Q(start_on__lte=dec31)
        & (Q(end_on__isnull=True) | Q(end_on__gte=dec31))
    )
    at_death = (
        Q(person__death_on__gte=jan1, person__death_on__lte=dec31)
        & Q(start_on__lte=F("person__death_on"))
        & (Q(end_on__isnull=True) | Q(end_on__gte=F("person__death_on")))
    )
    return Tag.objects.filter(code__in=TARGET_TAGS).filter(at_end | at_death).values("person_id")


def target_q(year: int, path: str = "") -> Q:
    """目标人群 Q over persons (or rows whose ``path`` leads to a person) of the target persons of ``year``."""
    field = "pk__in" if not path else f"{path[:-2]}_id__in"
    return Q(**{field: target_person_ids(year)})


def _gone_q(year: int, path: str, statuses: tuple[str, ...]) -> Q:
    _, dec31 = year_bounds(year)
    return Q(**{f"{path}living_status__in": list(statuses)}) | Q(**{f"{path}death_on__lte": dec31})


def served_q(year: int, path: str = "") -> Q:
    """服务人群 Target persons not dead and not lost (denominators of services)."""
    return target_q(year, path) & ~_gone_q(year, path, (LivingStatus.DEAD, LivingStatus.LOST))


def not_at_home_statuses() -> tuple[str, ...]:
    return tuple(getattr(settings, "JKFP_INDICATOR_NOT_AT_HOME", DEFAULT_NOT_AT_HOME))


def at_home_q(year: int, path: str = "") -> Q:
    """在家人群 Target persons living at home (the contract denominator)."""
    return target_q(year, path) & ~_gone_q(year, path, not_at_home_statuses())


def target_persons(year: int) -> QuerySet[Person]:
    return Person.objects.filter(target_q(year))


LIVING_LABELS = {value: str(label) for value, label in LivingStatus.choices}
PERSON_COLUMNS = (
    Column("乡镇", "village__parent__name"),
    Column("村", "village__name"),
    Column("姓名", "name"),
    Column("身份证号", "id_number"),
    Column("居住状态", "living_status", labels=LIVING_LABELS),
)


def person_columns(path: str) -> tuple[Column, ...]:
    return tuple(Column(c.label, f"{path}{c.path}", c.money, c.labels) for c in PERSON_COLUMNS)


# --- registry and treatment ----------------------------------------------------------------------


def _verification(year: int) -> Spec | None:

    rows = Person.objects.filter(target_q(year)).filter(pk__in=Condition.objects.values("person_id"))
    if not Person.objects.exists():
        return None
    done = Q(verification_status__in=[VerificationStatus.CONFIRMED, VerificationStatus.REJECTED])
    return Spec(
        rows=rows,
        numerator=done,
        columns=(
            *PERSON_COLUMNS,
            Column("核实状态", "verification_status", labels=dict(VerificationStatus.choices)),
            Column("核实日期", "verified_on"),
        ),
    )


ENROLMENT_LABELS = {"insured": "已参保", "uninsured": "未参保", "": "无参保记录"}


def enrolment_status(year: int) -> Case:
    """参保状态 "insured" / "uninsured" from a person's enrolment record of ``year``; "" without one."""

    of_year = Enrolment.objects.filter(person_id=OuterRef("pk"), year=year)
    return Case(
        When(Exists(of_year.filter(insured=True)), then=Value("insured")),
        When(Exists(of_year), then=Value("uninsured")),
        default=Value(""),
        output_field=CharField(),
    )


def _enrolment(year: int) -> Spec | None:
    """参保率 Target persons insured in the year ÷ target persons (every target person: one who died in
    the year was still to be insured; one who died before is no target). 暂无数据 without any enrolment
    record of the year, and for each region none of whose villages has one."""

    records = Enrolment.objects.filter(year=year)
    if not records.exists():
        return None
    of_year = Enrolment.objects.filter(person_id=OuterRef("pk"), year=year)
    rows = Person.objects.filter(target_q(year)).annotate(
        enrol_status=enrolment_status(year),
        enrol_premium=Subquery(of_year.values("premium_paid")[:1]),
        enrol_subsidy=Subquery(of_year.values("subsidy_amount")[:1]),
    )
    return Spec(
        rows=rows,
        numerator=Q(pk__in=records.filter(insured=True).values("person_id")),
        columns=(
            *PERSON_COLUMNS,
            Column("参保状态", "enrol_status", labels=ENROLMENT_LABELS),
            Column("个人缴费", "enrol_premium", money=True),
            Column("资助金额", "enrol_subsidy", money=True),
        ),
        coverage=records.order_by().values_list("person__village_id", flat=True).distinct(),
    )


def _major_treatment(year: int) -> Spec | None:
    _, dec31 = year_bounds(year)
    cases = MajorDiseaseCase.objects.filter(diagnosed_on__lte=dec31)
    if not cases.exists():
        return None
    rows = cases.filter(target_q(year, "person__")).exclude(status=CaseStatus.NOT_NEEDED)
    return Spec(
        rows=rows,
        numerator=Q(status__in=[CaseStatus.TREATED, CaseStatus.IN_TREATMENT]),
        village="person__village_id",
        person="person__",
        columns=(
            *person_columns("person__"),
            Column("病种", "disease__name"),
            Column("确诊日期", "diagnosed_on"),
            Column("救治状态", "status", labels=dict(CaseStatus.choices)),
        ),
    )


REGISTRY_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="verification_rate",
        name="核准率",
        formula="患病目标人群中核实状态为已核准或已否决的人数 ÷ 患病目标人群人数",
        source="registry",
        build=_verification,
        target=Decimal("1"),
        numerator_label="已核实人数",
        denominator_label="患病目标人数",
        group="精准识别",
    ),
    Indicator(
        code="enrolment_rate",
        name="参保率",
        formula="年度内参保的目标人群人数 ÷ 目标人群人数",
        source="enrolment",
        build=_enrolment,
        target=Decimal("1"),
        numerator_label="参保人数",
        denominator_label="目标人数",
        group="精准识别",
    ),
    Indicator(
        code="major_treatment_rate",
        name="大病救治率",
        formula="大病病例中已救治或救治中的例数 ÷ 大病病例中除无需救治外的例数（目标人群，确诊于年末前）",
        source="treatment",
        build=_major_treatment,
        unit="例",
        numerator_label="已救治+救治中",
        denominator_label="应救治病例",
        group="三个一批",
    ),
)
