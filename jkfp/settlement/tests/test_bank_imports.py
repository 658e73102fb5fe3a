"""银行账号导入 ``jkfp import-bank-accounts``: accounts created, replaced or kept; bad rows named in the
error report and skipped; the command's JSON summary and its ImportRun."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management import call_command

from jkfp.core.idnumber import make_id_number
from jkfp.core.tabular import read_table
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.settlement.bank_imports import ERR_CONFLICT, ERR_KIND, ERR_NOT_IN_ROSTER, bank_accounts_import
from jkfp.settlement.models import BankAccount, BankAccountKind
from jkfp.settlement.subsidies import ERR_ACCOUNT_NO
from jkfp.settlement.tests.factories import SettleWorld


def _file(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.write_text(
        "\n".join(",".join(r) for r in [("身份证号", "银行账号", "账户类型", "开户银行"), *rows]) + "\n",
        "utf-8",
    )
    return path


def test_import_creates_replaces_keeps_and_names_bad_rows(sw: SettleWorld, tmp_path: Path) -> None:
    a, b, c = (sw.persons[k].id_number for k in ("poor1", "poor2", "plain"))
    BankAccount.objects.create(
        person=sw.persons["poor2"], account_no="6230000000001111", bank_name="农商银行"
    )
    BankAccount.objects.create(
        person=sw.persons["plain"], account_no="6230000000002222", kind=BankAccountKind.YIKATONG
    )
    path = _file(tmp_path / "accounts.csv", [
        (a, "6217 0000 1111 2222", "", "建设银行"),
        (b, "6230000000009999", "社保卡", "农商银行"),
        (c, "6230000000002222", "一卡通", ""),
        (make_id_number("110101", date(1990, 3, 7), 457), "6217000011113333", "", ""),
        (a, "6217000011112222", "", "建设银行"),
        (b, "12ab", "存折", ""),
        (c, "6230000000003333", "一卡通", ""),
    ])  # fmt: skip
    summary = bank_accounts_import(path=path, errors_dir=tmp_path)
    # a: one account (its two rows agree once spaces are dropped), created; b: its valid row replaces
    # the stored account; c: two different accounts, both rows refused, the stored one kept
    assert (summary.rows, summary.invalid, summary.created, summary.updated, summary.unchanged) == (
        7,
        4,
        1,
        1,
        0,
    )
    assert summary.errors_file is not None
    report = read_table(summary.errors_file, {"row": ("行号",), "column": ("列",), "reason": ("原因",)}, ())
    got = sorted((int(r["row"]), r["column"], r["reason"]) for _, r in report.rows())
    assert got == [
        (4, "身份证号", ERR_CONFLICT.format(rows="4、8")),
        (5, "身份证号", ERR_NOT_IN_ROSTER),
        (7, "账户类型", ERR_KIND),
        (7, "银行账号", ERR_ACCOUNT_NO),
        (8, "身份证号", ERR_CONFLICT.format(rows="4、8")),
    ]
    accounts = {x.person_id: (x.account_no, x.kind, x.bank_name) for x in BankAccount.objects.all()}
    assert accounts[sw.persons["poor1"].pk] == (
        "6217000011112222",
        BankAccountKind.SOCIAL_SECURITY,
        "建设银行",
    )
    assert accounts[sw.persons["poor2"].pk] == (
        "6230000000009999",
        BankAccountKind.SOCIAL_SECURITY,
        "农商银行",
    )
    assert accounts[sw.persons["plain"].pk] == ("6230000000002222", BankAccountKind.YIKATONG, "")


def test_the_command_prints_its_summary_and_records_the_run(
    sw: SettleWorld, tmp_path: Path, settings: Any
) -> None:
    settings.IMPORT_DIR = tmp_path
    path = _file(
        tmp_path / "accounts.csv", [(sw.persons["poor1"].id_number, "6217000011112222", "一卡通", "")]
    )
    out = io.StringIO()
    call_command("import_bank_accounts", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1
    run = ImportRun.objects.get()
    assert (run.kind, run.status, run.summary["created"]) == (ImportKind.BANK_ACCOUNTS, ImportStatus.DONE, 1)
    again = io.StringIO()
    call_command("import_bank_accounts", str(path), "--json", stdout=again)
    assert json.loads(again.getvalue())["unchanged"] == 1
