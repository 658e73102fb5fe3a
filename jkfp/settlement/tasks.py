"""后台任务 Background tasks of the settlement app (django-tasks; database backend in production).

``cards_import_task`` runs a chronic-disease card import (慢病卡), ``bank_accounts_import_task`` an
import of subsidy bank accounts (银行账号), each uploaded on the web import page.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportRun
from jkfp.registry.tasks import ImportProgress, run_import
from jkfp.settlement.bank_imports import bank_accounts_import
from jkfp.settlement.card_imports import cards_import


@task()
def cards_import_task(run_id: int) -> dict[str, Any]:
    """导入慢病卡（后台） Run the card import of one ImportRun, as its uploader."""

    def importer(run: ImportRun, progress: ImportProgress) -> ImportSummary:
        return cards_import(path=run.stored_path, user=run.user, progress=progress)

    # Without the uploader the region cannot be checked: write nothing (require_user).
    return run_import(run_id, importer, label="cards", require_user=True, interactive=True)


@task()
def bank_accounts_import_task(run_id: int) -> dict[str, Any]:
    """导入银行账号（后台） Run the bank-account import of one ImportRun, as its uploader."""

    def importer(run: ImportRun, progress: ImportProgress) -> ImportSummary:
        return bank_accounts_import(path=run.stored_path, user=run.user, progress=progress)

    # Without the uploader the region cannot be checked: write nothing (require_user).
    return run_import(run_id, importer, label="bank_accounts", require_user=True, interactive=True)
