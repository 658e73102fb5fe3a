"""指标明细导出 The rows behind a figure as page cells and as an .xlsx (Chinese headers, masked IDs, totals)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.indicators.definitions import Column
from jkfp.indicators.selectors import SIDES, Drill

CHUNK = 2000


def cell_text(column: Column, value: Any) -> str:
    """单元格 One value as the page and the export show it (masked ID, labels, 是/否, dates)."""
    if value is None:
        return ""
    if column.path.endswith("id_number"):
        return mask(str(value))
    if column.labels is not None:
        return str(column.labels.get(value, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def format_rows(columns: tuple[Column, ...], rows: Iterable[tuple[Any, ...]]) -> list[list[str]]:
    return [[cell_text(c, v) for c, v in zip(columns, row, strict=True)] for row in rows]


def drill_xlsx(drill: Drill, *, title: str) -> tuple[Path, int, dict[str, Decimal]]:
    """明细表 Write the rows of ``drill`` to a temporary .xlsx; returns (path, rows, money column totals)."""
    return table_xlsx(
        drill.rows,
        drill.columns,
        sheet=f"{drill.indicator.name}{SIDES[drill.side]}",
        unit=drill.unit,
        notes=(title,),
    )


def table_xlsx(
    rows: QuerySet[Any],
    columns: tuple[Column, ...],
    *,
    sheet: str,
    unit: str,
    notes: tuple[str, ...] = (),
    prefix: str = "indicator-",
) -> tuple[Path, int, dict[str, Decimal]]:
    """表格 Stream ``rows`` (a queryset) to a temporary .xlsx with Chinese headers and a frozen header row.

    A 合计 row counts the rows and sums the money columns (formulas with their values cached); the
    notes follow below it. Returns (path, rows written, money totals by header).
    """
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".xlsx", dir=directory)
    os.close(handle)
    totals = {c.label: Decimal("0.00") for c in columns if c.money}
    count = 0
    workbook = xlsxwriter.Workbook(name, {"constant_memory": True, "strings_to_formulas": False})
    try:
        ws = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        money = workbook.add_format({"num_format": "0.00"})
        total_fmt = workbook.add_format({"bold": True, "top": 1, "num_format": "0.00"})
        ws.write_string(0, 0, "序号", bold)
        for col, column in enumerate(columns, start=1):
            ws.write_string(0, col, column.label, bold)
        ws.freeze_panes(1, 0)
        ws.set_column(0, 0, 6)
        ws.set_column(1, len(columns), 14)
        for row in rows.values_list(*[c.path for c in columns]).iterator(chunk_size=CHUNK):
            count += 1
            ws.write_number(count, 0, count)
            for col, (column, value) in enumerate(zip(columns, row, strict=True), start=1):
                if column.money and value is not None:
                    amount = Decimal(value)
                    totals[column.label] += amount
                    ws.write_number(count, col, float(amount), money)  # a cell stores a float
                else:
                    text = cell_text(column, value)
                    if text:
                        ws.write_string(count, col, safe_cell(text))
        t = count + 1
        ws.write_string(t, 0, "合计", total_fmt)
        ws.write_string(t, 1, f"{count}{unit}", total_fmt)
        for col, column in enumerate(columns, start=1):
            if column.money:
                letter = xlsxwriter.utility.xl_col_to_name(col)
                value = float(totals[column.label])
                if count:
                    ws.write_formula(t, col, f"=SUM({letter}2:{letter}{count + 1})", total_fmt, value)
                else:
                    ws.write_number(t, col, 0, total_fmt)
        for offset, note in enumerate(notes):
            ws.write_string(t + 2 + offset, 0, safe_cell(note))
    finally:
        workbook.close()
    return Path(name), count, totals
