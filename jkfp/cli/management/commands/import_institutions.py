"""`jkfp import-institutions FILE [--json]`: 导入医疗机构 (代码, 名称, 级别, 县域内, 所在地区代码)."""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.regions.imports import institutions_import
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入医疗机构（CSV/XLSX：代码, 名称, 级别, 县域内, 所在地区代码）/ import institutions"
    kind = ImportKind.INSTITUTIONS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return institutions_import(path=options["file"], **kwargs)
