"""指标查询 Indicator reads: the stored snapshot of a region and its sub-regions, and the rows behind a figure.

Every read that takes a user is scoped: a region outside the user's region is ``Http404`` (a guessed
URL must not reveal anything). ``region_report`` is the unscoped read the CLI uses (the CLI runs with
the database owner's rights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from jkfp.accounts.scoping import code_q, region_get
from jkfp.indicators.catalogue import BY_CODE, INDICATORS
from jkfp.indicators.compute import CENTS, NO_DATA, Figure
from jkfp.indicators.definitions import Column, Indicator, Spec
from jkfp.indicators.models import IndicatorSnapshot, Rectification, SnapshotRun
from jkfp.regions.models import Region, prefix_range

NOT_FOUND_INDICATOR = "指标不存在"
SIDES = {"numerator": "分子", "denominator": "分母"}


@dataclass
class RegionFigures:
    """区划指标 One region's figure per indicator code."""

    code: str
    name: str
    level: str
    figures: dict[str, Figure] = field(default_factory=dict)


@dataclass
class Report:
    """指标表 A region, its direct sub-regions and when the figures were computed."""

    year: int
    region: RegionFigures
    children: list[RegionFigures]
    computed_at: datetime | None
    months: dict[str, list[Figure]] = field(default_factory=dict)  # code → 12 monthly figures


def indicator_get(code: str) -> Indicator:
    indicator = BY_CODE.get(code)
    if indicator is None:
        raise Http404(NOT_FOUND_INDICATOR)
    return indicator


def snapshot_run(year: int) -> SnapshotRun | None:
    return SnapshotRun.objects.filter(year=year).first()


def snapshot_years() -> list[int]:
    return list(SnapshotRun.objects.order_by("-year").values_list("year", flat=True))


def _figure(num: Decimal | None, den: Decimal | None, money: bool) -> Figure:
    if den is None:
        return NO_DATA
    if money:
        return Figure(Decimal(num or 0).quantize(CENTS), Decimal(den).quantize(CENTS))
    return Figure(Decimal(int(num or 0)), Decimal(int(den)))


def region_report(*, year: int, region: Region, months: bool = False) -> Report:
    """指标表 The stored figures of ``region`` and its direct sub-regions (2 queries, 3 with months)."""
    children = list(
        Region.objects.filter(parent=region).order_by("code").values_list("code", "name", "level")
    )
    codes = [region.code, *(c for c, _, _ in children)]
    rows = IndicatorSnapshot.objects.filter(year=year, month=0, region_code__in=codes).values_list(
        "region_code", "code", "numerator", "denominator"
    )
    by_region: dict[str, RegionFigures] = {
        region.code: RegionFigures(region.code, region.name, region.level),
        **{c: RegionFigures(c, n, lvl) for c, n, lvl in children},
    }
    for code, indicator_code, num, den in rows:
        indicator = BY_CODE.get(indicator_code)
        if indicator is not None:
            by_region[code].figures[indicator_code] = _figure(num, den, indicator.money)
    run = snapshot_run(year)
    report = Report(
        year=year,
        region=by_region[region.code],
        children=[by_region[c] for c, _, _ in children],
        computed_at=run.computed_at if run else None,
    )
    if months:
        monthly = IndicatorSnapshot.objects.filter(
            year=year, month__gt=0, region_code=region.code
        ).values_list("code", "month", "numerator", "denominator")
        for indicator_code, month, num, den in monthly:
            indicator = BY_CODE.get(indicator_code)
            if indicator is None:
                continue
            series = report.months.setdefault(indicator_code, [Figure(Decimal(0), Decimal(0))] * 12)
            series[month - 1] = _figure(num, den, indicator.money)
    return report


def _json_number(value: Decimal | None, money: bool) -> Any:
    if value is None:
        return None
    return f"{value.quantize(CENTS)}" if money else int(value)


def figures_json(figures: dict[str, Figure]) -> dict[str, dict[str, Any]]:
    """JSON 形式 ``{"<code>": {"numerator": N, "denominator": N, "value": 0.1234 | null}}`` in catalogue order."""
    out: dict[str, dict[str, Any]] = {}
    for indicator in INDICATORS:
        figure = figures.get(indicator.code, NO_DATA)
        value = figure.value
        out[indicator.code] = {
            "numerator": _json_number(figure.numerator, indicator.money),
            "denominator": _json_number(figure.denominator, indicator.money),
            "value": None if value is None else float(value),
        }
    return out


def report_json(report: Report) -> dict[str, Any]:
    """The exact JSON of ``jkfp indicators --json`` (issue 7 §2)."""
    return {
        "region": report.region.code,
        "year": report.year,
        "indicators": figures_json(report.region.figures),
        "children": [{"region": c.code, "indicators": figures_json(c.figures)} for c in report.children],
    }


# --- drill-down ----------------------------------------------------------------------------------


@dataclass
class Drill:
    """明细 The rows behind one side of one indicator in one region."""

    indicator: Indicator
    side: str
    rows: QuerySet[Any]
    columns: tuple[Column, ...]
    money_path: str | None
    unit: str


def _in_region(qs: QuerySet[Any], path: str, region: Region) -> QuerySet[Any]:
    lo, hi = prefix_range(region.prefix)
    return qs.filter(**{f"{path}__gte": lo, f"{path}__lt": hi})


def drill(*, user: Any, year: int, code: str, region_code: str | None, side: str) -> Drill | None:
    """指标明细 The rows behind ``side`` (numerator/denominator) of indicator ``code`` in a region of the user.

    ``Http404`` for an unknown indicator or side, or a region outside the user's; None when the
    indicator has no data for the year.
    """
    indicator = indicator_get(code)
    if side not in SIDES:
        raise Http404(NOT_FOUND_INDICATOR)
    region = region_get(user=user, code=region_code)
    spec: Spec | None = indicator.build(year)
    if spec is None:
        return None
    if side == "denominator" and spec.den_rows is not None:
        rows = _in_region(spec.den_rows, spec.den_village, region)
        return Drill(indicator, side, rows.order_by(spec.den_village, "pk"), spec.den_columns, None, "人")
    rows = _in_region(spec.rows, spec.village, region)
    if side == "numerator":
        rows = rows.filter(spec.numerator)
    money = spec.num_sum if side == "numerator" else spec.den_sum
    return Drill(indicator, side, rows.order_by(spec.village, "pk"), spec.columns, money, indicator.unit)


# --- rectification -------------------------------------------------------------------------------

NOT_FOUND_RECTIFICATION = "整改事项不存在或不在您的管辖范围内"


def rectifications(*, user: Any, region: Region | None = None) -> QuerySet[Rectification]:
    """问题整改列表 Items of the user's region (or of ``region`` inside it)."""
    qs = Rectification.objects.filter(code_q(user, "region_code"))
    if region is not None:
        lo, hi = prefix_range(region.prefix)
        qs = qs.filter(region_code__gte=lo, region_code__lt=hi)
    return qs.order_by("status", "deadline_on", "id")


def rectification_get(*, user: Any, pk: int) -> Rectification:
    item = Rectification.objects.filter(code_q(user, "region_code"), pk=pk).first()
    if item is None:
        raise Http404(NOT_FOUND_RECTIFICATION)
    return item


def region_names(codes: list[str]) -> dict[str, str]:
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name"))


def rectifications_by_subject(*, user: Any, subjects: list[str]) -> dict[str, Rectification]:
    """整改对象 The rectification item of each subject (an open one before closed ones), in the user's region."""
    out: dict[str, Rectification] = {}
    if not subjects:
        return out
    items = Rectification.objects.filter(code_q(user, "region_code"), subject__in=subjects).order_by(
        "subject", "status", "-id"
    )
    for item in items:
        out.setdefault(item.subject, item)
    return out
