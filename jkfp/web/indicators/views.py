"""指标页面 Dashboard, drill-down lists and exports, ledgers, the self-assessment report, rectification.

Views parse, call one selector or service, render. Every figure comes from the stored snapshot
(``jkfp.indicators.selectors.region_report``); drill-downs list the live rows behind a figure, and
every region outside the user's is a 404. Drill-down views and every export are audited.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.permissions import FUND_LEDGERS
from jkfp.accounts.scoping import ERR_ROLE, region_get
from jkfp.accounts.services import audit_record
from jkfp.core.replica import replica_reads
from jkfp.indicators import ledgers, report, selectors, services
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.definitions_capacity import capacity_as_of
from jkfp.indicators.exports import format_rows
from jkfp.indicators.models import RectificationStatus
from jkfp.web import background
from jkfp.web.indicators.forms import RectificationForm, RectificationUpdateForm, YearRegionForm

PAGE_SIZE = 50
WARNING_BAND = Decimal("0.10")  # within 10 percentage points below the target: amber
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _year_region(request: AuthedRequest) -> tuple[int, Any]:
    form = YearRegionForm(request.GET or None)
    year = region_code = None
    if form.is_valid():
        year = form.cleaned_data["year"]
        region_code = form.cleaned_data["region"] or None
    elif form.errors:
        raise Http404("年度或区划无效")
    if year is None:
        years = selectors.snapshot_years()
        year = years[0] if years else timezone.localdate().year
    region = region_get(user=request.user, code=region_code)
    return year, region


def _colour(indicator: Any, value: Any) -> str:
    if value is None or indicator.target is None:
        return "secondary"
    if indicator.extra.get("lower_is_better"):
        return "success" if value <= indicator.target else "danger"
    if value >= indicator.target:
        return "success"
    return "warning" if value >= indicator.target - WARNING_BAND else "danger"


def _number(value: Decimal | None, money: bool) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if money else f"{int(value)}"


def _drill_urls(indicator: Any, year: int, region_code: str) -> tuple[str, str]:
    """The numerator and denominator links of a figure: the drill-down list, or the indicator's own page
    (``extra["drill"]``, e.g. the capacity page listing each blank point with its reason)."""
    page = indicator.extra.get("drill")
    if page:
        url = f"{reverse(page)}?region={region_code}&as_of={capacity_as_of(year):%Y-%m-%d}"
        return url, url
    query = f"?year={year}&region={region_code}"
    return (
        reverse("indicators:drill", args=[indicator.code, "numerator"]) + query,
        reverse("indicators:drill", args=[indicator.code, "denominator"]) + query,
    )


@require_GET
@replica_reads
def dashboard(request: AuthedRequest) -> HttpResponse:
    """指标看板 The user's region (or a sub-region) with its sub-regions side by side, charts, data as of."""
    year, region = _year_region(request)
    data = selectors.region_report(year=year, region=region, months=True)
    columns = [data.region, *data.children]
    rows = []
    chart: dict[str, Any] = {"regions": [c.name for c in data.children], "indicators": []}
    for indicator in INDICATORS:
        cells: list[dict[str, str] | None] = []
        count = bool(indicator.extra.get("count"))
        for figures in columns:
            figure = figures.figures.get(indicator.code)
            if figure is None or not figure.has_data:
                cells.append(None)
                continue
            value = figure.value
            num_url, den_url = _drill_urls(indicator, year, figures.code)
            cells.append(
                {
                    "num": _number(figure.numerator, indicator.money),
                    "den": _number(figure.denominator, indicator.money),
                    "num_url": num_url,
                    "den_url": den_url,
                    # A count (空白点数, 培训人次) is shown as the number itself, not as a share.
                    "percent": f"{_number(figure.numerator, False)}{indicator.unit}"
                    if count
                    else ("—" if value is None else f"{value * 100:.2f}%"),
                    "colour": _colour(indicator, value),
                }
            )
        target = ""
        if indicator.target is not None:
            sign = "≤" if indicator.extra.get("lower_is_better") else "≥"
            target = f"{sign}{indicator.target * 100:.0f}%"
        if count and indicator.target is not None:
            target = f"{int(indicator.target)}{indicator.unit}"
        rows.append({"indicator": indicator, "cells": cells, "target": target, "count": count})
        series = data.months.get(indicator.code)
        chart["indicators"].append(
            {
                "code": indicator.code,
                "name": indicator.name,
                "target": None if indicator.target is None else float(indicator.target),
                "bars": [
                    None
                    if (f := c.figures.get(indicator.code)) is None or f.value is None
                    else float(f.value)
                    for c in data.children
                ],
                "months": None
                if not series
                else [None if f.value is None else float(f.value) for f in series],
            }
        )
    context = {
        "year": year,
        "region": region,
        "report": data,
        "columns": columns,
        "rows": rows,
        "chart": chart,
        "years": sorted({*selectors.snapshot_years(), year}, reverse=True),
        "can_refresh": request.user.role in services.REFRESH_ROLES,
    }
    return render(request, "web/indicators/dashboard.html", context)


@require_POST
def refresh(request: AuthedRequest) -> HttpResponse:
    """重新计算 Recompute the year's snapshot now (county administrator)."""
    try:
        year = int(request.POST.get("year", ""))
        run = services.snapshot_refresh_by(user=request.user, year=year)
    except (ValueError, ValidationError):
        messages.error(request, "年度无效")
        return redirect("indicators:dashboard")
    messages.success(request, f"已重新计算{year}年度指标（用时{run.seconds:.1f}秒）")
    return redirect(f"{reverse('indicators:dashboard')}?year={year}")


def _drill(request: AuthedRequest, code: str, side: str) -> tuple[int, Any, Any]:
    year, region = _year_region(request)
    found = selectors.drill(user=request.user, year=year, code=code, region_code=region.code, side=side)
    return year, region, found


@require_GET
@replica_reads
def drill(request: AuthedRequest, code: str, side: str) -> HttpResponseBase:
    """指标明细 The rows behind the numerator or the denominator of a figure (audited)."""
    indicator = selectors.indicator_get(code)
    if indicator.extra.get("drill"):
        year, region = _year_region(request)
        return redirect(_drill_urls(indicator, year, region.code)[0])
    year, region, found = _drill(request, code, side)
    page = None
    rows: list[list[str]] = []
    if found is not None:
        page = Paginator(found.rows.values_list(*[c.path for c in found.columns]), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        rows = format_rows(found.columns, page.object_list)
        audit_record(
            user=request.user,
            action=AuditAction.VIEW_PERSON,
            object_type="indicator_drill",
            object_id=f"{code}/{side}",
            detail=f"{year}年 {region.name} {selectors.indicator_get(code).name}{selectors.SIDES[side]}明细",
            region_code=region.code,
            request=request,
        )
    stored = selectors.region_report(year=year, region=region).region.figures.get(code)
    context = {
        "year": year,
        "region": region,
        "indicator": selectors.indicator_get(code),
        "side": side,
        "side_label": selectors.SIDES[side],
        "drill": found,
        "page": page,
        "rows": rows,
        "stored": None
        if stored is None
        else (stored.numerator if side == "numerator" else stored.denominator),
        "computed_at": (run.computed_at if (run := selectors.snapshot_run(year)) else None),
    }
    return render(request, "web/indicators/drill.html", context)


@require_POST
def drill_export(request: AuthedRequest, code: str, side: str) -> HttpResponseBase:
    """导出明细 Queue the drill-down list as a background .xlsx (audited when queued and downloaded)."""
    indicator = selectors.indicator_get(code)
    if indicator.extra.get("drill") or side not in selectors.SIDES:
        raise Http404("该指标的明细见其页面（如基层能力的空白点清单）及其台账")
    year, region = _year_region(request)
    title = f"{year}年度 {region.name}（{region.code}）{indicator.name} {selectors.SIDES[side]}明细"
    return background.export_queue(
        request,
        kind=background.KIND_DRILL,
        title=title,
        params={"code": code, "side": side, "year": year, "region": region.code},
        file_name=f"{indicator.name}{selectors.SIDES[side]}明细-{region.name}-{year}.xlsx",
    )


@require_GET
@replica_reads
def ledger_list(request: AuthedRequest) -> HttpResponse:
    """台账 The ledgers of the user's region that can be generated (a ledger without data is not offered)."""
    year, region = _year_region(request)
    offered = ledgers_available(year, kinds=_ledger_kinds(request.user))
    context = {"year": year, "region": region, "ledgers": offered}
    return render(request, "web/indicators/ledgers.html", context)


def _ledger_kinds(user: Any) -> Collection[str]:
    """The ledgers the user's role may export (the fund office: settlements and alerts only)."""
    return FUND_LEDGERS if getattr(user, "role", None) == Role.FUND else ledgers.LEDGERS.keys()


def ledgers_available(year: int, kinds: Collection[str] | None = None) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "title": spec.title, "available": spec.available(year), "note": spec.note}
        for kind, spec in ledgers.LEDGERS.items()
        if kinds is None or kind in kinds
    ]


@require_POST
def ledger_export(request: AuthedRequest, kind: str) -> HttpResponseBase:
    """导出台账 Queue one ledger of the region as a background .xlsx; 404 for a ledger without data."""
    year, region = _year_region(request)
    spec = ledgers.LEDGERS.get(kind)
    if spec is not None and kind not in _ledger_kinds(request.user):
        raise PermissionDenied(ERR_ROLE)
    if spec is None or not spec.available(year):
        raise Http404("该台账暂无数据")
    return background.export_queue(
        request,
        kind=background.KIND_LEDGER,
        title=f"{spec.title} {region.name} {year}年",
        params={"kind": kind, "year": year, "region": region.code},
        file_name=f"{spec.title}-{region.name}-{year}.xlsx",
    )


@require_GET
@replica_reads
def report_download(request: AuthedRequest) -> HttpResponseBase:
    """自评报告 The yearly self-assessment report of the region as .docx (audited)."""
    year, region = _year_region(request)
    path = report.report_write(year=year, region=region)
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="self_assessment_report",
        object_id=region.code,
        detail=f"{year}年度自评报告 {region.name}",
        region_code=region.code,
        request=request,
    )
    handle = path.open("rb")
    path.unlink(missing_ok=True)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{year}年度健康扶贫自评报告-{region.name}.docx",
        content_type=DOCX_TYPE,
    )


@require_http_methods(["GET", "POST"])
def rectification_list(request: AuthedRequest) -> HttpResponse:
    """问题整改 The findings of the user's region; county and township staff record new ones."""
    can_edit = request.user.role in services.RECTIFY_ROLES
    form = RectificationForm(request.POST or None, initial={"region_code": request.user.region_id})
    if request.method == "POST":
        if not can_edit:
            raise Http404("无权登记")
        if form.is_valid():
            try:
                services.rectification_create(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for error in exc.messages:
                    messages.error(request, error)
            except PermissionDenied:  # a region outside the user's
                messages.error(request, services.ERR_REGION)
            else:
                messages.success(request, "整改事项已登记")
                return redirect("indicators:rectification_list")
    items = list(selectors.rectifications(user=request.user))
    names = selectors.region_names(sorted({i.region_code for i in items}))
    context = {
        "form": form,
        "items": [(item, names.get(item.region_code, item.region_code)) for item in items],
        "can_edit": can_edit,
        "update_form": RectificationUpdateForm(),
        "today": timezone.localdate(),
        "open": RectificationStatus.OPEN,
    }
    return render(request, "web/indicators/rectifications.html", context)


@require_POST
def rectification_update(request: AuthedRequest, pk: int) -> HttpResponse:
    """更新整改状态"""
    item = selectors.rectification_get(user=request.user, pk=pk)
    form = RectificationUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.rectification_update(user=request.user, item=item, **form.cleaned_data)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            messages.success(request, "整改状态已更新")
    return redirect("indicators:rectification_list")
