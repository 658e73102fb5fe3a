"""指标计算 Computing indicators: one ``GROUP BY`` over the village code per indicator, then a roll-up.

A person (and every case, claim … of a person) belongs to exactly one village, so township and
county figures are the sums of their villages' numerators and denominators (issue 7 §6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce, ExtractMonth

from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.definitions import Indicator, Spec
from jkfp.regions.models import Region, RegionLevel

VALUE_PLACES = Decimal("0.0001")  # value is rounded half-up to 4 decimals (docs/adr/0008)
CENTS = Decimal("0.01")
ZERO = Decimal("0")


@dataclass(frozen=True)
class Figure:
    """指标值 Numerator and denominator (None for both: 暂无数据)."""

    numerator: Decimal | None
    denominator: Decimal | None

    @property
    def has_data(self) -> bool:
        return self.denominator is not None

    @property
    def value(self) -> Decimal | None:
        """比率 numerator ÷ denominator rounded half-up to 4 decimals; None when no data or 0 denominator."""
        if self.numerator is None or not self.denominator:
            return None
        return (self.numerator / self.denominator).quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


NO_DATA = Figure(None, None)
VillageFigures = dict[str, tuple[Decimal, Decimal]]


def _money_sum(path: str) -> Coalesce:
    return Coalesce(Sum(path), Value(ZERO), output_field=DecimalField(max_digits=18, decimal_places=2))


def village_figures(spec: Spec) -> VillageFigures:
    """村级分子分母 ``village code → (numerator, denominator)`` with one GROUP BY (two for split units)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    if spec.figures is not None:
        return dict(spec.figures)
    if spec.den_sum is not None and spec.num_sum is not None:
        num_agg = Coalesce(
            Sum(spec.num_sum, filter=spec.numerator),
            Value(ZERO),
            output_field=DecimalField(max_digits=18, decimal_places=2),
        )
        rows = (
            spec.rows.order_by()
            .values(spec.village)
            .annotate(num=num_agg, den=_money_sum(spec.den_sum))
            .values_list(spec.village, "num", "den")
        )
        for village, num, den in rows:
            out[village] = (Decimal(num).quantize(CENTS), Decimal(den).quantize(CENTS))
        return out
    if spec.den_rows is not None:
        nums = dict(
            spec.rows.filter(spec.numerator)
            .order_by()
            .values(spec.village)
            .annotate(n=Count("pk"))
            .values_list(spec.village, "n")
        )
        dens = dict(
            spec.den_rows.order_by()
            .values(spec.den_village)
            .annotate(n=Count("pk"))
            .values_list(spec.den_village, "n")
        )
        for village in set(nums) | set(dens):
            out[village] = (Decimal(nums.get(village, 0)), Decimal(dens.get(village, 0)))
        return out
    # Two GROUP BYs rather than COUNT(...) FILTER (WHERE numerator): with the numerator in WHERE,
    # PostgreSQL plans an IN-subquery as a hashed semi-join; inside FILTER it may run it once per row
    # when its result does not fit work_mem (measured: minutes at 1M persons / 10M follow-ups).
    dens = dict(
        spec.rows.order_by().values(spec.village).annotate(n=Count("pk")).values_list(spec.village, "n")
    )
    nums = dict(
        spec.rows.filter(spec.numerator)
        .order_by()
        .values(spec.village)
        .annotate(n=Count("pk"))
        .values_list(spec.village, "n")
    )
    for village, den in dens.items():
        out[village] = (Decimal(nums.get(village, 0)), Decimal(den))
    return out


def monthly_figures(spec: Spec) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
    """按月分子分母 ``(village, month) → (numerator, denominator)`` of the rows dated in each month."""
    if spec.month is None or spec.den_rows is not None:
        return {}
    month = ExtractMonth(spec.month)
    qs = spec.rows.order_by().annotate(m=month).values(spec.village, "m")
    if spec.den_sum is not None and spec.num_sum is not None:
        qs = qs.annotate(
            num=Coalesce(
                Sum(spec.num_sum, filter=spec.numerator),
                Value(ZERO),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
            den=_money_sum(spec.den_sum),
        )
    else:
        qs = qs.annotate(num=Count("pk", filter=spec.numerator), den=Count("pk"))
    out: dict[tuple[str, int], tuple[Decimal, Decimal]] = {}
    for village, m, num, den in qs.values_list(spec.village, "m", "num", "den"):
        if m is not None:
            out[(village, int(m))] = (Decimal(num), Decimal(den))
    return out


@dataclass
class RegionTree:
    """区划树 Village → township → county, read once."""

    parent: dict[str, str]
    level: dict[str, str]
    children: dict[str, list[str]]

    @classmethod
    def load(cls) -> RegionTree:
        parent: dict[str, str] = {}
        level: dict[str, str] = {}
        children: dict[str, list[str]] = defaultdict(list)
        for code, lvl, parent_id in Region.objects.order_by("code").values_list("code", "level", "parent_id"):
            level[code] = lvl
            if parent_id:
                parent[code] = parent_id
                children[parent_id].append(code)
        return cls(parent=parent, level=level, children=dict(children))

    def ancestors(self, code: str) -> list[str]:
        out = []
        while code in self.parent:
            code = self.parent[code]
            out.append(code)
        return out


def roll_up(villages: VillageFigures, tree: RegionTree) -> dict[str, tuple[Decimal, Decimal]]:
    """汇总 Sum village figures into every region above them (and keep the villages)."""
    totals: dict[str, list[Decimal]] = {}
    for village, (num, den) in villages.items():
        for code in (village, *tree.ancestors(village)):
            acc = totals.setdefault(code, [ZERO, ZERO])
            acc[0] += num
            acc[1] += den
    return {code: (acc[0], acc[1]) for code, acc in totals.items()}


def compute_all(
    year: int, *, indicators: Iterable[Indicator] = INDICATORS, tree: RegionTree | None = None
) -> tuple[
    dict[str, dict[str, tuple[Decimal, Decimal] | None] | None],
    dict[str, dict[tuple[str, int], tuple[Decimal, Decimal]]],
]:
    """全部指标 ``code → region → (numerator, denominator)`` and the monthly figures. None for a code: no
    data for the year; None for a region: no data there (``Spec.coverage``); a region missing: 0 ÷ 0."""
    tree = tree or RegionTree.load()
    out: dict[str, dict[str, tuple[Decimal, Decimal] | None] | None] = {}
    months: dict[str, dict[tuple[str, int], tuple[Decimal, Decimal]]] = {}
    for indicator in indicators:
        spec = indicator.build(year)
        if spec is None:
            out[indicator.code] = None
            continue
        rolled_up: dict[str, tuple[Decimal, Decimal] | None] = dict(roll_up(village_figures(spec), tree))
        if spec.coverage is not None:
            covered: set[str] = set()
            for village in set(spec.coverage):
                covered.update((village, *tree.ancestors(village)))
            rolled_up.update({code: None for code in tree.level if code not in covered})
        out[indicator.code] = rolled_up
        monthly = monthly_figures(spec)
        if monthly:
            rolled: dict[tuple[str, int], list[Decimal]] = {}
            for (village, m), (num, den) in monthly.items():
                for code in (village, *tree.ancestors(village)):
                    acc = rolled.setdefault((code, m), [ZERO, ZERO])
                    acc[0] += num
                    acc[1] += den
            months[indicator.code] = {key: (acc[0], acc[1]) for key, acc in rolled.items()}
    return out, months


def region_level(tree: RegionTree, code: str) -> str:
    return tree.level.get(code, RegionLevel.VILLAGE)
