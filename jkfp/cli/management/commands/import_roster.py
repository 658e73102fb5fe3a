"""`jkfp import-roster FILE --source NAME [--year YEAR] [--json]`: 导入花名册 import a roster list.

``--json`` prints exactly one JSON object on stdout (the ImportSummary); otherwise a summary in
Chinese and English. A file that cannot be read → message on stderr, exit status 2, nothing imported.
Every run is recorded as an ImportRun (done or failed), with this process as its runner: a run whose
process is killed is marked failed by the next worker start (jkfp/ops/recovery.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jkfp.cli.progress import command_progress, progress_wanted
from jkfp.core.importing import ImportSummary
from jkfp.core.runner import runner_token
from jkfp.core.tabular import TableError
from jkfp.registry.imports import roster_import
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.registry.tasks import ImportProgress, data_written_marked

MSG_INTERRUPTED = "导入中断，未写入任何数据 / the import was interrupted, nothing was written"
MSG_INTERRUPTED_WRITTEN = (
    "导入中断，但数据已写入（写入事务已提交）/ the import was interrupted after its data was committed"
)


class ImportCommand(BaseCommand):
    """Shared shape of the import commands: FILE, --json, an ImportRun, exit status 2 on file errors."""

    kind = ImportKind.ROSTER

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV 或 XLSX 文件 / CSV or XLSX file")
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        raise NotImplementedError

    def record(self, options: dict[str, Any]) -> ImportRun:
        return ImportRun.objects.create(
            kind=self.kind,
            source=options.get("source") or "",
            year=options.get("year"),
            file_name=Path(options["file"]).name[:255],
            stored_path=str(Path(options["file"]).resolve())[:500],
            status=ImportStatus.RUNNING,
            started_at=timezone.now(),
            runner=runner_token(),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run = self.record(options)
        try:
            wanted = progress_wanted(self.stdout, json_output=options["json"])
            with command_progress(self.stdout, enabled=wanted) as report:
                label = f"导入 importing {Path(options['file']).name}"
                echo: Callable[[int], None] = lambda percent: report(label, percent / 100)  # noqa: E731
                with data_written_marked(run.pk):
                    summary = self.run_import(options, progress=ImportProgress(run.pk, echo))
        except TableError as exc:
            run.status = ImportStatus.FAILED
            run.message = str(exc)[:1000]
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "message", "finished_at"])
            raise CommandError(
                f"无法导入 {options['file']}：{exc.zh}\ncannot import {options['file']}: {exc.en}",
                returncode=2,
            ) from exc
        except BaseException:
            run.refresh_from_db(fields=["data_written"])
            run.status = ImportStatus.FAILED
            run.message = MSG_INTERRUPTED_WRITTEN if run.data_written else MSG_INTERRUPTED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "message", "finished_at"])
            raise
        run.status = ImportStatus.DONE
        run.progress = 100
        run.summary = summary.as_dict()
        run.errors_file = summary.errors_file or ""
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "progress", "summary", "errors_file", "finished_at"])
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(summary.text())


class Command(ImportCommand):
    help = "导入花名册（CSV/XLSX）/ import a roster list of one source"
    kind = ImportKind.ROSTER

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--source", required=True, help="来源名单名称 / source name, e.g. 国家平台")
        parser.add_argument(
            "--year", type=int, default=None, help="名单年度，默认今年 / list year (default: this year)"
        )

    def record(self, options: dict[str, Any]) -> ImportRun:
        if options.get("year") is None:
            options["year"] = timezone.localdate().year
        return super().record(options)

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return roster_import(path=options["file"], source=options["source"], year=options["year"], **kwargs)
