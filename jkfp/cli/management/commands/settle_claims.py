"""`jkfp settle-claims --year YEAR [--json]`: 批量结算 settle every pending claim discharged in YEAR
with the batch engine (policy in force on each discharge date, category from the person's tags).

Prints ``{"claims", "settled", "persons", "resettled", "invalid", "seconds"}`` with ``--json``;
claims that cannot be settled (no policy in force, no category) stay pending and are listed on
stderr. Exit status 0 (also when some claims stay pending), 2 on bad arguments.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jkfp.cli.progress import UNKNOWN, command_progress, progress_wanted
from jkfp.monitoring.services import alert_scan_after_settlement
from jkfp.settlement.bulk import claims_settle_year

MAX_LISTED = 50


class Command(BaseCommand):
    help = "批量结算某年全部待结算申请 / settle every pending claim of a year (batch engine)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="出院年度 / discharge year")
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = progress_wanted(self.stdout, json_output=options["json"])
        with command_progress(self.stdout, enabled=wanted) as report:
            result = claims_settle_year(year=options["year"], progress=lambda text: report(text, UNKNOWN))
        # Issue 8: every settlement batch is followed by a monitoring scan of its year (own transaction).
        scans = alert_scan_after_settlement(years=[options["year"]])
        for problem in result.problems[:MAX_LISTED]:
            self.stderr.write(f"未结算 not settled {problem.claim_id}: {problem.reason}")
        if len(result.problems) > MAX_LISTED:
            self.stderr.write(
                f"……另有 {len(result.problems) - MAX_LISTED} 笔 / … {len(result.problems) - MAX_LISTED} more"
            )
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        d = result.as_dict()
        self.stdout.write(
            f"待结算 {d['claims']} 笔，已结算 {d['settled']} 笔，涉及 {d['persons']} 人，顺延重算 {d['resettled']} 笔，"
            f"未能结算 {d['invalid']} 笔；用时 {d['seconds']} 秒\n"
            f"{d['claims']} pending, {d['settled']} settled, {d['persons']} persons, {d['resettled']} re-settled, "
            f"{d['invalid']} not settled; {d['seconds']} s"
        )
        for scan in scans:
            self.stdout.write(
                f"预警扫描（截至 {scan.as_of}）新增预警 {scan.alerts_created} 条，已有 {scan.alerts_existing} 条 / "
                f"monitoring scan as of {scan.as_of}: {scan.alerts_created} alerts created, {scan.alerts_existing} existing"
            )
