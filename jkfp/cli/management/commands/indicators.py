"""`jkfp indicators --year YEAR [--region CODE] [--json] [--refresh]`: 指标 the indicators of a region.

Reads the stored snapshot (computed first when the year has none; ``--refresh`` recomputes it), so
the figures are exactly those of the dashboard, the ledgers and the report. ``--json`` prints exactly
``{"region": "CODE", "year": YEAR, "indicators": {...}, "children": [{"region": "CODE", "indicators":
{...}}, ...]}`` with one child per direct sub-region; ``value`` is numerator ÷ denominator rounded
half-up to 4 decimals, null when the denominator is 0 or the data does not exist (then numerator and
denominator are null too); money indicators give yuan strings with two decimals.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jkfp.indicators import selectors, services
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.compute import Figure
from jkfp.regions.models import Region, stored_code


def _text(figure: Figure, money: bool, count: str = "") -> tuple[str, str, str]:
    if not figure.has_data:
        return "暂无数据", "", ""
    if count:  # a count (空白点数, 培训人次) is the number itself
        return (
            f"{int(figure.numerator or 0)}{count}",
            f"{int(figure.numerator or 0)}",
            f"{int(figure.denominator or 0)}",
        )
    value = figure.value
    shown = "—" if value is None else f"{value * 100:.2f}%"
    if money:
        return shown, f"{figure.numerator}", f"{figure.denominator}"
    return shown, f"{int(figure.numerator or 0)}", f"{int(figure.denominator or 0)}"


class Command(BaseCommand):
    help = "指标（分子、分母、比率）/ indicators of a region and its sub-regions"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="年度 calendar year")
        parser.add_argument(
            "--region", default="", help="区划代码（默认县）/ region code (default: the county)"
        )
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="先重新计算该年度指标 / recompute the year's snapshot first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = int(options["year"])
        code = (options["region"] or "").strip()
        region = (
            Region.objects.filter(code=stored_code(code) or code).first()
            if code
            else Region.objects.filter(parent=None).first()
        )
        if region is None:
            raise CommandError(
                f"区划代码{code or '（县）'}不存在 / unknown region {code or '(county)'}", returncode=2
            )
        try:
            if options["refresh"] or selectors.snapshot_run(year) is None:
                run = services.snapshot_refresh(year=year)
                if not options["json"]:
                    self.stdout.write(f"已计算{year}年度指标 / computed in {run.seconds:.2f} s")
        except ValidationError as exc:
            raise CommandError(f"{' '.join(exc.messages)} / year must be 2016–2100", returncode=2) from exc
        report = selectors.region_report(year=year, region=region)
        if options["json"]:
            self.stdout.write(json.dumps(selectors.report_json(report), ensure_ascii=False))
            return
        self._table(report)

    def _table(self, report: selectors.Report) -> None:

        from rich.console import Console  # noqa: PLC0415 (a heavy library, loaded only when a file is written)
        from rich.table import Table  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

        as_of = (
            timezone.localtime(report.computed_at).strftime("%Y-%m-%d %H:%M") if report.computed_at else "—"
        )
        table = Table(
            title=f"{report.region.name}（{report.region.code}）{report.year}年度指标　数据截至 {as_of}"
        )
        table.add_column("指标 indicator")
        table.add_column(report.region.name, justify="right")
        for child in report.children:
            table.add_column(child.name, justify="right")
        for indicator in INDICATORS:
            cells = []
            for figures in (report.region, *report.children):
                shown, num, den = _text(
                    figures.figures.get(indicator.code, Figure(None, None)),
                    indicator.money,
                    indicator.unit if indicator.extra.get("count") else "",
                )
                cells.append(f"{shown}\n{num}/{den}" if num else shown)
            table.add_row(f"{indicator.name}\n{indicator.code}", *cells)
        buf = io.StringIO()
        Console(file=buf, width=200, no_color=True, emoji=False).print(table)
        self.stdout.write(buf.getvalue().rstrip())
