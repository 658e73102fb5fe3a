"""导出 Spreadsheet exports of the web pages (.xlsx, Chinese headers, masked IDs, formula-safe cells)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.registry import selectors

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 1000
RECON_HEADERS = (
    "身份证号",
    "姓名",
    "乡镇",
    "村",
    "户编号",
    "所在名单",
    "缺少于名单",
    "不一致字段",
    "核实状态",
    "核实说明",
)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def disagreement_text(disagreements: dict[str, dict[str, Any]]) -> str:
    """不一致说明 ``姓名：国家平台=张三，省系统=张山；…`` from a row's disagreements."""
    return "；".join(
        f"{label}：" + "，".join(f"{source}={value}" for source, value in values.items())
        for label, values in disagreements.items()
    )


def reconciliation_xlsx(
    persons: Any, *, sources: list[str], progress: Callable[[int, int], object] | None = None
) -> tuple[Path, int]:
    """比对表 Write the reconciliation of ``persons`` (already scoped) to a temporary .xlsx.

    Rows are written as they are read, 1,000 persons at a time, with xlsxwriter's constant-memory
    mode, so a county-wide export does not hold the workbook in memory. One 是/否 column per
    source follows the fixed columns, for filtering in Excel. ``progress(written, total)`` is called
    after each chunk. Returns (path, persons written).
    """
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="reconciliation-", suffix=".xlsx", dir=directory)
    os.close(handle)
    workbook = xlsxwriter.Workbook(name, {"constant_memory": True, "strings_to_formulas": False})
    count = 0
    try:
        sheet = workbook.add_worksheet("名单比对")
        bold = workbook.add_format({"bold": True})
        headers = (*RECON_HEADERS, *(f"在{source}" for source in sources))
        for col, title in enumerate(headers):
            sheet.write_string(0, col, title, bold)
        sheet.set_column(0, 0, 21)
        sheet.set_column(1, 4, 12)
        sheet.set_column(5, 7, 30)
        sheet.freeze_panes(1, 0)
        qs = persons.select_related("village", "village__parent", "household")
        total = persons.count() if progress is not None else 0
        for chunk in _chunks(qs.iterator(chunk_size=CHUNK), CHUNK):
            if progress is not None:
                progress(count, total)
            for row in selectors.reconciliation_page_rows(chunk):
                count += 1
                person = row.person
                village = person.village
                cells = (
                    mask(person.id_number),
                    person.name,
                    village.parent.name if village.parent else "",
                    village.name,
                    person.household.household_no if person.household else "",
                    "、".join(row.present),
                    "、".join(row.absent),
                    disagreement_text(row.disagreements),
                    person.get_verification_status_display(),
                    person.verification_note,
                    *("是" if source in row.present else "否" for source in sources),
                )
                for col, value in enumerate(cells):
                    sheet.write_string(count, col, safe_cell(str(value)))
    finally:
        workbook.close()
    return Path(name), count


def file_response(path: Path, filename: str, *, delete: bool = True) -> FileResponse:
    """下载 Send a file as an attachment; a temporary export is unlinked once opened (POSIX keeps it readable)."""
    handle = path.open("rb")
    if delete:
        path.unlink(missing_ok=True)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_TYPE)
