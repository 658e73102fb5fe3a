"""`jkfp init`: create or upgrade the schema, load the shipped catalogues, collect the static files.

Idempotent: on an older database it applies the new migrations (the upgrade step of docs/upgrade.md);
run again it changes nothing. Static files are collected only when their sources changed (a release
bundle's prebuilt folder is recognised as current).
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from jkfp.ops.static import static_collect
from jkfp.registry.services import disease_catalogue_load


class Command(BaseCommand):
    help = "创建或升级数据库结构、载入目录、收集静态文件；重复运行不改变任何数据 / create or upgrade the schema, load catalogues, collect static files"

    def handle(self, *args: Any, **options: Any) -> None:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        call_command("migrate", interactive=False, verbosity=0)
        created = disease_catalogue_load()
        collected = static_collect()
        self.stdout.write(
            f"数据库已就绪（应用迁移 {len(pending)} 个，新增病种 {created} 个"
            f"{'，已收集静态文件' if collected else ''}） / database ready: "
            f"{len(pending)} migrations applied, {created} diseases added"
            f"{', static files collected' if collected else ''}"
        )
