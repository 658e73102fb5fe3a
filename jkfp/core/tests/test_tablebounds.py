"""读取上限 Files beyond the reader's limits are refused with the limit named, before and while reading;
the reader libraries' errors come back in our Chinese (issue 17 §1, §8)."""

from __future__ import annotations

import csv
import re
import resource
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jkfp.core.tablebounds import DAMAGED_ZH, MB, TableLimits, csv_problem, table_limits
from jkfp.core.tabular import TableError, read_plain_csv_bytes, read_table
from jkfp.core.tests.bombs import xlsx_bomb

COLUMNS: dict[str, tuple[str, ...]] = {"name": ("姓名",), "code": ("代码",)}
SMALL = TableLimits(max_inflated_bytes=8 * MB, max_rows=5, max_columns=4, max_cell_chars=10)
# Chinese text with no reader-library English in it: only our own product names may appear.
OURS = {"Excel", "WPS", "xlsx", "CSV", "NUL", "MB"}


def _refused(path: Path, limits: TableLimits = SMALL) -> TableError:
    with pytest.raises(TableError) as caught:
        read_table(path, COLUMNS, ["name"], limits=limits)
    return caught.value


def _chinese_only(text: str) -> bool:
    return set(re.findall(r"[A-Za-z]+", text)) <= OURS


def _xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_zip_bomb_is_refused_by_its_declared_size_at_once(tmp_path: Path) -> None:
    bomb = xlsx_bomb(tmp_path / "bomb.xlsx", inflated_mib=2000)
    assert bomb.stat().st_size < 5 * MB
    started = time.monotonic()
    error = _refused(bomb, table_limits())
    assert time.monotonic() - started < 1.0
    assert "解压后过大" in error.zh and "声明 2,0" in error.zh and "上限 1,024 MB" in error.zh
    assert "limit 1,024 MB" in error.en


def test_a_bomb_with_a_forged_directory_is_stopped_at_the_limit_in_constant_memory(tmp_path: Path) -> None:
    # The directory claims 1 MB; the sheet really inflates to 400 MB: counted while inflating, stopped at 8 MB.
    bomb = xlsx_bomb(tmp_path / "forged.xlsx", inflated_mib=400, declared_mib=1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = _refused(bomb)
    assert "实际超过 8 MB" in error.zh and "上限 8 MB" in error.zh
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: < 64 MB more


def test_a_part_smaller_than_it_claims_is_damaged(tmp_path: Path) -> None:
    bomb = xlsx_bomb(tmp_path / "short.xlsx", inflated_mib=2, declared_mib=3)
    assert _refused(bomb).zh == DAMAGED_ZH


def test_a_workbook_within_the_limits_reads(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "ok.xlsx", [["姓名", "代码"], ["张三", "1"], ["李四", "2"]])
    table = read_table(path, COLUMNS, ["name"], limits=SMALL)
    assert table.columns["name"] == ["张三", "李四"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".quoted.csv"])
def test_rows_over_the_limit(tmp_path: Path, suffix: str) -> None:
    rows = [["姓名", "代码"], *([f"人{i}", str(i)] for i in range(6))]
    if suffix == ".xlsx":
        path = _xlsx(tmp_path / "rows.xlsx", rows)
    else:
        quote = '"' if suffix.startswith(".quoted") else ""
        path = tmp_path / "rows.csv"
        path.write_text("".join(f"{quote}{a}{quote},{b}\n" for a, b in rows), encoding="utf-8")
    error = _refused(path)
    assert "行数超过上限（上限 5 行）" in error.zh and "limit 5 rows" in error.en


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_columns_over_the_limit(tmp_path: Path, suffix: str) -> None:
    header = ["姓名", "代码", "a", "b", "c"]
    if suffix == ".xlsx":
        path = _xlsx(tmp_path / "wide.xlsx", [header, ["张三", "1", "", "", ""]])
    else:
        path = tmp_path / "wide.csv"
        path.write_text(",".join(header) + "\n张三,1,,,\n", encoding="utf-8")
    error = _refused(path)
    assert "列数超过上限（5 列，上限 4 列）" in error.zh


def test_a_sheet_declaring_too_many_rows_is_refused_before_calamine(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "dim.xlsx", [["姓名"], ["张三"]])
    with zipfile.ZipFile(path) as source:
        parts = {i.filename: source.read(i) for i in source.infolist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/"))
    parts[sheet] = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', parts[sheet])
    forged = tmp_path / "forged.xlsx"
    with zipfile.ZipFile(forged, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    assert "列数超过上限（16,384 列，上限 4 列）" in _refused(forged).zh


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".quoted.csv"])
def test_a_cell_over_the_limit_names_row_and_column(tmp_path: Path, suffix: str) -> None:
    rows = [["姓名", "代码"], ["张三", "1"], ["长" * 11, "2"]]
    if suffix == ".xlsx":
        path = _xlsx(tmp_path / "long.xlsx", rows)
        expected = "第3行“姓名”列的内容过长（11 个字符，上限 10 个字符）"
    else:
        quote = '"' if suffix.startswith(".quoted") else ""
        path = tmp_path / "long.csv"
        path.write_text("".join(f"{quote}{a}{quote},{b}\n" for a, b in rows), encoding="utf-8")
        expected = "第3行" if quote else "第3行“姓名”列的内容过长（11 个字符，上限 10 个字符）"
    error = _refused(path)
    assert expected in error.zh and ("上限 10 个字符" in error.zh)
    assert _chinese_only(error.zh)


def test_the_settle_fast_path_applies_the_limits(tmp_path: Path) -> None:
    from jkfp.core.tablebounds import table_limits_set

    path = tmp_path / "claims.csv"
    path.write_text("name,code\n" + "".join(f"p{i},{i}\n" for i in range(6)), encoding="utf-8")
    saved = table_limits()
    table_limits_set(SMALL)
    try:
        with pytest.raises(TableError) as caught:
            read_plain_csv_bytes(path, COLUMNS, ["name"])
    finally:
        table_limits_set(saved)
    assert "上限 5 行" in caught.value.zh


def test_the_limits_come_from_the_settings(settings: Any) -> None:
    settings.IMPORT_MAX_ROWS = 7
    assert table_limits().max_rows == 7


@pytest.mark.parametrize(
    ("content", "part"),
    [
        (b"not a zip at all", DAMAGED_ZH),
        (b"PK\x03\x04truncated", DAMAGED_ZH),
        (None, "工作簿内容已损坏"),  # a zip whose sheet is not well-formed XML
        (b"", DAMAGED_ZH),  # a zip without a workbook part
    ],
)
def test_an_unreadable_workbook_is_told_in_chinese_only(
    tmp_path: Path, content: bytes | None, part: str
) -> None:
    path = tmp_path / "bad.xlsx"
    if content is None:
        _xlsx(path, [["姓名"], ["张三"]])
        with zipfile.ZipFile(path) as source:
            parts = {i.filename: source.read(i) for i in source.infolist()}
        sheet = next(n for n in parts if n.startswith("xl/worksheets/"))
        parts[sheet] = parts[sheet].replace(b"</sheetData>", b"<row><c><v>1</sheetData>")
        with zipfile.ZipFile(path, "w") as target:
            for name, data in parts.items():
                target.writestr(name, data)
    elif content == b"":
        with zipfile.ZipFile(path, "w") as target:
            target.writestr("hello.txt", "hi")
    else:
        path.write_bytes(content)
    error = _refused(path)
    assert part in error.zh
    assert _chinese_only(error.zh), error.zh
    assert error.en


def test_a_csv_error_is_told_in_chinese_only() -> None:
    zh, en = csv_problem(3, csv.Error("new-line character seen in unquoted field"), table_limits())
    assert zh == "第3行CSV格式错误：换行符位置不对（请用 Excel 另存为 CSV）" and "new-line" in en
    zh, en = csv_problem(4, csv.Error("some future message"), table_limits())
    assert zh == "第4行CSV格式错误" and "some future message" in en
