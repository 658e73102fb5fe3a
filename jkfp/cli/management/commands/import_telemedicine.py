"""`jkfp import-telemedicine FILE [--json]`: 导入远程医疗（CSV/XLSX：机构代码, 对接机构, 接入日期, 停用日期, 月份, 会诊人次）/ import telemedicine links and consultations (issue 16)."""

from __future__ import annotations

from typing import Any

from jkfp.capacity.imports import telemedicine_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入远程医疗（CSV/XLSX：机构代码, 对接机构, 接入日期, 停用日期, 月份, 会诊人次）/ import telemedicine links and consultations"
    kind = ImportKind.TELEMEDICINE

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return telemedicine_import(path=options["file"], **kwargs)
