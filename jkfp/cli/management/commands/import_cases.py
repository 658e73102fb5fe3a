"""`jkfp import-cases FILE [--json]`: 导入大病救治 (身份证号, 病种, 确诊医院, 确诊日期, 定点医院, 救治状态, 未救治原因).

Same conventions as ``import-roster``: ``--json`` prints exactly one JSON object (the ImportSummary);
a file that cannot be read → message on stderr, exit status 2, nothing imported; every run is
recorded as an ImportRun.
"""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind
from jkfp.treatment.imports import cases_import


class Command(ImportCommand):
    help = "导入大病救治（CSV/XLSX：身份证号, 病种, 确诊医院, 确诊日期, 定点医院, 救治状态, 未救治原因）/ import cases"
    kind = ImportKind.CASES

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return cases_import(path=options["file"], **kwargs)
