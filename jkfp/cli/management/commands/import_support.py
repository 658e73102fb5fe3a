"""`jkfp import-support FILE [--json]`: 导入对口帮扶（CSV/XLSX：帮扶医院代码, 受援机构代码, 起始日期, 终止日期, 派驻人数, 驻点人月, 门诊人次, 手术台次, 培训场次, 备注）/ import paired support (issue 16)."""

from __future__ import annotations

from typing import Any

from jkfp.capacity.imports import supports_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入对口帮扶（CSV/XLSX：帮扶医院代码, 受援机构代码, 起始日期, 终止日期, 派驻人数, 驻点人月, 门诊人次, 手术台次, 培训场次, 备注）/ import paired support"
    kind = ImportKind.SUPPORT

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return supports_import(path=options["file"], **kwargs)
