"""`jkfp import-claims FILE [--json]`: 导入结算申请 (claim_id, person_id, institution_code, admit_date,
discharge_date, referred, total, out_of_scope; optional basic_paid/critical_paid of a stay settled elsewhere
and kind/disease of an outpatient special chronic disease claim) as pending claims; settle them with
``jkfp settle-claims``.

Same conventions as ``import-roster``: ``--json`` prints exactly one JSON object (the ImportSummary);
a file that cannot be read → message on stderr, exit status 2, nothing imported; every run is
recorded as an ImportRun.
"""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind
from jkfp.settlement.imports import claims_import


class Command(ImportCommand):
    help = (
        "导入结算申请（CSV/XLSX：claim_id, person_id, institution_code, admit_date, discharge_date, "
        "referred, total, out_of_scope；可选 kind, disease, basic_paid, critical_paid）/ import claims"
    )
    kind = ImportKind.CLAIMS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return claims_import(path=options["file"], **kwargs)
