"""`jkfp monitor scan --as-of DATE [--json]`: 防返贫监测预警扫描 raise the alerts of the rules (domain.md §8).

The scan evaluates every county's active rules of the as-of's year on the live settlements
discharged from 1 January up to ``--as-of`` and the major-disease cases diagnosed in that window,
and raises each alert once per person, rule and year. ``--json`` prints exactly
``{"evaluated": N, "alerts_created": N, "alerts_existing": N}``: ``evaluated`` is the number of
persons evaluated (distinct persons with a live settlement or a new major-disease case in the
window), ``alerts_existing`` the rule hits already alerted before.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.monitoring.services import alert_scan
from jkfp.regions.models import Region, RegionLevel


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"日期“{text}”无效，应为 YYYY-MM-DD / invalid date '{text}', expected YYYY-MM-DD", returncode=2
        ) from None


class Command(BaseCommand):
    help = "防返贫监测 / monitoring of illness-caused poverty risk: scan"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="scan", required=True)
        scan = sub.add_parser(
            "scan",
            help="按规则扫描结算数据生成预警 / evaluate the alert rules and raise new alerts",
            description="按规则扫描截至某日的结算数据生成预警（同一人、同一规则、同一年只预警一次）/ "
            "evaluate the alert rules on the settlements up to a date; an alert is raised once per "
            "person, rule and year",
        )
        scan.add_argument(
            "--as-of", required=True, metavar="DATE", help="数据截止日期 YYYY-MM-DD / data up to this date"
        )
        scan.add_argument("--county", default=None, help="只扫描此县（6位代码）/ only this county (6 digits)")
        scan.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _date(options["as_of"])
        county = options.get("county")
        if county and not Region.objects.filter(code=county, level=RegionLevel.COUNTY).exists():
            raise CommandError(f"县代码{county}不存在 / unknown county {county}", returncode=2)
        result = alert_scan(as_of=as_of, county_code=county)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json()))
            return
        lines = [
            f"预警扫描 scan as of {as_of.isoformat()}（{as_of.year}年）",
            f"  评估人数 persons evaluated: {result.evaluated}",
            f"  新增预警 alerts created: {result.alerts_created}",
            f"  已有预警 alerts existing: {result.alerts_existing}",
            f"  新建监测 cases created: {result.cases_created}",
        ]
        for code, n in sorted(result.by_rule.items()):
            lines.append(f"    {code}: {n}")
        for skipped in result.skipped_rules:
            lines.append(
                f"  跳过规则 skipped rule {skipped}：未设置上年农村居民人均可支配收入 / income parameter not set"
            )
        self.stdout.write("\n".join(lines))
