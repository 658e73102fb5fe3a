"""基层能力指标 Primary-care capacity indicators (issue 16 item 6, domain.md §12).

The figures of a year are those on its as-of date: 31 December, or today for the current year
(``capacity_as_of``). Which village, clinic or township meets the standard comes from the one home of
the rules, ``jkfp.capacity.standard`` (via ``capacity.selectors.assessments_all``); the specs here list
those units as querysets so that the figure, its drill-down and the ledgers agree:

- ``clinic_coverage_rate`` 标准化村卫生室覆盖率: villages served on the date by a standardised
  government-run clinic, or covered by the exception (乡镇卫生院所在村或邻近村) ÷ villages;
- ``qualified_doctor_rate`` 合格村医配备率: government-run clinics with a qualified village doctor on post ÷
  government-run clinics (located in the region);
- ``township_centre_rate`` 乡镇卫生院达标率: townships that are ok ÷ townships;
- ``blank_point_count`` 空白点数: blank points ÷ units checked (villages + clinics + townships); its
  drill-down is the capacity page, which lists each blank point with its reason;
- ``telemedicine_rate`` 远程医疗覆盖率: 县级医院, 中医医院 and 乡镇卫生院 connected on the date ÷ those
  institutions (located in the region);
- ``training_count`` 培训人次: attendees of the trainings held in the year, by the attending institution.

暂无数据 until institutions are recorded with their kind (resp. any telemedicine link, any training).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from jkfp.capacity import selectors as capacity
from jkfp.capacity.models import TelemedicineLink, Training, TrainingAttendance, connected_q
from jkfp.capacity.standard import VILLAGE_EXCEPTION, VILLAGE_LABELS, Assessment
from jkfp.indicators.definitions import Column, Indicator, Spec
from jkfp.regions.models import Institution, InstitutionKind, Region, RegionLevel

TELEMEDICINE_KINDS = (
    InstitutionKind.COUNTY_HOSPITAL,
    InstitutionKind.TCM_HOSPITAL,
    InstitutionKind.TOWNSHIP_CENTRE,
)
GROUP = "医疗卫生服务能力"


def capacity_as_of(year: int) -> date:
    """统计日期 The date a year's capacity figures describe: 31 December, or today within the year."""
    return min(date(year, 12, 31), timezone.localdate())


def _assessments(year: int) -> list[Assessment] | None:
    if not capacity.has_facilities():
        return None
    return capacity.assessments_all(as_of=capacity_as_of(year))


def _status(codes: dict[str, str]) -> Case:
    """A Case that labels a row by its code (the assessment's label, computed in Python)."""
    whens = [
        When(code__in=[c for c, s in codes.items() if s == label], then=Value(label))
        for label in set(codes.values())
    ]
    return Case(*whens, default=Value(""), output_field=CharField())


def _coverage(year: int) -> Spec | None:
    found = _assessments(year)
    if found is None:
        return None
    as_of = capacity_as_of(year)
    labels: dict[str, str] = {}
    covered: list[str] = []
    for result in found:
        for village in result.villages:
            standardised = any(c.standardised_at(as_of) for c in village.clinics)
            label = VILLAGE_LABELS[village.status]
            if village.clinics:
                label += "（已标准化）" if standardised else "（未标准化）"
            labels[village.code] = label
            if standardised or village.status == VILLAGE_EXCEPTION:
                covered.append(village.code)
    rows = Region.objects.filter(level=RegionLevel.VILLAGE).annotate(cap_status=_status(labels))
    return Spec(
        rows=rows,
        numerator=Q(code__in=covered),
        village="code",
        columns=(
            Column("乡镇", "parent__name"),
            Column("村", "name"),
            Column("村代码", "code"),
            Column("状况", "cap_status"),
        ),
    )


def _qualified(year: int) -> Spec | None:
    found = _assessments(year)
    if found is None:
        return None
    qualified = [c.facility.code for result in found for c in result.clinics if c.has_qualified_doctor]
    rows = Institution.objects.filter(
        kind=InstitutionKind.VILLAGE_CLINIC, government_run=True, region__isnull=False
    )
    return Spec(
        rows=rows,
        numerator=Q(code__in=qualified),
        village="region_id",
        columns=(
            Column("乡镇", "region__parent__name"),
            Column("村", "region__name"),
            Column("村卫生室", "name"),
            Column("机构代码", "code"),
        ),
    )


def _townships(year: int) -> Spec | None:
    found = _assessments(year)
    if found is None:
        return None
    labels = {
        t.code: ("达标" if t.ok else f"未达标：{t.reason}") for result in found for t in result.townships
    }
    ok = [code for code, label in labels.items() if label == "达标"]
    rows = Region.objects.filter(level=RegionLevel.TOWNSHIP).annotate(cap_status=_status(labels))
    return Spec(
        rows=rows,
        numerator=Q(code__in=ok),
        village="code",
        columns=(Column("乡镇", "name"), Column("乡镇代码", "code"), Column("状况", "cap_status")),
    )


def _blank_points(year: int) -> Spec | None:
    """空白点 blank points ÷ units checked, per region code (figures from the assessment; drill-down: the
    capacity page)."""
    found = _assessments(year)
    if found is None:
        return None
    figures: dict[str, tuple[Decimal, Decimal]] = {}

    def add(code: str | None, blank: bool) -> None:
        if not code:
            return
        num, den = figures.get(code, (Decimal(0), Decimal(0)))
        figures[code] = (num + (1 if blank else 0), den + 1)

    for result in found:
        blanks = {b.subject for b in result.blank_points}
        for village in result.villages:
            add(village.code, f"blank:village:{village.code}" in blanks)
        for clinic in result.clinics:
            add(clinic.facility.region_code, bool(clinic.reason))
        for township in result.townships:
            add(township.code, not township.ok)
    return Spec(rows=Region.objects.none(), numerator=Q(), village="code", figures=figures)


def _telemedicine(year: int) -> Spec | None:
    if not TelemedicineLink.objects.exists():
        return None
    as_of = capacity_as_of(year)
    rows = Institution.objects.filter(kind__in=TELEMEDICINE_KINDS, region__isnull=False)
    return Spec(
        rows=rows,
        numerator=connected_q(as_of, "telemedicine__"),
        village="region_id",
        columns=(
            Column("所在地区", "region__name"),
            Column("机构", "name"),
            Column("类型", "kind", labels={v: str(lbl) for v, lbl in InstitutionKind.choices}),
            Column("接入日期", "telemedicine__connected_on"),
            Column("停用日期", "telemedicine__disconnected_on"),
        ),
    )


def _training(year: int) -> Spec | None:
    if not Training.objects.exists():
        return None
    rows = TrainingAttendance.objects.filter(training__held_on__year=year, institution__region__isnull=False)
    return Spec(
        rows=rows,
        numerator=Q(),
        village="institution__region_id",
        num_sum="attendees_count",
        den_sum="attendees_count",
        month="training__held_on",
        columns=(
            Column("培训日期", "training__held_on"),
            Column("培训主题", "training__topic"),
            Column("主办单位", "training__organiser"),
            Column("参训机构", "institution__name"),
            Column("参训人数", "attendees_count"),
        ),
    )


CAPACITY_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="clinic_coverage_rate",
        name="标准化村卫生室覆盖率",
        formula="由标准化政府办村卫生室服务或由乡镇卫生院覆盖（例外）的行政村数 ÷ 行政村数（年末或今天）",
        source="capacity",
        build=_coverage,
        unit="个村",
        target=Decimal("1"),
        numerator_label="覆盖的村",
        denominator_label="行政村",
        group=GROUP,
    ),
    Indicator(
        code="qualified_doctor_rate",
        name="合格村医配备率",
        formula="有在岗合格村医（乡村医生证或以上）的政府办村卫生室数 ÷ 政府办村卫生室数",
        source="capacity",
        build=_qualified,
        unit="所",
        target=Decimal("1"),
        numerator_label="有合格村医",
        denominator_label="村卫生室",
        group=GROUP,
    ),
    Indicator(
        code="township_centre_rate",
        name="乡镇卫生院达标率",
        formula="有政府办、标准化且有执业（助理）医师或全科医生的乡镇卫生院的乡镇数 ÷ 乡镇数",
        source="capacity",
        build=_townships,
        unit="个乡镇",
        target=Decimal("1"),
        numerator_label="达标乡镇",
        denominator_label="乡镇",
        group=GROUP,
    ),
    Indicator(
        code="blank_point_count",
        name="空白点数",
        formula="无卫生室又无卫生院覆盖的村、无合格村医的村卫生室、卫生院未达标的乡镇（分母：检查的村、村卫生室和乡镇）",
        source="capacity",
        build=_blank_points,
        unit="个",
        target=Decimal("0"),
        numerator_label="空白点",
        denominator_label="检查单元",
        group=GROUP,
        extra={"count": True, "lower_is_better": True, "drill": "capacity:overview"},
    ),
    Indicator(
        code="telemedicine_rate",
        name="远程医疗覆盖率",
        formula="接入远程医疗的县级医院、中医医院和乡镇卫生院数 ÷ 县级医院、中医医院和乡镇卫生院数",
        source="capacity",
        build=_telemedicine,
        unit="所",
        target=Decimal("1"),
        numerator_label="已接入",
        denominator_label="县级医院和乡镇卫生院",
        group=GROUP,
    ),
    Indicator(
        code="training_count",
        name="培训人次",
        formula="年度内举办的培训的参训人次（按参训机构所在地区）",
        source="capacity",
        build=_training,
        unit="人次",
        numerator_label="参训人次",
        denominator_label="参训人次",
        group=GROUP,
        extra={"count": True},
    ),
)
