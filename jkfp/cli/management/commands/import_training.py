"""`jkfp import-training FILE [--json]`: 导入培训（CSV/XLSX：培训日期, 培训主题, 主办单位, 级别, 机构代码, 参训人数）/ import trainings and attendance (issue 16)."""

from __future__ import annotations

from typing import Any

from jkfp.capacity.imports import trainings_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入培训（CSV/XLSX：培训日期, 培训主题, 主办单位, 级别, 机构代码, 参训人数）/ import trainings and attendance"
    kind = ImportKind.TRAINING

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return trainings_import(path=options["file"], **kwargs)
