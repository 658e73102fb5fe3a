"""`jkfp restore FILE`: 恢复 load a backup into an empty database and data directory (``--force``: overwrite).

Every member is checked against the archive's SHA-256 manifest before anything is written, and every
table's row count and content digest is compared after. A SQLite archive restores into PostgreSQL too
(set ``DATABASE_URL``): the way a county grows out of the embedded default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from jkfp.cli.progress import command_progress, progress_wanted
from jkfp.ops.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "从备份文件恢复到空的数据库与数据目录 / restore an archive into an empty database and data directory"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="备份文件 the archive (jkfp backup)")
        parser.add_argument(
            "--force", action="store_true", help="覆盖已有的数据库与数据文件 / overwrite a non-empty target"
        )
        parser.add_argument("--json", action="store_true", help="输出 JSON / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_progress(
            self.stdout, enabled=progress_wanted(self.stdout, json_output=options["json"])
        ) as report:
            try:
                manifest = backup_restore(archive=options["archive"], force=options["force"], progress=report)
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
        rows = sum(t["rows"] for t in manifest.tables.values())
        if options["json"]:
            summary = {"engine": manifest.engine, "version": manifest.version, "tables": len(manifest.tables),
                       "rows": rows, "files": len(manifest.files) - 1, "pending_migrations": pending}  # fmt: skip
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        self.stdout.write(
            f"已恢复 {manifest.created_at[:19]} 的备份（jkfp {manifest.version}，{len(manifest.tables)} 个表 {rows} 行，"
            f"{len(manifest.files) - 1} 个文件），校验全部一致 / restored and verified"
        )
        if pending:
            self.stdout.write(
                f"还有 {pending} 个迁移未应用：请运行 jkfp init / run `jkfp init` to upgrade the database"
            )
