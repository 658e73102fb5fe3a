"""能力查询 Reads of the capacity app: the facts the standard is assessed on, and scoped lists for pages.

``facts`` reads one region's townships, villages, institutions (located in it, or serving one of its
villages from outside), their staff and the standard in force in each county — a handful of queries
whatever the size — and ``assessment`` hands them to ``standard.assess``. Every read that takes a user
is scoped through ``accounts.scoping``: a township user sees the institutions and staff of the
township only, and an institution outside the user's region is ``Http404``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from jkfp.accounts.scoping import code_q
from jkfp.capacity.models import (
    CapacityStandard,
    PairedSupport,
    Staff,
    Teleconsultation,
    TelemedicineLink,
    Training,
    TrainingAttendance,
    connected_q,
    on_post_q,
)
from jkfp.capacity.standard import (
    DEFAULT_STANDARD,
    Area,
    Assessment,
    Facility,
    Facts,
    Standard,
    Worker,
    assess,
)
from jkfp.regions.models import Institution, Region, RegionLevel, prefix_range

NOT_FOUND_INSTITUTION = "机构不存在或不在您的管辖范围内"


def standards_for(*, counties: Iterable[str], on: date) -> dict[str, Standard]:
    """在用标准 The standard in force on ``on`` in each county (the latest row covering it, else the default)."""
    wanted = sorted(set(counties))
    out = dict.fromkeys(wanted, DEFAULT_STANDARD)
    rows = (
        CapacityStandard.objects.filter(county_id__in=wanted, start_on__lte=on)
        .filter(Q(end_on__isnull=True) | Q(end_on__gte=on))
        .order_by("county_id", "start_on")
    )
    for row in rows:
        out[row.county_id] = Standard(
            county_hospitals_min=row.county_hospitals_min,
            county_hospital_level_min=row.county_hospital_level_min,
            township_standardised=row.township_standardised,
            township_physicians_min=row.township_physicians_min,
            village_standardised=row.village_standardised,
            clinic_doctors_min=row.clinic_doctors_min,
            source=row.note or f"{row.start_on:%Y-%m-%d}起执行的本县标准",
        )
    return out


def _area(region: Region) -> Area:
    return Area(region.code, region.name, region.level)


def facts(*, region: Region, as_of: date) -> Facts:
    """评估事实 What ``standard.assess`` needs about ``region`` (staff of every period: the rules date them)."""
    lo, hi = prefix_range(region.prefix)
    areas = (
        Region.objects.filter(code__gte=lo, code__lt=hi).order_by("code").values_list("code", "name", "level")
    )
    townships: list[Area] = []
    villages: list[Area] = []
    counties: list[Area] = []
    for code, name, level in areas:
        area = Area(code, name, level)
        if level == RegionLevel.TOWNSHIP:
            townships.append(area)
        elif level == RegionLevel.VILLAGE:
            villages.append(area)
        elif level == RegionLevel.COUNTY:
            counties.append(area)
    through = Institution.served_villages.through
    serving = through.objects.filter(region_id__gte=lo, region_id__lt=hi).values("institution_id")
    institutions = Institution.objects.filter(Q(region_id__gte=lo, region_id__lt=hi) | Q(code__in=serving))
    served: dict[str, list[str]] = {}
    for code, village in (
        through.objects.filter(institution_id__in=institutions.values("code"))
        .order_by("institution_id", "region_id")
        .values_list("institution_id", "region_id")
    ):
        served.setdefault(code, []).append(village)
    facilities = [
        Facility(
            code=code,
            name=name,
            kind=kind,
            government_run=gov,
            level=level,
            region_code=region_id,
            standardised=standardised,
            standardised_on=standardised_on,
            served=tuple(served.get(code, ())),
        )
        for code, name, kind, gov, level, region_id, standardised, standardised_on in institutions.values_list(
            "code", "name", "kind", "government_run", "level", "region_id", "standardised", "standardised_on"
        )
    ]
    staff = [
        Worker(name, institution, post, qualification, start_on, end_on)
        for name, institution, post, qualification, start_on, end_on in Staff.objects.filter(
            institution_id__in=institutions.values("code")
        ).values_list("name", "institution_id", "post", "qualification", "start_on", "end_on")
    ]
    # Every county's own standard: the region's, the counties inside a city or province, the facilities'.
    county_codes = (
        {region.code[:6]}
        | {c.code for c in counties}
        | {f.region_code[:6] for f in facilities if f.region_code}
    )
    return Facts(
        region=_area(region),
        townships=townships,
        villages=villages,
        facilities=facilities,
        staff=staff,
        standards=standards_for(counties=county_codes, on=as_of),
        counties=counties,
    )


def assessment(*, region: Region, as_of: date) -> Assessment:
    """评估 The standard and the blank points of ``region`` on ``as_of``."""
    return assess(facts(region=region, as_of=as_of), as_of=as_of)


def has_facilities() -> bool:
    """有机构类型数据 True once any institution is recorded as a clinic or a township/community centre."""
    return Institution.objects.filter(
        kind__in=["village_clinic", "township_centre", "community_centre"]
    ).exists()


# --- scoped reads for pages ------------------------------------------------------------------------


def institutions(*, user: Any, region: Region | None = None) -> QuerySet[Institution]:
    """机构列表 Institutions located in the user's region (or in ``region`` inside it)."""
    qs = Institution.objects.filter(code_q(user, "region_id"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(region_id__gte=lo, region_id__lt=hi)
    return qs.select_related("region").order_by("region_id", "code")


def institution_get(*, user: Any, code: str) -> Institution:
    found = institutions(user=user).filter(code=code).first()
    if found is None:
        raise Http404(NOT_FOUND_INSTITUTION)
    return found


def staff(
    *, user: Any, region: Region | None = None, institution: Institution | None = None, on: date | None = None
) -> QuerySet[Staff]:
    """卫生人员 Staff of institutions in the user's region (optionally of one region or institution, on a date)."""
    qs = Staff.objects.filter(code_q(user, "institution__region_id"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(institution__region_id__gte=lo, institution__region_id__lt=hi)
    if institution is not None:
        qs = qs.filter(institution=institution)
    if on is not None:
        qs = qs.filter(on_post_q(on))
    return qs.select_related("institution").order_by("institution_id", "name", "start_on", "pk")


def supports(*, user: Any, region: Region | None = None, year: int | None = None) -> QuerySet[PairedSupport]:
    """对口帮扶 Support received by institutions in the user's region (overlapping ``year`` when given)."""
    qs = PairedSupport.objects.filter(code_q(user, "supported__region_id"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(supported__region_id__gte=lo, supported__region_id__lt=hi)
    if year is not None:
        qs = qs.filter(start_on__lte=date(year, 12, 31)).filter(
            Q(end_on__isnull=True) | Q(end_on__gte=date(year, 1, 1))
        )
    return qs.select_related("supporting", "supported").order_by("supported_id", "start_on", "pk")


def telemedicine(
    *, user: Any, region: Region | None = None, year: int | None = None
) -> QuerySet[TelemedicineLink]:
    """远程医疗 Links of institutions in the user's region, with their consultations (of ``year`` when given)."""
    qs = TelemedicineLink.objects.filter(code_q(user, "institution__region_id"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(institution__region_id__gte=lo, institution__region_id__lt=hi)
    months = Q(months__month__year=year) if year is not None else Q()
    return (
        qs.select_related("institution")
        .annotate(consultations=Sum("months__consultations_count", filter=months))
        .order_by("institution__region_id", "institution_id")
    )


def attendances(
    *, user: Any, region: Region | None = None, year: int | None = None
) -> QuerySet[TrainingAttendance]:
    """参训 Attendance of institutions in the user's region (of trainings held in ``year`` when given)."""
    qs = TrainingAttendance.objects.filter(code_q(user, "institution__region_id"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(institution__region_id__gte=lo, institution__region_id__lt=hi)
    if year is not None:
        qs = qs.filter(training__held_on__year=year)
    return qs.select_related("training", "institution").order_by(
        "-training__held_on", "training_id", "institution_id"
    )


def trainings(*, user: Any, region: Region | None = None, year: int | None = None) -> QuerySet[Training]:
    """培训 Trainings attended by institutions of the user's region, with the attendees from there."""
    inside = attendances(user=user, region=region, year=year)
    return (
        Training.objects.filter(pk__in=inside.values("training_id"))
        .annotate(
            attendees=Sum("attendances__attendees_count", filter=Q(attendances__in=inside)),
            institutions_count=Count("attendances", filter=Q(attendances__in=inside)),
        )
        .order_by("-held_on", "topic")
    )


def assessments_all(*, as_of: date) -> list[Assessment]:
    """全部评估 The assessment of every top region (each county of the deployment) on ``as_of``."""
    return [
        assessment(region=root, as_of=as_of) for root in Region.objects.filter(parent=None).order_by("code")
    ]


@dataclass(frozen=True)
class YearSummary:
    """年度概况 Paired support, telemedicine and training of a region in a year (the report's sentences)."""

    supports: int
    supporting_hospitals: int
    staff_sent: int
    staff_months: Decimal
    outpatients: int
    operations: int
    support_trainings: int
    connected: int
    consultations: int
    trainings: int
    attendees: int


def year_summary(*, region: Region, year: int, as_of: date) -> YearSummary:
    """年度概况 What the region's institutions received and did in ``year`` (``region`` already checked)."""
    lo, hi = prefix_range(region.prefix)
    supports = PairedSupport.objects.filter(
        supported__region_id__gte=lo, supported__region_id__lt=hi, start_on__lte=date(year, 12, 31)
    ).filter(Q(end_on__isnull=True) | Q(end_on__gte=date(year, 1, 1)))
    s = supports.aggregate(
        n=Count("pk"),
        hospitals=Count("supporting", distinct=True),
        staff=Sum("staff_count"),
        months=Sum("staff_months"),
        outpatients=Sum("outpatients_count"),
        operations=Sum("operations_count"),
        trainings=Sum("trainings_count"),
    )
    links = TelemedicineLink.objects.filter(institution__region_id__gte=lo, institution__region_id__lt=hi)
    consultations = Teleconsultation.objects.filter(link__in=links, month__year=year).aggregate(
        n=Sum("consultations_count")
    )["n"]
    attended = TrainingAttendance.objects.filter(
        institution__region_id__gte=lo, institution__region_id__lt=hi, training__held_on__year=year
    )
    t = attended.aggregate(sessions=Count("training", distinct=True), people=Sum("attendees_count"))
    return YearSummary(
        supports=s["n"],
        supporting_hospitals=s["hospitals"],
        staff_sent=s["staff"] or 0,
        staff_months=Decimal(s["months"] or 0).quantize(Decimal("0.1")),
        outpatients=s["outpatients"] or 0,
        operations=s["operations"] or 0,
        support_trainings=s["trainings"] or 0,
        connected=links.filter(connected_q(as_of)).count(),
        consultations=consultations or 0,
        trainings=t["sessions"],
        attendees=t["people"] or 0,
    )


def township_staff_named(*, township_code: str, name: str, on: date) -> Staff | None:
    """同名卫生人员 The one staff member named ``name`` on post on ``on`` at an institution of the township
    (None when nobody or several people share the name: a family-doctor member is linked only when sure)."""
    lo, hi = prefix_range(township_code[:9])
    found = list(
        Staff.objects.filter(name=name, institution__region_id__gte=lo, institution__region_id__lt=hi)
        .filter(on_post_q(on))
        .select_related("institution")
        .order_by("institution__kind", "pk")
    )
    # One person may hold two posts (a village doctor also at the centre): still one person.
    if not found or len({s.id_number for s in found}) != 1:
        return None
    return found[0]
