"""`jkfp import-staff FILE [--json]`: 导入卫生人员（CSV/XLSX：身份证号, 姓名, 机构代码, 岗位, 资质, 证书编号, 执业范围, 起始日期, 终止日期）/ import health workers (issue 16)."""

from __future__ import annotations

from typing import Any

from jkfp.capacity.imports import staff_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入卫生人员（CSV/XLSX：身份证号, 姓名, 机构代码, 岗位, 资质, 证书编号, 执业范围, 起始日期, 终止日期）/ import health workers"
    kind = ImportKind.STAFF

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return staff_import(path=options["file"], **kwargs)
