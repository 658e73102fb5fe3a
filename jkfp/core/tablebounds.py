"""表格读取上限 The bounds every CSV/XLSX file is read within, and the reader libraries' errors in Chinese.

``core/tabular.py`` (the one reader) asks this module before and while it reads: a workbook's zip
directory (the declared sizes of its parts) and then the bytes the parts really inflate to, counted
while inflating them in bounded chunks (a zip bomb is stopped after ``max_inflated_bytes``, in constant
memory); rows, columns and cell length while the rows are read. Each check returns the (Chinese,
English) message naming the limit, or None; ``tabular`` raises it as its ``TableError``.

Pure Python like ``tabular``: the limits come from settings through ``CoreConfig.ready``
(``table_limits_set``); without Django (``jkfp settle``) the defaults apply.
"""

from __future__ import annotations

import copy
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
CHUNK = 4 * MB

Problem = tuple[str, str]  # (Chinese message, English message)


@dataclass(frozen=True)
class TableLimits:
    """读取上限 What one file may hold (settings ``JKFP_IMPORT_MAX_*``, docs/deploy.md).

    ``max_inflated_bytes``: a workbook's parts (sheets, shared strings, styles …) unpacked; a
    1M-row roster ``.xlsx`` unpacks to about 440 MB. ``max_cell_chars``: Excel's own cell limit.
    """

    max_inflated_bytes: int = 1024 * MB
    max_rows: int = 2_000_000
    max_columns: int = 300
    max_cell_chars: int = 32_767


_limits = TableLimits()


def table_limits() -> TableLimits:
    """当前上限 The limits in force in this process."""
    return _limits


def table_limits_set(limits: TableLimits) -> None:
    """设置上限 Set the limits of this process (``CoreConfig.ready`` from the settings; tests)."""
    global _limits
    _limits = limits


def _mb(size: int) -> str:
    return f"{size / MB:,.0f}"


def rows_problem(rows: int, limits: TableLimits) -> Problem | None:
    """行数超限 More data rows than ``max_rows``."""
    if rows <= limits.max_rows:
        return None
    return (
        f"文件行数超过上限（上限 {limits.max_rows:,} 行）。请把文件拆成几个较小的文件分别导入。",
        f"too many rows (limit {limits.max_rows:,} rows): split the file",
    )


def columns_problem(columns: int, limits: TableLimits) -> Problem | None:
    """列数超限 A row wider than ``max_columns``."""
    if columns <= limits.max_columns:
        return None
    return (
        f"文件列数超过上限（{columns:,} 列，上限 {limits.max_columns} 列）。请删去多余的列后重新导入。",
        f"too many columns ({columns:,}, limit {limits.max_columns})",
    )


def cell_problem(rownum: int, header: str, length: int, limits: TableLimits) -> Problem | None:
    """单元格过长 A cell longer than ``max_cell_chars`` characters (row number and column named)."""
    if length <= limits.max_cell_chars:
        return None
    return (
        f"第{rownum}行“{header}”列的内容过长（{length:,} 个字符，上限 {limits.max_cell_chars:,} 个字符）",
        f"row {rownum}, column '{header}': cell too long ({length:,} characters, limit {limits.max_cell_chars:,})",
    )


def _inflated_problem(size: int, limits: TableLimits, *, declared: bool) -> Problem:
    how_zh, how_en = ("声明", "declared") if declared else ("实际超过", "more than")
    return (
        f"工作簿解压后过大（{how_zh} {_mb(size)} MB，上限 {_mb(limits.max_inflated_bytes)} MB）。"
        "文件可能已损坏或被恶意构造；请用 Excel 打开后另存为 .xlsx，或拆成几个较小的文件分别导入。",
        f"workbook too large when unpacked ({how_en} {_mb(size)} MB, limit {_mb(limits.max_inflated_bytes)} MB)",
    )


DAMAGED_ZH = (
    "无法读取工作簿：文件已损坏，或不是 Excel/WPS 保存的表格文件。请用 Excel 打开后另存为 .xlsx 再上传。"
)
DAMAGED_EN = "cannot read the workbook: damaged, or not a spreadsheet saved by Excel/WPS"
# Parts a reader never unpacks (pictures, embedded files): not counted.
_BINARY_PARTS = re.compile(r"^(?:xl/media/|xl/embeddings/|Pictures/|Thumbnails/|docProps/thumbnail)", re.I)
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]{1,3}\d+:([A-Z]{1,3})(\d+)"')
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.I)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def zip_problem(path: Path, limits: TableLimits) -> Problem | None:
    """压缩包检查 A workbook's parts within ``max_inflated_bytes``: first as its zip directory declares,
    then as they really inflate (each part unpacked chunk by chunk and counted, stopped at the limit —
    whatever its header claims); a sheet whose ``<dimension>`` exceeds the rows or columns refused too.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = [i for i in archive.infolist() if not i.is_dir() and not _BINARY_PARTS.match(i.filename)]
            declared = sum(i.file_size for i in parts)
            if declared > limits.max_inflated_bytes:
                return _inflated_problem(declared, limits, declared=True)
            total = 0
            for info in parts:
                total, problem = _inflate_counted(archive, info, total, limits)
                if problem is not None:
                    return problem
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError):
        return DAMAGED_ZH, DAMAGED_EN
    return None


def _inflate_counted(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, limits: TableLimits
) -> tuple[int, Problem | None]:
    """Unpack one part, counting its bytes into ``total``: (new total, problem or None)."""
    # zipfile stops reading at the size the header declares; a probe entry declaring more than the
    # limit (by two chunks: the counting below stops first) lets the inflater run to the stream's real
    # end or to the limit, so a part that inflates beyond what it declares is caught (its CRC is
    # checked when the stream really ends).
    probe = copy.copy(info)
    probe.file_size = limits.max_inflated_bytes - total + 2 * CHUNK
    sheet = _SHEET_PART.match(info.filename) is not None
    size = 0
    with archive.open(probe) as stream:
        while chunk := stream.read(CHUNK):
            if sheet and size == 0 and (found := _DIMENSION.search(chunk[:65536])):
                columns, rows = _column_number(found.group(1)), int(found.group(2))
                problem = columns_problem(columns, limits) or rows_problem(rows - 1, limits)
                if problem is not None:
                    return total, problem
            size += len(chunk)
            if total + size > limits.max_inflated_bytes:
                return total + size, _inflated_problem(total + size, limits, declared=False)
    if size != info.file_size:  # a part that is not what the directory says: damaged or forged
        return total + size, (DAMAGED_ZH, DAMAGED_EN)
    return total + size, None


def workbook_problem(exc: BaseException) -> Problem:
    """工作簿错误 The reader library's error on a workbook as our message (no library text in Chinese)."""
    name = type(exc).__name__
    detail = f"{name}: {exc}"[:300]
    if name == "PasswordError":
        return (
            "工作簿设有密码保护，无法读取。请在 Excel 中取消密码后另存为 .xlsx 再上传。",
            f"the workbook is password-protected ({detail})",
        )
    if name == "WorksheetNotFound":
        return "工作簿中没有工作表。", f"the workbook has no worksheet ({detail})"
    if name == "XmlError":
        return (
            "工作簿内容已损坏（表格数据格式错误）。请用 Excel 打开后另存为 .xlsx 再上传。",
            f"the workbook's content is damaged ({detail})",
        )
    return DAMAGED_ZH, f"{DAMAGED_EN} ({detail})"


_CSV_ERRORS = (
    (
        "field larger than field limit",
        "单元格内容过长（上限 {cell:,} 个字符）",
        "cell too long (limit {cell:,} characters)",
    ),
    (
        "new-line character seen in unquoted field",
        "换行符位置不对（请用 Excel 另存为 CSV）",
        "misplaced line break",
    ),
    ("line contains nul", "含有空字符（NUL），文件可能已损坏", "contains a NUL character"),
    ("expected after", "引号不配对（单元格中的双引号应写成两个）", "unbalanced quotes"),
)


def csv_problem(rownum: int, exc: BaseException, limits: TableLimits) -> Problem:
    """CSV 错误 ``csv.Error`` at a row as our message (the module's English only in the English text)."""
    text = str(exc)
    for needle, zh, en in _CSV_ERRORS:
        if needle in text.lower():
            return (
                f"第{rownum}行CSV格式错误：{zh.format(cell=limits.max_cell_chars)}",
                f"row {rownum}: malformed CSV: {en.format(cell=limits.max_cell_chars)} ({text})",
            )
    return f"第{rownum}行CSV格式错误", f"row {rownum}: malformed CSV: {text}"
