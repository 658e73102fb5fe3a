"""`jkfp resettle --year YEAR --policy NAME [--region CODE] [--dry-run] --report FILE [--json]`: 政策调整重算.

Re-settles every settled claim discharged in YEAR under the highest version of policy NAME with the
batch engine (bulk read, batch engine, bulk write in one transaction; new rows with reason
``policy_resettle``; ``--dry-run`` writes nothing but the report) and writes the report (.xlsx):
totals per fund before/after, per township, persons whose own payment rises (largest first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.cli.progress import UNKNOWN, command_progress, progress_wanted
from jkfp.settlement.bulk import year_resettle
from jkfp.settlement.exports import resettle_report_xlsx


class Command(BaseCommand):
    help = "按新政策重新结算全年并出报告 / re-settle a year under a policy and write the report"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="出院年度 / discharge year")
        parser.add_argument(
            "--policy", required=True, help="政策名称（取最高版本）/ policy name (highest version)"
        )
        parser.add_argument("--dry-run", action="store_true", help="只试算出报告，不写入 / report only")
        parser.add_argument("--report", type=Path, required=True, help="报告 .xlsx / report file")
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")
        parser.add_argument(
            "--region",
            default=None,
            help="只重算出院时住在该区划（如一个县）的人员的结算 / only the claims of persons who lived in this region"
            " (e.g. one county) on the discharge date",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report_path: Path = options["report"]
        if report_path.is_dir() or not report_path.parent.is_dir():
            raise CommandError(
                f"无法写入报告 {report_path} / cannot write the report {report_path}", returncode=2
            )
        wanted = progress_wanted(self.stdout, json_output=options["json"])
        try:
            with command_progress(self.stdout, enabled=wanted) as bar:
                report = year_resettle(
                    year=options["year"],
                    policy_name=options["policy"],
                    dry_run=options["dry_run"],
                    region=options["region"] or None,
                    progress=lambda text: bar(text, UNKNOWN),
                )
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages), returncode=2) from exc
        resettle_report_xlsx(report, report_path)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
            return
        d = report.as_dict()
        lines = [
            f"{d['year']}年 按 {d['policy']} {'试算' if d['dry_run'] else '重算'}：{d['claims']} 笔，结果变化 {d['changed']} 笔，"
            f"个人负担增加 {d['persons_paying_more']} 人；用时 {d['seconds']} 秒",
            f"{d['year']} under {d['policy']}{' (dry run)' if d['dry_run'] else ''}: {d['claims']} claims, "
            f"{d['changed']} changed, {d['persons_paying_more']} persons pay more; {d['seconds']} s",
        ]
        if d["reordered"]:
            lines += [
                f"同一批人本年在其他政策下、排在变化之后的结算 {d['reordered']} 笔按原政策顺延重算",
                f"{d['reordered']} later claims of the same persons under another policy settled again in order",
            ]
        for fund in ("basic", "critical", "aid", "supplementary", "personal"):
            lines.append(f"  {fund}: {d['totals_before'][fund]} → {d['totals_after'][fund]}")
        lines.append(f"报告 report: {report_path}")
        self.stdout.write("\n".join(lines))
