"""`jkfp init`: create or upgrade the schema and load the shipped catalogues (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from jkfp.registry.services import disease_catalogue_load


class Command(BaseCommand):
    help = "创建或升级数据库结构并载入目录；重复运行不改变任何数据 / create or upgrade the schema, load catalogues"

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        created = disease_catalogue_load()
        self.stdout.write(f"数据库已就绪；新增病种 {created} 个 / database ready; {created} diseases added")
