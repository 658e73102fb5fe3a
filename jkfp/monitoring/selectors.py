"""防返贫监测查询 Monitoring reads, always scoped to the user's region through the person's village.

A case, alert or attachment belongs to the region of its person's village (domain.md §9); a user
sees only those inside their region, and a detail read outside it raises ``Http404`` (never 403).
``deadlines`` and ``rural_income`` read county parameters (no persons) and are not scoped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from jkfp.accounts.models import Role, User
from jkfp.accounts.scoping import region_narrow, scope, user_prefix
from jkfp.care.models import Contract
from jkfp.monitoring import rules, workflow
from jkfp.monitoring.models import (
    Alert,
    AlertRule,
    CaseStatus,
    CaseStep,
    HealthMeasure,
    MonitoringCase,
    MonitoringParameter,
    StepAttachment,
)
from jkfp.regions.models import Region, RegionLevel, containing_codes, most_specific, prefix_range
from jkfp.registry.models import Person
from jkfp.settlement.models import Admission
from jkfp.treatment.models import MajorDiseaseCase

PERSON_VILLAGE = "person__village_id"
NOT_FOUND_CASE = "监测记录不存在或不在您的管辖范围内"
NOT_FOUND_ATTACHMENT = "附件不存在或不在您的管辖范围内"


# --- 参数 ---------------------------------------------------------------------------------------


def _scope(row: AlertRule | MonitoringParameter) -> str:
    return "" if row.county is None else row.county.prefix  # no region: the whole deployment


def parameter_in_force(*, county_code: str, year: int) -> MonitoringParameter | None:
    """监测参数 The parameter row of the most specific region containing the county (its own, its
    city's, its province's; issue 21 item 3) for ``year``, or None."""
    rows = MonitoringParameter.objects.select_related("county").filter(
        county_id__in=containing_codes(county_code), year=year
    )
    found = most_specific(rows, county_code, _scope)
    return found[0] if found else None


def deadlines(*, county_code: str, year: int) -> dict[str, int]:
    """办理时限 The deadlines (days) of a county and year: the parameter row in force, else the defaults."""
    row = parameter_in_force(county_code=county_code, year=year)
    if row is None:
        return dict(rules.DEFAULT_DEADLINES)
    return {name: getattr(row, name) for name in rules.DEFAULT_DEADLINES}


def rural_income(*, county_code: str, year: int) -> Decimal | None:
    """上年农村居民人均可支配收入 The income parameter of a county and year (the row in force), or None."""
    row = parameter_in_force(county_code=county_code, year=year)
    return None if row is None else row.rural_income_amount


def alert_rules_in_force(*, county_code: str, year: int) -> list[AlertRule]:
    """现行预警规则 The rules a county's scan applies in ``year``: per rule code the row of the most
    specific region containing the county (a county row — also an inactive one — overrides its
    city's, a city's its province's, a province's the deployment-wide defaults; issue 21 item 3), in
    id order; inactive ones included."""
    by_code: dict[str, list[AlertRule]] = defaultdict(list)
    for row in AlertRule.objects.select_related("county").filter(
        Q(county_id__in=containing_codes(county_code)) | Q(county__isnull=True), year=year
    ):
        by_code[row.code].append(row)
    chosen = [found[0] for rows in by_code.values() if (found := most_specific(rows, county_code, _scope))]
    return sorted(chosen, key=lambda r: r.pk)


def alert_rules(*, county_code: str, year: int) -> QuerySet[AlertRule]:
    """预警规则 The rules of a county and year (reference data, not scoped)."""
    return AlertRule.objects.filter(county_id=county_code[:6], year=year).order_by("id")


# --- 预警队列与监测页 ------------------------------------------------------------------------------


def cases(
    *,
    user: Any,
    status: str | None = None,
    region: str | None = None,
    year: int | None = None,
    overdue: bool = False,
    open_only: bool = False,
    rule_code: str | None = None,
    today: date | None = None,
) -> QuerySet[MonitoringCase]:
    """预警队列 Cases of the user's region: overdue first, then by deadline and alert date.

    ``overdue``: open cases whose current step's deadline has passed (``due_on < today``).
    """
    today = today or timezone.localdate()
    qs = scope(MonitoringCase.objects.all(), user, PERSON_VILLAGE)
    if status:
        qs = qs.filter(status=status)
    if year:
        qs = qs.filter(year=year)
    if open_only:
        qs = qs.exclude(status__in=workflow.CLOSED)
    if overdue:
        qs = qs.filter(due_on__lt=today).exclude(status__in=workflow.CLOSED)
    if rule_code:
        qs = qs.filter(Q(alerts__rule__code=rule_code)).distinct()
    qs = region_narrow(qs, region, PERSON_VILLAGE)
    return (
        qs.select_related("person", "person__village", "person__village__parent")
        .prefetch_related(Prefetch("alerts", queryset=Alert.objects.select_related("rule").order_by("id")))
        .order_by(F("due_on").asc(nulls_last=True), "-alerted_on", "-id")
    )


def case_get(*, user: Any, pk: int) -> MonitoringCase:
    """监测页 One case of the user's region with its alerts, steps (and attachments) and measures."""
    case = (
        scope(MonitoringCase.objects.all(), user, PERSON_VILLAGE)
        .select_related("person", "person__village", "person__village__parent", "household", "assignee")
        .prefetch_related(
            Prefetch(
                "alerts",
                queryset=Alert.objects.select_related("rule", "major_disease_case__disease").order_by("id"),
            ),
            Prefetch(
                "steps",
                queryset=CaseStep.objects.select_related("user")
                .prefetch_related("attachments")
                .order_by("at", "id"),
            ),
            Prefetch(
                "measures",
                queryset=HealthMeasure.objects.select_related(
                    "treatment_case__disease", "contract", "admission__institution"
                ).order_by("taken_on", "id"),
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404(NOT_FOUND_CASE)
    return case


def case_get_plain(*, user: Any, pk: int) -> MonitoringCase:
    """监测（不含明细） One case of the user's region, with its person, for writes; ``Http404`` otherwise."""
    case = (
        scope(MonitoringCase.objects.all(), user, PERSON_VILLAGE)
        .select_related("person")
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404(NOT_FOUND_CASE)
    return case


def attachment_get(*, user: Any, pk: int) -> StepAttachment:
    """附件 One attachment of a case in the user's region; ``Http404`` otherwise."""
    attachment = (
        scope(StepAttachment.objects.all(), user, "step__case__person__village_id")
        .select_related("step__case__person")
        .filter(pk=pk)
        .first()
    )
    if attachment is None:
        raise Http404(NOT_FOUND_ATTACHMENT)
    return attachment


@dataclass(frozen=True)
class MeasureOptions:
    """可关联记录 The person's own records a health measure may link."""

    treatment_cases: list[tuple[int, str]]
    contracts: list[tuple[int, str]]
    admissions: list[tuple[int, str]]


def measure_options(*, case: MonitoringCase) -> MeasureOptions:
    """可关联记录 The person's major-disease cases, contracts and deferred-payment admissions (case already scoped)."""
    treatment = [
        (c.pk, f"{c.disease.name}（确诊 {c.diagnosed_on:%Y-%m-%d}，{c.get_status_display()}）")
        for c in MajorDiseaseCase.objects.filter(person_id=case.person_id).select_related("disease")
    ]
    contracts = [
        (c.pk, f"签约 {c.signed_on:%Y-%m-%d} 至 {c.end_on:%Y-%m-%d}（{c.get_status_display()}）")
        for c in Contract.objects.filter(person_id=case.person_id).order_by("-signed_on")
    ]
    admissions = [
        (a.pk, f"{a.institution.name} 入院 {a.admitted_on:%Y-%m-%d}，免交押金 {a.deposit_waived_amount} 元")
        for a in Admission.objects.filter(person_id=case.person_id, deferred_payment=True)
        .select_related("institution")
        .order_by("-admitted_on")
    ]
    return MeasureOptions(treatment_cases=treatment, contracts=contracts, admissions=admissions)


def assignee_choices(*, case: MonitoringCase) -> list[tuple[int, str]]:
    """核实责任人候选 Active township and village-doctor users whose region contains the person's village."""
    village = case.person.village_id
    candidates = User.objects.filter(
        is_active=True, role__in=(Role.TOWNSHIP, Role.VILLAGE_DOCTOR), region__isnull=False
    ).filter(Q(region_id=village) | Q(region_id=f"{village[:9]}000"))
    return [(u.pk, f"{u}（{u.get_role_display()}）") for u in candidates.order_by("role", "username")]


def assignee_get(*, case: MonitoringCase, pk: int) -> User | None:
    """核实责任人 The candidate of ``assignee_choices`` with this id, or None."""
    if pk not in {candidate for candidate, _ in assignee_choices(case=case)}:
        return None
    return User.objects.filter(pk=pk).first()


def years(*, user: Any) -> list[int]:
    """年度 The years that have cases in the user's region, newest first (this year when none)."""
    found = list(
        scope(MonitoringCase.objects.all(), user, PERSON_VILLAGE)
        .order_by("-year")
        .values_list("year", flat=True)
        .distinct()
    )
    return found or [timezone.localdate().year]


# --- 县级概览 -----------------------------------------------------------------------------------


@dataclass
class OverviewRow:
    """概览行 One township: cases per status, open, overdue."""

    code: str
    name: str
    by_status: dict[str, int]
    total: int = 0
    open: int = 0
    overdue: int = 0


def overview(*, user: Any, year: int, today: date | None = None) -> list[OverviewRow]:
    """县级概览 Cases of the year per township of the user's region: counts by status, open and overdue.

    Two GROUP BY queries (status per township, overdue per township) over the scoped cases.
    """
    today = today or timezone.localdate()
    base = scope(MonitoringCase.objects.filter(year=year), user, PERSON_VILLAGE)
    township = "person__village__parent_id"
    counts = (
        base.values(township, "status")
        .annotate(n=Count("id"))
        .values_list(township, "status", "n")
        .order_by()
    )
    overdue = dict(
        base.filter(due_on__lt=today)
        .exclude(status__in=workflow.CLOSED)
        .values(township)
        .annotate(n=Count("id"))
        .values_list(township, "n")
        .order_by()
    )
    names = dict(
        scope(Region.objects.filter(level=RegionLevel.TOWNSHIP), user, "code").values_list("code", "name")
    )
    rows: dict[str, OverviewRow] = {}
    for code, status, n in counts:
        row = rows.get(code)
        if row is None:
            # A village doctor's region is one village: its township is outside the scope filter above.
            name = (
                names.get(code)
                or Region.objects.filter(code=code).values_list("name", flat=True).first()
                or code
            )
            row = rows[code] = OverviewRow(code=code, name=name, by_status=dict.fromkeys(workflow.ORDER, 0))
        row.by_status[status] += n
        row.total += n
        if status not in workflow.CLOSED:
            row.open += n
    for code, n in overdue.items():
        if code in rows:
            rows[code].overdue = n
    return [rows[code] for code in sorted(rows)]


# --- 台账与指标 ---------------------------------------------------------------------------------


def ledger_alerts(*, user: Any, region: Region, year: int) -> QuerySet[Alert]:
    """台账预警 Alerts of the year in ``region`` inside the user's scope, in township, village, person order."""
    lo, hi = prefix_range(region.prefix)
    return (
        scope(Alert.objects.filter(year=year), user, PERSON_VILLAGE)
        .filter(person__village_id__gte=lo, person__village_id__lt=hi)
        .order_by(PERSON_VILLAGE, "person_id", "id")
    )


@dataclass(frozen=True)
class AlertHandling:
    """预警处置率数据 ``alert_handling_rate`` of a year and region (domain.md §9).

    Numerator: alerts of the year whose case was verified (home visit recorded) on or before the
    alert's verification deadline (``Alert.verify_due_on``). Denominator: alerts of the year
    (``Alert.year``: the calendar year whose payments or diagnosis raised it). Counts are alerts;
    the person lists are the distinct persons behind each.
    """

    numerator: int
    denominator: int
    numerator_persons: QuerySet[Person]
    denominator_persons: QuerySet[Person]

    @property
    def rate(self) -> Decimal | None:
        """比率 numerator ÷ denominator (None when there is no alert)."""
        return None if self.denominator == 0 else Decimal(self.numerator) / Decimal(self.denominator)


def alert_handling(*, user: Any, year: int, region: Region | None = None) -> AlertHandling:
    """预警处置率 The numerator and denominator of ``alert_handling_rate`` for ``year`` in ``region``.

    ``region`` (county, township or village) defaults to the user's region and is always narrowed to
    the user's scope. Two COUNT queries; the person lists are lazy querysets (ordered by village, id).
    """
    alerts = scope(Alert.objects.filter(year=year), user, PERSON_VILLAGE)
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        alerts = alerts.filter(person__village_id__gte=lo, person__village_id__lt=hi)
    handled = alerts.filter(case__verified_on__isnull=False, case__verified_on__lte=F("verify_due_on"))
    return AlertHandling(
        numerator=handled.count(),
        denominator=alerts.count(),
        numerator_persons=Person.objects.filter(pk__in=handled.values("person_id")).order_by(
            "village_id", "id"
        ),
        denominator_persons=Person.objects.filter(pk__in=alerts.values("person_id")).order_by(
            "village_id", "id"
        ),
    )


def case_status_label(status: str) -> str:
    return str(CaseStatus(status).label)


def rule_choices(*, user: Any) -> list[tuple[str, str]]:
    """规则选项 ``(code, name)`` of the rules of the user's county — a city's or province's: of all its
    counties — and of the deployment-wide defaults, any year (reference data)."""
    prefix = user_prefix(user)
    if prefix is None:
        return []
    lo, hi = prefix_range(prefix[:6])  # a township's or village's county; a city's or province's counties
    seen: dict[str, str] = {}
    for code, name in (
        AlertRule.objects.filter(Q(county_id__gte=lo, county_id__lt=hi) | Q(county__isnull=True))
        .order_by("code", "-year")
        .values_list("code", "name")
    ):
        seen.setdefault(code, name)
    return sorted(seen.items())


def is_overdue(case: MonitoringCase, *, today: date | None = None) -> bool:
    """逾期 True when an open case's current step is past its deadline."""
    today = today or timezone.localdate()
    return case.due_on is not None and case.due_on < today and case.status not in workflow.CLOSED


def measure_records(
    *, case: MonitoringCase, treatment_case_id: int | None, contract_id: int | None, admission_id: int | None
) -> dict[str, Any]:
    """措施关联记录 The chosen records if they are the case person's own (None otherwise; the service says why)."""
    person = case.person_id
    return {
        "treatment_case": MajorDiseaseCase.objects.filter(pk=treatment_case_id, person_id=person).first()
        if treatment_case_id
        else None,
        "contract": Contract.objects.filter(pk=contract_id, person_id=person).first()
        if contract_id
        else None,
        "admission": Admission.objects.filter(pk=admission_id, person_id=person).first()
        if admission_id
        else None,
    }
