"""参保导入 ``jkfp import-enrolment``: validation naming the column, exact JSON, re-import, all-or-nothing."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from jkfp.core.idnumber import make_id_number
from jkfp.registry.enrolment import enrolment_import
from jkfp.registry.models import Enrolment, ImportKind, ImportRun, Person

pytestmark = pytest.mark.django_db

HEADER = ["身份证号", "年度", "参保状态", "个人缴费", "资助金额"]
KEYS = ["rows", "valid", "invalid", "created", "updated", "unchanged", "warnings", "errors_file"]


def pid(serial: int) -> str:
    return make_id_number("421321", date(1960, 3, 15), serial)


@pytest.fixture
def persons(county: dict[str, Any]) -> list[Any]:
    out = []
    for serial in (1, 2, 3):
        idn = pid(serial)
        out.append(
            Person.objects.create(
                id_number=idn,
                name=f"人{serial}",
                sex="M",
                birth_date=date(1960, 3, 15),
                village=county["t1v1"],
            )
        )
    return out


def write_csv(
    path: Path, rows: list[list[str]], *, header: list[str] = HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _cli(path: Path, *extra: str) -> dict[str, Any]:
    out = StringIO()
    call_command("import_enrolment", str(path), "--json", *extra, stdout=out)
    data = json.loads(out.getvalue())
    assert list(data) == KEYS  # exactly the summary keys, in order
    return dict(data)


def _errors(path: str) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(path).active
    return [tuple(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def test_import_creates_then_reimport_changes_nothing(
    persons: list[Any], tmp_path: Path, settings: Any
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    f = write_csv(
        tmp_path / "a.csv",
        [
            [pid(1), "2024", "已参保", "125", "125.00"],
            [pid(2), "2024", "未参保", "", ""],
            [pid(3), "2024", "1", "0", "250"],
            [pid(3), "2024", "已参保", "0.00", "250.00"],  # an identical repeat counts once
        ],
    )
    assert _cli(f) == {
        "rows": 4, "valid": 4, "invalid": 0, "created": 3, "updated": 0, "unchanged": 0, "warnings": 0,
        "errors_file": None,
    }  # fmt: skip
    first = Enrolment.objects.get(person=persons[0], year=2024)
    assert (first.insured, first.premium_paid, first.subsidy_amount) == (
        True,
        Decimal("125.00"),
        Decimal("125.00"),
    )
    assert Enrolment.objects.get(person=persons[1]).insured is False
    assert _cli(f)["created"] == 0 and _cli(f)["updated"] == 0
    assert Enrolment.objects.count() == 3
    changed = write_csv(tmp_path / "b.csv", [[pid(2), "2024", "已参保", "125", "125"]])
    assert _cli(changed) | {"errors_file": None} == {
        "rows": 1, "valid": 1, "invalid": 0, "created": 0, "updated": 1, "unchanged": 0, "warnings": 0,
        "errors_file": None,
    }  # fmt: skip
    assert Enrolment.objects.get(person=persons[1]).insured is True
    run = ImportRun.objects.filter(kind=ImportKind.ENROLMENT).latest("id")
    assert run.status == "done" and run.summary["updated"] == 1


def test_invalid_rows_name_the_column(persons: list[Any], tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    bad_check = pid(1)[:-1] + ("0" if pid(1)[-1] != "0" else "1")
    nobody = pid(99)
    after_next = str(timezone.localdate().year + 2)  # next year's list is collected in the autumn: allowed
    f = write_csv(
        tmp_path / "a.csv",
        [
            [bad_check, "2024", "已参保", "0", "0"],  # 2: check digit
            [nobody, "2024", "已参保", "0", "0"],  # 3: not in the roster
            [pid(1), after_next, "已参保", "0", "0"],  # 4: the year after next
            [pid(1), "2024", "参了", "0", "0"],  # 5: status
            [pid(1), "2024", "已参保", "-1", "0"],  # 6: negative premium
            [pid(1), "2024", "已参保", "0", "99999"],  # 7: absurd subsidy
            [pid(1), "2024", "已参保", "12.345", "0"],  # 8: three decimals
            [pid(2), "2024", "已参保", "0", "250"],  # 9 and 10: the same ID and year, different values
            [pid(2), "2024", "未参保", "0", "0"],
            [pid(3), "2024", "已参保", "0", "250"],  # 11: the only valid row
        ],
    )
    data = _cli(f)
    assert (data["rows"], data["valid"], data["invalid"], data["created"]) == (10, 1, 9, 1)
    problems = {(row, column) for row, column, _, _ in _errors(data["errors_file"])}
    assert problems == {
        (2, "身份证号"), (3, "身份证号"), (4, "年度"), (5, "参保状态"), (6, "个人缴费"), (7, "资助金额"),
        (8, "个人缴费"), (9, "身份证号"), (10, "身份证号"),
    }  # fmt: skip
    reasons = {row: reason for row, _, _, reason in _errors(data["errors_file"])}
    assert "花名册" in reasons[3] and "不能为负" in reasons[6] and "5000" in reasons[7]
    assert list(Enrolment.objects.values_list("person__id_number", flat=True)) == [pid(3)]


def test_year_option_gbk_and_xlsx(persons: list[Any], tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    header = ["身份证号", "参保状态", "个人缴费", "资助金额"]
    f = write_csv(tmp_path / "gbk.csv", [[pid(1), "已参保", "125", "125"]], header=header, encoding="gbk")
    assert _cli(f, "--year", "2025")["created"] == 1
    assert Enrolment.objects.get().year == 2025
    with pytest.raises(CommandError, match="年度"):  # neither a 年度 column nor --year
        _cli(f)
    # --year with a 年度 column: a row of another year is invalid.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([pid(2), 2025, "已参保", 125, 125])
    sheet.append([pid(3), 2024, "0", 0, 0])
    book.save(tmp_path / "b.xlsx")
    data = _cli(tmp_path / "b.xlsx", "--year", "2025")
    assert (data["valid"], data["invalid"], data["created"]) == (1, 1, 1)
    assert _errors(data["errors_file"])[0][:2] == (3, "年度")


def test_nothing_half_written(persons: list[Any], tmp_path: Path, monkeypatch: Any) -> None:
    f = write_csv(
        tmp_path / "a.csv", [[pid(1), "2024", "已参保", "0", "0"], [pid(2), "2024", "已参保", "0", "0"]]
    )

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Enrolment.objects, "bulk_update", boom)
    Enrolment.objects.create(person=persons[0], year=2024, insured=False)
    with pytest.raises(RuntimeError):
        enrolment_import(path=f, errors_dir=tmp_path)
    # The new row of 人2 written before the failure was rolled back with the rest.
    assert list(Enrolment.objects.values_list("person_id", "insured")) == [(persons[0].pk, False)]


def test_unreadable_file_exits_2_and_writes_nothing(persons: list[Any], tmp_path: Path) -> None:
    with pytest.raises(CommandError) as info:
        _cli(tmp_path / "missing.csv")
    assert info.value.returncode == 2
    f = write_csv(tmp_path / "a.csv", [[pid(1), "2024"]], header=["身份证号", "年度"])
    with pytest.raises(CommandError, match="参保状态"):
        _cli(f)
    assert not Enrolment.objects.exists()
