"""`jkfp backup --out FILE`: 备份 one consistent archive of the database and the data directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.cli.progress import command_progress, progress_wanted
from jkfp.ops.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "备份数据库与数据目录到一个文件（.tar.gz）/ back up the database and the data directory to one archive"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, required=True, help="备份文件 archive to write (.tar.gz or .tar)"
        )
        parser.add_argument("--json", action="store_true", help="输出 JSON / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if out.exists() and out.is_dir():
            raise CommandError(f"{out} 是目录，请给出文件名 / {out} is a folder: name a file")
        with command_progress(
            self.stdout, enabled=progress_wanted(self.stdout, json_output=options["json"])
        ) as report:
            try:
                manifest = backup_create(out=out, progress=report)
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
        rows = sum(t["rows"] for t in manifest.tables.values())
        summary = {
            "archive": str(out.resolve()),
            "bytes": out.stat().st_size,
            "engine": manifest.engine,
            "tables": len(manifest.tables),
            "rows": rows,
            "files": len(manifest.files) - 1,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        self.stdout.write(
            f"已备份到 {summary['archive']}（{summary['bytes'] / 1e6:.1f} MB；{manifest.engine} 数据库 "
            f"{summary['tables']} 个表 {rows} 行，数据目录 {summary['files']} 个文件）/ backup written"
        )
