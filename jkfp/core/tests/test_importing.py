"""导入公共部分 ImportSummary, list splitting and the error report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl

from jkfp.core.idnumber import make_id_number
from jkfp.core.importing import (
    ERR_ID,
    ImportSummary,
    KeyedRows,
    RowFailures,
    RowProblem,
    has_control_chars,
    id_number_column,
    split_list,
    write_error_report,
)


def test_summary_key_order_and_text() -> None:
    summary = ImportSummary(
        rows=3, valid=2, invalid=1, created=1, updated=1, warnings=2, errors_file="/x.xlsx"
    )
    assert list(summary.as_dict()) == [
        "rows",
        "valid",
        "invalid",
        "created",
        "updated",
        "unchanged",
        "warnings",
        "errors_file",
    ]
    assert summary.as_dict()["errors_file"] == "/x.xlsx"
    assert "共3行" in summary.text() and "3 rows" in summary.text() and "/x.xlsx" in summary.text()
    assert ImportSummary().as_dict()["errors_file"] is None


def test_split_list_accepts_every_separator() -> None:
    assert split_list("低保、特困,孤儿;残疾，计生特困； 脱贫 ,,") == [
        "低保",
        "特困",
        "孤儿",
        "残疾",
        "计生特困",
        "脱贫",
    ]
    assert split_list("") == []


def test_control_characters() -> None:
    assert has_control_chars("a\x00b") and has_control_chars("\x85") and not has_control_chars("张三 ")


def test_error_report_lines_sorted_and_safe(tmp_path: Path) -> None:
    problems = [
        RowProblem(5, "姓名", '=HYPERLINK("x")', "姓名以 = 开头"),
        RowProblem(2, "身份证号", "123", "身份证号应为18位"),
        RowProblem(2, "村代码", "bad\x07", "村代码不存在"),
    ]
    path = write_error_report(problems, directory=tmp_path / "errors", stem="roster/../x")
    assert path.parent == tmp_path / "errors" and path.suffix == ".xlsx"
    workbook = openpyxl.load_workbook(path)
    lines = [tuple(r) for r in workbook.active.iter_rows(values_only=True)]
    assert lines == [
        ("行号", "列", "值", "原因"),
        (2, "身份证号", "123", "身份证号应为18位"),
        (2, "村代码", "bad\\x07", "村代码不存在"),
        (5, "姓名", '\'=HYPERLINK("x")', "姓名以 = 开头"),
    ]
    assert workbook.active["C4"].data_type == "s"  # text, never a formula


def test_row_failures_and_the_id_number_column() -> None:
    good = make_id_number("421321", date(1970, 1, 1), 11)
    failures = RowFailures([2, 3, 4], {"id_number": "身份证号"})
    ids = id_number_column([good.lower(), "", "123"], failures, "id_number", today=date(2024, 1, 1))
    assert ids == [good.upper(), None, None]
    assert failures.bad == {1, 2}
    assert [(p.row, p.column, p.value) for p in failures.problems] == [
        (3, "身份证号", ""),
        (4, "身份证号", "123"),
    ]
    assert failures.problems[0].reason == ERR_ID.format(reason="身份证号为空")
    assert all(p.reason.startswith("身份证号不合法：") for p in failures.problems)


def test_keyed_rows_collapse_equal_repeats_and_refuse_every_row_of_a_conflict() -> None:
    failures = RowFailures([2, 3, 4, 5, 6], {"claim_id": "结算单号"})
    cells = ["A1", "A1", "B1", "B1", "C1"]
    keyed: KeyedRows[str, tuple[int, str]] = KeyedRows()
    for i, (key, value) in enumerate(
        [("A1", (100, "x")), ("A1", (100, "x")), ("B1", (100, "x")), ("B1", (200, "x")), ("C1", (1, "y"))]
    ):
        keyed.add(key, value, i)
    kept = keyed.settle(failures, "claim_id", cells, "同一单号出现多次且内容不同（第{rows}行）")
    assert kept == {"A1": ((100, "x"), [0, 1]), "C1": ((1, "y"), [4])}
    assert failures.bad == {2, 3}
    assert [(p.row, p.column, p.value, p.reason) for p in failures.problems] == [
        (4, "结算单号", "B1", "同一单号出现多次且内容不同（第4、5行）"),
        (5, "结算单号", "B1", "同一单号出现多次且内容不同（第4、5行）"),
    ]
