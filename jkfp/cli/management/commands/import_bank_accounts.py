"""`jkfp import-bank-accounts FILE [--json]`: 导入银行账号 import persons' subsidy accounts (身份证号,
银行账号, 账户类型 社保卡/一卡通, 开户银行) for 打卡发放 (事后补助, settlement.md §7).

Same conventions as ``import-roster``: ``--json`` prints exactly one JSON object (the ImportSummary);
a file that cannot be read → message on stderr, exit status 2, nothing imported; every run is
recorded as an ImportRun.
"""

from __future__ import annotations

from typing import Any

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind
from jkfp.settlement.bank_imports import bank_accounts_import


class Command(ImportCommand):
    help = "导入事后补助银行账号（CSV/XLSX：身份证号, 银行账号, 账户类型, 开户银行）/ import subsidy bank accounts"
    kind = ImportKind.BANK_ACCOUNTS

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return bank_accounts_import(path=options["file"], **kwargs)
