"""表格读取 read_table: CSV in UTF-8/GBK/BOM, XLSX, headers and aliases, blank rows, safe cells."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from jkfp.core.tabular import TableError, read_table, safe_cell

COLUMNS = {"code": ("代码",), "name": ("名称",), "note": ("备注",)}


def test_utf8_csv_with_bom_and_aliases(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\ufeffCode , 名 称,其他\n001, 随县 ,x\n,,\n002,第一镇,y\n", encoding="utf-8")
    table = read_table(path, COLUMNS, ["code", "name"])
    assert table.columns == {"code": ["001", "002"], "name": ["随县", "第一镇"]}
    assert table.row_numbers == [2, 4]
    assert table.ignored_headers == ["其他"]
    assert table.encoding == "utf-8"
    assert list(table.rows()) == [
        (2, {"code": "001", "name": "随县"}),
        (4, {"code": "002", "name": "第一镇"}),
    ]


def test_gbk_csv_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("代码,名称\r\n001,欧阳镇\r\n".encode("gbk"))
    table = read_table(path, COLUMNS, ["code"])
    assert (table.columns["name"], table.encoding) == (["欧阳镇"], "gbk")


def test_semicolon_delimiter_and_short_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("代码;名称;备注\n001;甲\n", encoding="utf-8")
    assert read_table(path, COLUMNS, ["code"]).columns["note"] == [""]


def test_xlsx_built_with_openpyxl(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([None, None])
    sheet.append(["代码", "名称", "备注"])
    sheet.append([421321, "随县", datetime(2024, 1, 2)])  # noqa: DTZ001 (a spreadsheet cell holds no time zone)
    sheet.append([None, None, None])
    sheet.append([1.5, True, date(2024, 3, 4)])
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    table = read_table(path, COLUMNS, ["code", "name"])
    assert table.columns == {
        "code": ["421321", "1.5"],
        "name": ["随县", "1"],
        "note": ["2024-01-02", "2024-03-04"],
    }
    assert table.row_numbers == [3, 5]


@pytest.mark.parametrize(
    ("name", "content", "part"),
    [
        ("a.csv", "名称\n甲\n", "缺少必需的列"),
        ("a.csv", "", "文件为空"),
        ("a.csv", "代码,code\n1,2\n", "重复"),
        ("a.pdf", "x", "不支持"),
    ],
)
def test_file_level_errors(tmp_path: Path, name: str, content: str, part: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TableError) as caught:
        read_table(path, COLUMNS, ["code"])
    assert part in caught.value.zh and caught.value.en


def test_missing_file_and_size_limit(tmp_path: Path) -> None:
    with pytest.raises(TableError):
        read_table(tmp_path / "none.csv", COLUMNS, ["code"])
    path = tmp_path / "big.csv"
    path.write_text("代码\n" + "1\n" * 1000, encoding="utf-8")
    with pytest.raises(TableError) as caught:
        read_table(path, COLUMNS, ["code"], max_bytes=100)
    assert "过大" in caught.value.zh


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x81\x30\xff\xff\xff")
    with pytest.raises(TableError) as caught:
        read_table(path, COLUMNS, ["code"])
    assert "编码" in caught.value.zh


def test_damaged_workbook(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(TableError):
        read_table(path, COLUMNS, ["code"])


@pytest.mark.parametrize("value", ["=1+2", "+86", "-5", "@SUM(A1)", "\tx", "\rx"])
def test_safe_cell_escapes_formulas(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["张三", "13800000000", "", 12, None])
def test_safe_cell_keeps_plain_values(value: object) -> None:
    assert safe_cell(value) == value


def test_only_csv_and_spreadsheets_are_read(tmp_path: Path) -> None:
    text = tmp_path / "roster.txt"
    text.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(TableError) as refused:
        read_table(text, {"a": (), "b": ()}, ["a"])
    assert ".txt" in refused.value.zh and "unsupported file type" in refused.value.en


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(TableError) as refused:
        read_table(tmp_path, {"a": ()}, ["a"])
    assert "文件夹" in refused.value.zh and "is a directory" in refused.value.en
