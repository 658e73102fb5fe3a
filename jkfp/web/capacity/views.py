"""基层能力页面 The capacity pages: the standard and blank points by township with village tiles, drill-down to
villages, institutions and staff, and the lists of paired support, telemedicine and training.

Views parse, call one selector or service, render. Every read goes through ``jkfp.capacity.selectors``
(a region or institution outside the user's is 404); a blank point becomes a rectification item through
``jkfp.indicators.services.rectification_from_blank_point``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.scoping import NOT_FOUND_REGION, region_get
from jkfp.capacity import selectors
from jkfp.capacity.models import TelemedicineLink, on_post_q
from jkfp.capacity.standard import KIND_CLINIC, KIND_VILLAGE, Assessment, BlankPoint
from jkfp.core.replica import replica_reads
from jkfp.indicators import selectors as indicator_selectors
from jkfp.indicators import services as indicator_services
from jkfp.regions.models import Region, RegionLevel
from jkfp.web.capacity.forms import (
    InstitutionFilterForm,
    RectifyForm,
    RegionDateForm,
    StaffFilterForm,
    YearForm,
)

PAGE_SIZE = 50


def _page(request: AuthedRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _region_as_of(request: AuthedRequest) -> tuple[Region, date]:
    form = RegionDateForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        raise Http404("区划或日期无效")
    data = form.cleaned_data if form.is_bound else {}
    region = region_get(user=request.user, code=data.get("region"))
    return region, data.get("as_of") or timezone.localdate()


def _rectified(request: AuthedRequest, points: list[BlankPoint]) -> dict[str, Any]:
    return indicator_selectors.rectifications_by_subject(
        user=request.user, subjects=[b.subject for b in points]
    )


def _can_rectify(request: AuthedRequest) -> bool:
    return getattr(request.user, "role", None) in indicator_services.RECTIFY_ROLES


@require_GET
@replica_reads
def overview(request: AuthedRequest) -> HttpResponse:
    """总览 The standard of the region on a date: figures, county checks, township cards with village tiles,
    the blank points (each with its rectification or a button to raise one)."""
    region, as_of = _region_as_of(request)
    if region.level == RegionLevel.VILLAGE:
        return redirect(f"{reverse('capacity:village', args=[region.code])}?as_of={as_of:%Y-%m-%d}")
    result: Assessment = selectors.assessment(region=region, as_of=as_of)
    by_township: dict[str, list[Any]] = {}
    for village in result.villages:
        by_township.setdefault(village.township_code, []).append(village)
    townships = [{"status": t, "villages": by_township.get(t.code, [])} for t in result.townships]
    context = {
        "region": region,
        "as_of": as_of,
        "result": result,
        "townships": townships,
        # villages where a clinic stands that has no qualified doctor (the tile is marked)
        "doctorless": {c.facility.region_code for c in result.clinics if c.reason},
        "rectified": _rectified(request, result.blank_points),
        "can_rectify": _can_rectify(request),
        "children": Region.objects.filter(parent=region).order_by("code"),
    }
    return render(request, "web/capacity/overview.html", context)


@require_GET
@replica_reads
def village(request: AuthedRequest, code: str) -> HttpResponse:
    """村 One village: who serves it, its checks, and its clinics' staff on the date."""
    region = region_get(user=request.user, code=code)
    if region.level != RegionLevel.VILLAGE:
        raise Http404(NOT_FOUND_REGION)
    _, as_of = _region_as_of(request)
    result = selectors.assessment(region=region, as_of=as_of)
    status = result.village(region.code)
    assert status is not None  # the village itself is always assessed
    serving = [*status.clinics, *status.covering]
    visible = set(
        selectors.institutions(user=request.user)
        .filter(code__in=[f.code for f in serving])
        .values_list("code", flat=True)
    )
    staff = selectors.staff(user=request.user, on=as_of).filter(
        institution_id__in=[f.code for f in status.clinics]
    )
    points = [b for b in result.blank_points if b.kind in (KIND_VILLAGE, KIND_CLINIC)]
    context = {
        "region": region,
        "township": region.parent,
        "as_of": as_of,
        "status": status,
        "clinics": result.clinics,
        "serving": serving,
        "visible": visible,
        "staff": staff,
        "points": points,
        "rectified": _rectified(request, points),
        "can_rectify": _can_rectify(request),
    }
    return render(request, "web/capacity/village.html", context)


@require_GET
def institution_list(request: AuthedRequest) -> HttpResponse:
    """机构 Institutions of the user's region with kind, ownership, standardisation and staff on post today."""
    form = InstitutionFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    region = region_get(user=request.user, code=data.get("region"))
    today = timezone.localdate()
    items = selectors.institutions(user=request.user, region=region).annotate(
        staff_on_post=Count("staff", filter=on_post_q(today, "staff__"), distinct=True),
        served_count=Count("served_villages", distinct=True),
    )
    if data.get("kind"):
        items = items.filter(kind=data["kind"])
    context = {"form": form, "region": region, "page": _page(request, items), "today": today}
    return render(request, "web/capacity/institutions.html", context)


@require_GET
def institution_detail(request: AuthedRequest, code: str) -> HttpResponse:
    """机构 One institution: its standing, the villages it serves, its staff (on the date and before)."""
    institution = selectors.institution_get(user=request.user, code=code)
    _, as_of = _region_as_of(request)
    checks: list[Any] = []
    reason = ""
    if institution.region is not None:
        result = selectors.assessment(region=institution.region, as_of=as_of)
        clinic = next((c for c in result.clinics if c.facility.code == institution.code), None)
        township = next(
            (t for t in result.townships if any(f.code == institution.code for f in t.centres)), None
        )
        if clinic is not None:
            checks, reason = clinic.checks, clinic.reason
        elif township is not None:
            checks, reason = township.checks, township.reason
    staff = list(selectors.staff(user=request.user, institution=institution))
    context = {
        "institution": institution,
        "as_of": as_of,
        "checks": checks,
        "reason": reason,
        "standardised": institution.standardised_at(as_of),
        "served": institution.served_villages.order_by("code"),
        "on_post": [s for s in staff if s.on_post(as_of)],
        "former": [s for s in staff if not s.on_post(as_of)],
        "link": TelemedicineLink.objects.filter(institution=institution).first(),
        "supports": institution.supports_received.select_related("supporting").order_by("-start_on")[:20],
        "trainings": institution.training_attendances.select_related("training").order_by(
            "-training__held_on"
        )[:20],
    }
    return render(request, "web/capacity/institution.html", context)


@require_GET
def staff_list(request: AuthedRequest) -> HttpResponse:
    """卫生人员 Staff of the user's region, on post on a date (or with the former ones)."""
    form = StaffFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    region = region_get(user=request.user, code=data.get("region"))
    on = data.get("on") or timezone.localdate()
    items = selectors.staff(user=request.user, region=region, on=None if data.get("history") else on)
    if data.get("institution"):
        items = items.filter(institution_id=data["institution"])
    if data.get("post"):
        items = items.filter(post=data["post"])
    if data.get("qualification"):
        items = items.filter(qualification=data["qualification"])
    if data.get("name"):
        items = items.filter(name__contains=data["name"])
    context = {"form": form, "region": region, "on": on, "page": _page(request, items)}
    return render(request, "web/capacity/staff.html", context)


def _year_region(request: AuthedRequest) -> tuple[int, Region, YearForm]:
    form = YearForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    region = region_get(user=request.user, code=data.get("region"))
    return data.get("year") or timezone.localdate().year, region, form


@require_GET
def support_list(request: AuthedRequest) -> HttpResponse:
    """对口帮扶 Support received in the year by institutions of the region."""
    year, region, form = _year_region(request)
    items = selectors.supports(user=request.user, region=region, year=year)
    context = {"form": form, "year": year, "region": region, "page": _page(request, items)}
    return render(request, "web/capacity/support.html", context)


@require_GET
def telemedicine_list(request: AuthedRequest) -> HttpResponse:
    """远程医疗 Connected institutions and their consultations in the year."""
    year, region, form = _year_region(request)
    on = min(date(year, 12, 31), timezone.localdate())
    items = selectors.telemedicine(user=request.user, region=region, year=year)
    context = {
        "form": form,
        "year": year,
        "region": region,
        "on": on,
        "page": _page(request, items),
        "connected": items.filter(connected_on__lte=on)
        .filter(Q(disconnected_on__isnull=True) | Q(disconnected_on__gt=on))
        .count(),
    }
    return render(request, "web/capacity/telemedicine.html", context)


@require_GET
def training_list(request: AuthedRequest) -> HttpResponse:
    """培训 Trainings of the year attended by institutions of the region."""
    year, region, form = _year_region(request)
    items = selectors.trainings(user=request.user, region=region, year=year)
    context = {"form": form, "year": year, "region": region, "page": _page(request, items)}
    return render(request, "web/capacity/training.html", context)


@require_POST
def rectify(request: AuthedRequest) -> HttpResponse:
    """转为整改 Raise a blank point as a rectification item (one click) and show the tracker."""
    form = RectifyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "空白点或日期无效")
        return redirect("capacity:overview")
    try:
        item, created = indicator_services.rectification_from_blank_point(
            user=request.user, subject=form.cleaned_data["subject"], as_of=form.cleaned_data["as_of"]
        )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect("capacity:overview")
    except PermissionDenied:
        messages.error(request, indicator_services.ERR_REGION)
        return redirect("capacity:overview")
    if created:
        messages.success(
            request,
            f"已转为整改事项：{item.finding}（责任人 {item.owner}，时限 {item.deadline_on:%Y-%m-%d}）",
        )
    else:
        messages.info(request, "该空白点已有整改中的事项，未重复登记")
    return redirect("indicators:rectification_list")
