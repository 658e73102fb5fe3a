"""银行账号导入 Import persons' subsidy accounts (社保卡/一卡通) for 打卡发放 (``jkfp import-bank-accounts``),
with the conventions of the other imports.

Columns: ``身份证号`` (id_number), ``银行账号`` (account_no), optional ``账户类型`` (kind: 社保卡 — the
default when empty — or 一卡通) and ``开户银行`` (bank_name). A row is **invalid** (written to the error
report — row, column, value, reason — and skipped) when the ID number fails GB 11643 or names nobody in
the roster (within the user's region when run by a user); the account is not 8–32 digits (spaces and
dashes are ignored); the kind is unknown; the bank name is longer than 100 characters; or the same
person appears again with different values (every such row is invalid). A person's existing account
is replaced (``updated``) or kept (``unchanged``); the valid rows are written in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from jkfp.core.importing import ERR_NOT_IN_ROSTER as ERR_NOT_IN_ROSTER  # the tests read it here
from jkfp.core.importing import (
    ImportSummary,
    KeyedRows,
    RowFailures,
    error_report,
    has_control_chars,
    id_number_column,
)
from jkfp.core.tabular import read_table
from jkfp.registry.selectors import persons_by_id_number
from jkfp.settlement.models import BankAccount, BankAccountKind
from jkfp.settlement.subsidies import ACCOUNT_RE, ERR_ACCOUNT_NO, ERR_BANK_NAME

BANK_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "id_number", "公民身份号码", "身份证号码"),
    "account_no": ("银行账号", "account_no", "账号", "卡号", "社保卡号"),
    "kind": ("账户类型", "kind", "卡类型"),
    "bank_name": ("开户银行", "bank_name", "开户行"),
}
BANK_REQUIRED = ("id_number", "account_no")
KIND_WORDS = {
    "": BankAccountKind.SOCIAL_SECURITY,
    "社保卡": BankAccountKind.SOCIAL_SECURITY,
    "social_security": BankAccountKind.SOCIAL_SECURITY,
    "一卡通": BankAccountKind.YIKATONG,
    "yikatong": BankAccountKind.YIKATONG,
}
ERR_KIND = "账户类型应为“社保卡”或“一卡通”（留空为社保卡）"
ERR_CONFLICT = "同一人在文件中出现多次且账号不同（第{rows}行）"


def bank_accounts_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """导入银行账号 Import subsidy accounts; returns the summary. ``TableError`` when the file cannot be
    read or lacks a required column (nothing written)."""
    path = Path(path)
    table = read_table(path, BANK_COLUMNS, BANK_REQUIRED)
    if progress:
        progress(20)
    header = {c: table.headers.get(c, BANK_COLUMNS[c][0]) for c in BANK_COLUMNS}
    n = len(table)
    cols = table.columns
    blank = [""] * n
    numbers = table.row_numbers
    failures = RowFailures(numbers, header)
    fail, problems, bad = failures.fail, failures.problems, failures.bad
    ids = id_number_column(cols["id_number"], failures, "id_number")
    found = persons_by_id_number([x for x in ids if x], user=user)
    persons = {number: p.pk for number, p in found.items()}
    keyed: KeyedRows[int, tuple[str, str, str]] = KeyedRows()  # person → (account, kind, bank)
    for i in range(n):
        idn = ids[i]
        person = persons.get(idn) if idn else None
        if idn and person is None:
            fail(i, "id_number", cols["id_number"][i], ERR_NOT_IN_ROSTER)
        raw_account = cols["account_no"][i]
        account = re.sub(r"[\s-]+", "", raw_account)
        if not ACCOUNT_RE.fullmatch(account):
            fail(i, "account_no", raw_account, ERR_ACCOUNT_NO)
        kind_text = cols.get("kind", blank)[i]
        kind = KIND_WORDS.get(kind_text.lower())
        if kind is None:
            fail(i, "kind", kind_text, ERR_KIND)
        bank = cols.get("bank_name", blank)[i]
        if len(bank) > 100 or has_control_chars(bank):
            fail(i, "bank_name", bank, ERR_BANK_NAME)
        if i in bad or person is None or kind is None:
            continue
        keyed.add(person, (account, str(kind), bank), i)
    valid = keyed.settle(failures, "id_number", cols["id_number"], ERR_CONFLICT)
    if progress:
        progress(50)
    summary = ImportSummary(rows=n, invalid=len(bad))
    summary.valid = n - summary.invalid
    existing = {
        a.person_id: a for a in BankAccount.objects.filter(person_id__in=list(valid)) if a.person_id in valid
    }
    created: list[BankAccount] = []
    changed: list[BankAccount] = []
    for person, ((account, card, bank), _rows) in valid.items():
        old = existing.get(person)
        if old is None:
            created.append(BankAccount(person_id=person, account_no=account, kind=card, bank_name=bank))
        elif (old.account_no, old.kind, old.bank_name) == (account, card, bank):
            summary.unchanged += 1
        else:
            old.account_no, old.kind, old.bank_name = account, card, bank
            old.updated_by = user if getattr(user, "is_authenticated", False) else None
            old.updated_at = timezone.now()
            changed.append(old)
    with transaction.atomic():
        BankAccount.objects.bulk_create(created, batch_size=1000)
        BankAccount.objects.bulk_update(
            changed, ["account_no", "kind", "bank_name", "updated_by", "updated_at"], batch_size=1000
        )
    summary.created, summary.updated = len(created), len(changed)
    summary.errors_file = error_report(problems, errors_dir, f"bank-accounts-{path.stem}-errors")
    if progress:
        progress(100)
    return summary
