"""`jkfp import-contracts FILE [--json]`: 导入家庭医生签约 import family-doctor contracts (issue 5 item 7)."""

from __future__ import annotations

from typing import Any

from jkfp.care.imports import contracts_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入家庭医生签约（CSV/XLSX：身份证号, 签约日期, 到期日期, 团队, 家庭医生）/ import contracts"
    kind = ImportKind.CONTRACTS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return contracts_import(path=options["file"], **kwargs)
