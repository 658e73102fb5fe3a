"""`jkfp worker`: 后台任务进程 run the background worker on its own (systemd: deploy/systemd/jkfp-worker.service).

``--concurrency N`` starts N worker processes (each runs one task at a time) and keeps them running
(one that dies is started again, ``jkfp/ops/supervise.py``); SIGTERM stops them all after their
running task. Failures are logged with their tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.ops.supervise import Child, supervise
from jkfp.ops.worker import worker_run


class Command(BaseCommand):
    help = "运行后台任务进程（导入、结算、指标刷新、数据清理）/ run the background task worker"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency", type=int, default=1, help="并行进程数 worker processes (default 1)"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="空闲时查询间隔（秒） seconds between polls when idle (1)",
        )
        parser.add_argument(
            "--queues", default="*", help="队列，逗号分隔 queue names, comma-separated (*: all)"
        )
        parser.add_argument("--max-tasks", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency = int(options["concurrency"])
        if concurrency < 1:
            raise CommandError("--concurrency 至少为1 / must be at least 1")
        if concurrency == 1:
            worker_run(
                interval=float(options["interval"]), queues=options["queues"], max_tasks=options["max_tasks"]
            )
            return
        self._supervise(concurrency, options)

    def _supervise(self, concurrency: int, options: dict[str, Any]) -> None:
        command = [sys.executable, "-m", "jkfp.cli", "worker", "--concurrency", "1",
                   "--interval", str(options["interval"]), "--queues", options["queues"]]  # fmt: skip
        children = [Child(f"后台任务进程{n + 1} worker {n + 1}", command) for n in range(concurrency)]
        supervise(children, say=self.stderr.write, grace=None)
