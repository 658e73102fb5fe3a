"""`jkfp clearing --month YYYY-MM --out FILE [--institution CODE]`: 基金清算单 per institution for the
month (claims discharged in it, live settlements): what each fund owes, as .xlsx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.settlement.clearing import clearing_statement, clearing_totals, clearing_xlsx


class Command(BaseCommand):
    help = "按机构和月份出基金清算单（.xlsx）/ fund clearing statement per institution and month"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="月份 YYYY-MM / month")
        parser.add_argument("--out", type=Path, required=True, help="输出 .xlsx / output file")
        parser.add_argument("--institution", default=None, help="机构代码 / institution code")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if out.is_dir() or not out.parent.is_dir():
            raise CommandError(f"无法写入 {out} / cannot write {out}", returncode=2)
        try:
            rows = clearing_statement(month=options["month"], institution=options["institution"])
        except ValueError as exc:
            raise CommandError(f"{exc} / month must be YYYY-MM", returncode=2) from exc
        clearing_xlsx(rows, out)
        t = clearing_totals(rows)
        self.stdout.write(
            f"{len(rows)} 个机构，{t['claims']} 笔；基金应付 {t['funds_total']:.2f}"
            f"（基本医保 {t['basic']:.2f}，大病保险 {t['critical']:.2f}，医疗救助 {t['aid']:.2f}，补充 {t['supplementary']:.2f}）；"
            f"其中门诊慢特病 {t['outpatient_claims']} 笔，基金应付 {t['outpatient_funds']:.2f}\n"
            f"{len(rows)} institutions, {t['claims']} claims ({t['outpatient_claims']} outpatient); "
            f"funds owe {t['funds_total']:.2f} ({t['outpatient_funds']:.2f} for outpatient claims); written to {out}"
        )
