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
from django.db import transaction
from django.utils import timezone

from jkfp.cli.progress import command_progress, progress_wanted
from jkfp.core.importing import ImportSummary
from jkfp.core.runner import runner_token
from jkfp.core.tabular import TableError
from jkfp.core.tabular_map import MappingError, load_mapping, reading
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
        parser.add_argument(
            "--mapping",
            metavar="FILE",
            help='列与值映射（TOML：[columns] 文件表头 = 字段，[values."字段"] 文件值 = 可接受值）'
            " / column and value mapping (TOML)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="只校验预览：输出同样的汇总和错误报告，不写入数据库 / validate only: same summary and "
            "error report, nothing written",
        )

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
        mapping = None
        if options.get("mapping"):
            try:  # refused before any row is read (and before the run is recorded)
                mapping = load_mapping(options["mapping"])
            except MappingError as exc:
                raise CommandError(
                    f"无法使用映射：{exc.zh}\ncannot use the mapping: {exc.en}", returncode=2
                ) from exc
        dry_run = bool(options.get("dry_run"))
        run = None if dry_run else self.record(options)
        try:
            wanted = progress_wanted(self.stdout, json_output=options["json"])
            with command_progress(self.stdout, enabled=wanted) as report, reading(mapping) as context:
                label = f"导入 importing {Path(options['file']).name}"
                echo: Callable[[int], None] = lambda percent: report(label, percent / 100)  # noqa: E731
                if run is None:
                    summary = self._run(options, echo, dry_run=dry_run)
                else:  # the run's progress, and its mark committed with its data (registry/tasks.py)
                    with data_written_marked(run.pk):
                        summary = self._run(options, ImportProgress(run.pk, echo), dry_run=dry_run)
            summary.warnings += context.warning_count
        except TableError as exc:
            if run is not None:
                run.status = ImportStatus.FAILED
                run.message = str(exc)[:1000]
                run.finished_at = timezone.now()
                run.save(update_fields=["status", "message", "finished_at"])
            raise CommandError(
                f"无法导入 {options['file']}：{exc.zh}\ncannot import {options['file']}: {exc.en}",
                returncode=2,
            ) from exc
        except BaseException:
            if run is not None:
                run.refresh_from_db(fields=["data_written"])
                run.status = ImportStatus.FAILED
                run.message = MSG_INTERRUPTED_WRITTEN if run.data_written else MSG_INTERRUPTED
                run.finished_at = timezone.now()
                run.save(update_fields=["status", "message", "finished_at"])
            raise
        if run is not None:
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
            if dry_run:
                self.stdout.write("预览（--dry-run）：未写入数据库 / dry run: nothing was written")

    def _run(
        self, options: dict[str, Any], progress: Callable[[int], None], *, dry_run: bool
    ) -> ImportSummary:
        """The import; with ``dry_run`` inside a transaction that is rolled back (nothing written,
        nothing announced: ``send_data_changed`` waits for a commit)."""
        if not dry_run:
            return self.run_import(options, progress=progress)
        with transaction.atomic():
            summary = self.run_import(options, progress=progress)
            transaction.set_rollback(True)
        return summary


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
        if options.get("year") is None:  # a dry run records no run
            options["year"] = timezone.localdate().year
        return roster_import(path=options["file"], source=options["source"], year=options["year"], **kwargs)
