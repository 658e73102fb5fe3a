"""`jkfp import-regions FILE [--json]`: 导入行政区划 import regions (代码, 名称, 上级代码, 级别)."""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.regions.imports import regions_import
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入行政区划（CSV/XLSX：代码, 名称, 上级代码, 级别）/ import regions"
    kind = ImportKind.REGIONS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return regions_import(path=options["file"], **kwargs)
