"""`jkfp serve`: 启动网站 serve the site with gunicorn and run the background worker beside it.

The one-machine command: the worker (``jkfp worker``) starts as a child process and gunicorn runs
``jkfp.wsgi:application`` beside it; either that dies is started again (``jkfp/ops/supervise.py``:
a worker killed at its memory ceiling never takes the site with it); Ctrl-C or SIGTERM stops both. With ``--no-worker`` (the web unit of
deploy/systemd) the process becomes gunicorn itself, so systemd's signals reach it directly (HUP
reloads, USR1 reopens the logs). Static files are not collected here: ``jkfp init`` (or the release
bundle) did it once; only a development checkout whose sources changed collects again. Keep workers ×
threads within the database's connection budget (performance.md, pitfalls).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.ops.static import static_collect
from jkfp.ops.supervise import Child, supervise


class Command(BaseCommand):
    help = "启动网站与后台任务进程 / serve the site (gunicorn) and the background task worker"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="监听地址 address to bind (127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="端口 port (8000)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn 进程数 worker processes (2)")
        parser.add_argument("--threads", type=int, default=4, help="每进程线程数 threads per worker (4)")
        parser.add_argument(
            "--no-worker", action="store_true", help="不启动后台任务进程 / do not start the task worker"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], int(options["port"])
        if not 0 < port < 65536:
            raise CommandError(f"端口{port}无效 / invalid port {port}")
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"无法监听 {host}:{port}（端口已被占用？）/ cannot listen on {host}:{port}: {exc}"
                ) from exc
        if static_collect():
            self.stdout.write("已重新收集静态文件 / static files collected (their sources changed)")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "jkfp.settings"),
        }
        gunicorn = [
            sys.executable, "-m", "gunicorn", "jkfp.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(max(1, int(options["workers"]))),
            "--threads", str(max(1, int(options["threads"]))),
            "--access-logfile", os.environ.get("JKFP_ACCESS_LOG", "-"),
            "--log-level", "warning", "--graceful-timeout", "10",
        ]  # fmt: skip
        url = f"http://{host}:{port}/"
        self.stdout.write(f"网站已启动：请用浏览器打开 {url} 登录（Ctrl-C 停止）")
        self.stdout.write(f"serving at {url} — log in there (Ctrl-C stops the site and the worker)")
        self.stdout.flush()
        if options["no_worker"]:
            os.execve(sys.executable, gunicorn, env)  # noqa: S606 — systemd's signals go to gunicorn itself
        worker = [sys.executable, "-m", "jkfp.cli", "worker"]
        children = [Child("后台任务进程 worker", worker, env), Child("网站进程 gunicorn", gunicorn, env)]
        supervise(children, say=self._say)
        self.stdout.write("已停止 / stopped")

    def _say(self, text: str) -> None:
        self.stderr.write(text)
        self.stderr.flush()
