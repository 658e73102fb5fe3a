"""`jkfp care-sync [--json]`: 随访计划补建 create the follow-up schedules of conditions that have none.

Run after a roster import (the registry cannot call the care app: it sits below it): every person's
recorded chronic conditions with a follow-up rule get a schedule (first visit due today), schedules
of conditions no longer recorded are removed, and schedules follow a person who moved village.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from jkfp.care.bulk import schedules_sync


class Command(BaseCommand):
    help = "补建慢病随访计划（花名册导入后运行）/ create missing follow-up schedules (after a roster import)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        created = schedules_sync(today=timezone.localdate())
        seconds = round(time.perf_counter() - started, 1)
        if options["json"]:
            self.stdout.write(json.dumps({"created": created, "seconds": seconds}))
        else:
            self.stdout.write(f"新建随访计划{created}项（{seconds}秒）/ {created} schedules created")
