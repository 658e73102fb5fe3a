"""`jkfp import-cards FILE [--json]`: 导入慢病卡 import chronic-disease cards (身份证号, 病种, 认定日期,
认定机构, 有效期至), as after a 集中认定 campaign; an outpatient claim (门诊慢特病) needs a valid card.

Same conventions as ``import-roster``: ``--json`` prints exactly one JSON object (the ImportSummary);
a file that cannot be read → message on stderr, exit status 2, nothing imported; every run is
recorded as an ImportRun.
"""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind
from jkfp.settlement.card_imports import cards_import


class Command(ImportCommand):
    help = (
        "导入慢病卡（CSV/XLSX：身份证号, 病种, 认定日期, 认定机构, 有效期至）/ import chronic-disease cards"
    )
    kind = ImportKind.CARDS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return cards_import(path=options["file"], **kwargs)
