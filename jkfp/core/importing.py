"""导入汇总与错误报告 Shared pieces of every file import: the summary and the error report.

Used by the region, institution and roster imports (and the import page): one summary shape
(the ``--json`` output of every import command) and one error-report writer (``.xlsx``, one line
per problem: 行号, 列, 值, 原因). The claim, chronic-card and bank-account imports also share the
row-failure collector (``RowFailures``), the ID-number column check (``id_number_column``) and the
same-key-twice check (``KeyedRows``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings

from jkfp.core import tabular_map
from jkfp.core.clock import local_now
from jkfp.core.idnumber import IdNumberError, validate_id_number
from jkfp.core.tabular import safe_cell

ERROR_REPORT_HEADERS = ("行号", "列", "值", "原因")

# The headers of the columns every list names (issue 18 item 2; docs/import-formats.md).
ID_NUMBER_HEADERS = ("身份证号", "身份证号码", "证件号码", "公民身份号码")
NAME_HEADERS = ("姓名", "人员姓名", "患者姓名")

# Separators of multi-valued cells (人员类别, 患病情况): 、 , ; and their full-width forms.
LIST_SEPARATORS = re.compile(r"[、,;，；]")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Dates as county staff write them: 2024-03-01, 2024/3/1, 2024.3.1, 2024年3月1日, 20240301 (a
# spreadsheet date cell arrives as ``2024-03-01``, possibly with a midnight time).
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# An Excel serial day number (a date cell exported as a number, e.g. 43835 = 2020-01-05): five digits
# (1927-05-18 … 2173-10-14), no other reading of such a cell is plausible.
_EXCEL_SERIAL = re.compile(r"^(\d{5})(?:\.0+)?$")
_EXCEL_EPOCH = date(1899, 12, 30)
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")
ERR_ID = "身份证号不合法：{reason}"
ERR_NOT_IN_ROSTER = "花名册中没有此人（或不在您的管辖范围内），请先导入花名册"
ERR_DATE_FORMAT = "日期无法识别，应为 YYYY-MM-DD"
ERR_DATE_IMPOSSIBLE = "日期不存在"
ERR_MONTH_FORMAT = "月份无法识别，应为 YYYY-MM"

# 是/否 cells (县域内, 政府办, 标准化 …): the Chinese words, 1/0 and the English forms.
YES_NO_VALUES: dict[str, bool] = {
    "是": True,
    "1": True,
    "y": True,
    "yes": True,
    "true": True,
    "否": False,
    "0": False,
    "n": False,
    "no": False,
    "false": False,
    "√": True,
    "✓": True,
    "×": False,
    "✗": False,
}


@dataclass
class ImportSummary:
    """导入汇总 What one import did (the exact ``--json`` output of the import commands)."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: int = 0
    errors_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """字典 The summary in the documented key order."""
        return {
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": self.warnings,
            "errors_file": self.errors_file,
        }

    def text(self) -> str:
        """中英文摘要 A one-paragraph human summary in Chinese and English."""
        zh = (
            f"共{self.rows}行：有效{self.valid}行，无效{self.invalid}行；新增{self.created}，"
            f"更新{self.updated}，未变{self.unchanged}；警告{self.warnings}条"
        )
        en = (
            f"{self.rows} rows: {self.valid} valid, {self.invalid} invalid; {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged; {self.warnings} warnings"
        )
        lines = [zh, en]
        if self.errors_file:
            lines.append(f"错误报告 error report: {self.errors_file}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RowProblem:
    """行错误 One problem of one row: row number (as in the file), column header, value, reason."""

    row: int
    column: str
    value: str
    reason: str


class RowFailures:
    """行错误收集 The problems of one import and the rows (0-based) they make invalid.

    ``fail(i, column, value, reason)`` records a problem of row ``i`` under the column's header as the
    file wrote it (``headers[column]``) and the row number as the file numbers it (``row_numbers[i]``).
    """

    def __init__(self, row_numbers: Sequence[int], headers: Mapping[str, str]) -> None:
        self.row_numbers = row_numbers
        self.headers = headers
        self.problems: list[RowProblem] = []
        self.bad: set[int] = set()

    def fail(self, i: int, column: str, value: str, reason: str) -> None:
        """记一条错误 Record a problem of row ``i`` and mark the row invalid."""
        self.problems.append(RowProblem(self.row_numbers[i], self.headers[column], value, reason))
        self.bad.add(i)


K = TypeVar("K")
V = TypeVar("V")


class KeyedRows(Generic[K, V]):
    """同键多行 The valid rows of an import by their key (a claim id, a person and day …).

    ``add(key, value, i)`` files row ``i``: the same key again with an equal value is the same record
    (its rows are listed together); with a different value the key conflicts. ``settle`` then marks
    every row of each conflicting key invalid and returns ``key → (value, row indexes)`` of the rest.
    """

    def __init__(self) -> None:
        self.rows: dict[K, tuple[V, list[int]]] = {}
        self.conflicts: set[K] = set()

    def add(self, key: K, value: V, i: int) -> None:
        """登记一行 File row ``i`` under ``key``."""
        seen = self.rows.get(key)
        if seen is None:
            self.rows[key] = (value, [i])
            return
        seen[1].append(i)
        if seen[0] != value:
            self.conflicts.add(key)

    def settle(
        self, failures: RowFailures, column: str, cells: Sequence[str], message: str
    ) -> dict[K, tuple[V, list[int]]]:
        """同键冲突 Record ``message`` (``{rows}``: the key's row numbers as the file numbers them, joined
        by 、) under ``column`` (its cell of each row from ``cells``) for every row of a conflicting key,
        drop those keys, and return the rows kept."""
        for key in self.conflicts:
            indexes = self.rows.pop(key)[1]
            listed = "、".join(str(failures.row_numbers[i]) for i in indexes)
            for i in indexes:
                failures.fail(i, column, cells[i], message.format(rows=listed))
        self.conflicts.clear()
        return self.rows


def id_number_column(
    values: Sequence[str], failures: RowFailures, column: str, *, today: date | None = None
) -> list[str | None]:
    """校验身份证号列 Each cell's normalised ID number (GB 11643), or None after recording ``ERR_ID``
    with the check's reason for the cell's row."""
    ids: list[str | None] = []
    for i, raw in enumerate(values):
        try:
            ids.append(validate_id_number(raw, today=today))
        except IdNumberError as exc:
            ids.append(None)
            failures.fail(i, column, raw, ERR_ID.format(reason=exc.zh))
    return ids


def split_list(text: str) -> list[str]:
    """拆分多值单元格 Split ``a、b,c;d`` into stripped non-empty parts, keeping their order."""
    if not text:
        return []
    return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]


def parse_date(text: str) -> tuple[date | None, str]:
    """解析日期 (date, "") or (None, reason) for ``YYYY-MM-DD``, ``YYYY/M/D``, ``YYYY.M.D``, ``YYYYMMDD``,
    ``YYYY年M月D日`` or an Excel serial day number (five digits)."""
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        serial = _EXCEL_SERIAL.match(text)
        if serial is not None:
            return _EXCEL_EPOCH + timedelta(days=int(serial[1])), ""
        return None, ERR_DATE_FORMAT
    try:
        return date(int(match[1]), int(match[2]), int(match[3])), ""
    except ValueError:
        return None, ERR_DATE_IMPOSSIBLE


def parse_month(text: str) -> tuple[date | None, str]:
    """解析月份 (first day of the month, "") or (None, reason) for ``YYYY-MM``, ``YYYY年M月`` or any date of it."""
    match = _MONTH.match(text)
    if match is None:
        day, reason = parse_date(text)
        if day is None:
            return None, ERR_MONTH_FORMAT if reason == ERR_DATE_FORMAT else reason
        return day.replace(day=1), ""
    if not 1 <= int(match[2]) <= 12:
        return None, ERR_MONTH_FORMAT
    return date(int(match[1]), int(match[2]), 1), ""


def parse_yes_no(text: str) -> bool | None:
    """是否 True/False for 是/否, 1/0, yes/no (any case); None for anything else."""
    return YES_NO_VALUES.get(text.strip().lower())


def has_control_chars(text: str) -> bool:
    """含控制字符 True when ``text`` holds a control character (C0/C1, DEL)."""
    return _CONTROL.search(text) is not None


def visible(text: str) -> str:
    """可见化 Control characters written as ``\\xNN`` so that a report shows what the cell held."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def error_report(problems: Sequence[RowProblem], errors_dir: Path | str | None, stem: str) -> str | None:
    """错误报告 The report of an import's ``problems`` (``write_error_report``) in ``errors_dir`` (None: the
    import folder's ``errors``), its path as ``ImportSummary.errors_file`` holds it; None (nothing
    written) when there are none. Every import ends with it."""
    if not problems:
        return None
    directory = Path(errors_dir) if errors_dir is not None else Path(settings.IMPORT_DIR) / "errors"
    return str(write_error_report(problems, directory=directory, stem=stem))


def write_error_report(problems: Iterable[RowProblem], *, directory: Path, stem: str) -> Path:
    """写错误报告 Write the problems to ``directory/stem-<timestamp>.xlsx`` and return its path.

    Control characters are shown as ``\\xNN``; every text cell goes through ``safe_cell`` so that a value such as ``=cmd|…`` cannot run as a
    formula when staff open the report in Excel.
    """
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    directory.mkdir(parents=True, exist_ok=True)
    safe_stem = re.sub(r"[^\w.-]+", "_", stem)[:80] or "import"
    path = directory / f"{safe_stem}-{local_now():%Y%m%d-%H%M%S-%f}.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("错误")
        bold = workbook.add_format({"bold": True})
        for col, title in enumerate(ERROR_REPORT_HEADERS):
            sheet.write_string(0, col, title, bold)
        sheet.set_column(0, 0, 8)
        sheet.set_column(1, 1, 16)
        sheet.set_column(2, 2, 28)
        sheet.set_column(3, 3, 60)
        # A value the import's mapping or synonyms changed is shown as written → as mapped.
        context = tabular_map.current()
        field_of = {header: name for name, header in context.headers.items()}
        for line, problem in enumerate(sorted(problems, key=lambda p: p.row), start=1):
            value = problem.value
            origin = context.mapped_from.get(field_of.get(problem.column, ""), {}).get(value)
            if origin is not None and origin != value:
                value = f"{origin} → {value}"
            sheet.write_number(line, 0, problem.row)
            sheet.write_string(line, 1, safe_cell(problem.column))
            sheet.write_string(line, 2, safe_cell(visible(value)))
            sheet.write_string(line, 3, safe_cell(problem.reason))
    finally:
        workbook.close()
    return path
