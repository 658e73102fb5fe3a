"""`jkfp capacity --region CODE [--as-of DATE] [--json]`: 基层医疗卫生服务能力与空白点 (issue 16 item 4).

``--json`` prints exactly ``{"region", "as_of", "townships", "townships_ok", "villages",
"villages_with_clinic", "villages_covered_by_exception", "clinics", "clinics_standardised",
"clinics_with_qualified_doctor", "blank_points": [{"code", "name", "kind", "reason"}]}`` with the
definitions of ``jkfp.capacity.standard``; ``--as-of`` defaults to today. An unknown region or a bad
date: a message on stderr and exit status 2.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jkfp.capacity import selectors
from jkfp.capacity.standard import STATE_LABELS, Assessment
from jkfp.core.importing import parse_date
from jkfp.regions.models import Region, stored_code


class Command(BaseCommand):
    help = "基层医疗卫生服务能力与空白点 / primary-care capacity and blank points of a region on a date"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--region", required=True, help="区划代码 region code (county, township or village)"
        )
        parser.add_argument(
            "--as-of", default="", help="统计日期 YYYY-MM-DD（默认今天）/ date (default: today)"
        )
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        code = (options["region"] or "").strip()
        region = Region.objects.filter(code=stored_code(code) or code).first()
        if region is None:
            raise CommandError(f"区划代码{code}不存在 / unknown region {code}", returncode=2)
        text = (options["as_of"] or "").strip()
        as_of = timezone.localdate()
        if text:
            parsed, reason = parse_date(text)
            if parsed is None:
                raise CommandError(f"--as-of {text}：{reason} / --as-of must be YYYY-MM-DD", returncode=2)
            as_of = parsed
        result = selectors.assessment(region=region, as_of=as_of)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
            return
        self.stdout.write(self._text(result))

    @staticmethod
    def _text(a: Assessment) -> str:
        lines = [
            f"{a.region.name}（{a.region.code}）基层医疗卫生服务能力　统计日期 {a.as_of:%Y-%m-%d}",
            f"乡镇 townships {len(a.townships)}，达标 ok {a.townships_ok}",
            f"村 villages {len(a.villages)}，有村卫生室 with clinic {a.villages_with_clinic}，"
            f"卫生院覆盖（例外）covered by exception {a.villages_covered_by_exception}",
            f"村卫生室 clinics {len(a.clinics)}，标准化 standardised {a.clinics_standardised}，"
            f"有合格村医 with qualified doctor {a.clinics_with_qualified_doctor}",
        ]
        lines += [
            f"{county.name} {check.requirement}：{STATE_LABELS[check.state]} {check.reason}".rstrip()
            for county in a.counties
            for check in county.checks
        ]
        lines.append(f"空白点 blank points: {len(a.blank_points)}")
        lines += [f"  [{b.kind_label}] {b.name}（{b.code}）：{b.reason}" for b in a.blank_points]
        return "\n".join(lines)
