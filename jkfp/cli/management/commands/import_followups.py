"""`jkfp import-followups FILE [--json]`: 导入随访记录 import follow-ups from the public-health system (issue 5 item 7)."""

from __future__ import annotations

from typing import Any

from jkfp.care.imports import followups_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = (
        "导入随访记录（CSV/XLSX：身份证号, 随访日期, 疾病, 方式, 收缩压, 舒张压, 空腹血糖, 医生）"
        "/ import follow-ups"
    )
    kind = ImportKind.FOLLOWUPS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return followups_import(path=options["file"], **kwargs)
