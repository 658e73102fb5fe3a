"""`jkfp housekeeping`: 数据清理 run now what the worker runs every day (jkfp.ops.housekeeping)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jkfp.ops.housekeeping import housekeeping_run


class Command(BaseCommand):
    help = "删除超过保存期限的错误报告、上传原件、临时导出、过期会话、任务结果与登录限制记录 / delete what outlived its keeping period"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="输出 JSON / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = housekeeping_run()
        if options["json"]:
            self.stdout.write(json.dumps(summary.deleted, ensure_ascii=False))
            return
        lines = [f"  {kind}: {count}" for kind, count in summary.deleted.items()] or ["  无 nothing"]
        self.stdout.write("已删除 deleted:\n" + "\n".join(lines))
