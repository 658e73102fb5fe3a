"""`jkfp reconcile [--json]`: 名单比对汇总 the reconciliation summary of all imported source lists."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jkfp.registry.reconcile import reconcile_summary


class Command(BaseCommand):
    help = "名单比对汇总 / reconciliation summary of the imported source lists"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = reconcile_summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        lines = [f"人员总数 persons: {summary['persons']}"]
        for name, count in summary["sources"].items():
            lines.append(f"  来源 source {name}: {count}")
        lines.append(f"全部来源都有 in every source: {summary['in_all']}")
        lines.append(f"仅一个来源 in one source only: {summary['in_one']}")
        lines.append(f"信息不一致 conflicts: {summary['conflicts']}")
        self.stdout.write("\n".join(lines))
