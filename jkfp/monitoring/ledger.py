"""防返贫监测预警台账 The monitoring alert ledger as .xlsx, for a county, township or village and a year.

One row per alert of the year (person with masked ID, rule, amounts, the case's state, assignee,
home-visit date against its deadline, the national system's reference, health measures), then a
totals block — COUNTA/SUM/COUNTIF formulas with their values cached, so that a reader that does not
recalculate sees the same figures as Excel: alerts, payments summed, alerts per case state, alerts
verified in time and the handling rate (预警处置率 = 按期核实 ÷ 预警数, domain.md §9
``alert_handling_rate``). Every text cell goes through ``safe_cell`` (no formula injection).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.monitoring import selectors, workflow
from jkfp.monitoring.models import CaseStatus, HealthMeasure, MeasureKind
from jkfp.regions.models import Region

SHEET_NAME = "防返贫监测预警台账"
HEADERS = (
    "序号",
    "乡镇",
    "村",
    "姓名",
    "身份证号",
    "户编号",
    "预警规则",
    "预警日期",
    "数据截止日期",
    "累计自付（元）",
    "阈值（元）",
    "监测状态",
    "核实责任人",
    "核实期限",
    "入户核实日期",
    "按期核实",
    "国家监测系统编号",
    "健康帮扶措施",
)
COL_NAME = HEADERS.index("姓名")
COL_ALERTED = HEADERS.index("预警日期")
COL_AS_OF = HEADERS.index("数据截止日期")
COL_AMOUNT = HEADERS.index("累计自付（元）")
COL_THRESHOLD = HEADERS.index("阈值（元）")
COL_STATUS = HEADERS.index("监测状态")
COL_DUE = HEADERS.index("核实期限")
COL_VERIFIED = HEADERS.index("入户核实日期")
COL_IN_TIME = HEADERS.index("按期核实")
STATUS_LABELS = {value: str(label) for value, label in CaseStatus.choices}
MEASURE_LABELS = {value: str(label) for value, label in MeasureKind.choices}
YES, NO = "是", "否"
RATE_LABEL = "预警处置率"
RATE_NOTE = "预警处置率 = 按期核实的预警数 ÷ 本年度预警数（按期：入户核实日期不晚于核实期限）"


@dataclass
class LedgerTotals:
    """台账合计 What the ledger's totals block says."""

    alerts: int = 0
    amount: Decimal = Decimal("0.00")
    in_time: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(workflow.ORDER, 0))

    @property
    def handling_rate(self) -> Decimal | None:
        return None if self.alerts == 0 else Decimal(self.in_time) / Decimal(self.alerts)

    def rate_text(self) -> str:
        rate = self.handling_rate
        if rate is None:
            return "—"
        return f"{(rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _col(index: int) -> str:
    """Column letters of a 0-based index (A, B, …, Z, AA, …)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _measures(case_ids: set[int]) -> dict[int, str]:
    """``case id → "医疗救助 1200.00元；大病专项救治"`` for the ledger's measures column (one query)."""
    texts: dict[int, list[str]] = defaultdict(list)
    rows = (
        HealthMeasure.objects.filter(case_id__in=case_ids)
        .order_by("case_id", "taken_on", "id")
        .values_list("case_id", "kind", "amount", "reference")
    )
    for case_id, kind, amount, reference in rows:
        text = MEASURE_LABELS.get(kind, kind)
        if amount is not None:
            text += f" {amount}元"
        if reference:
            text += f"（{reference}）"
        texts[case_id].append(text)
    return {case_id: "；".join(parts) for case_id, parts in texts.items()}


def monitoring_ledger_write(*, user: Any, region: Region, year: int, target: Path) -> LedgerTotals:
    """写防返贫监测预警台账 Write the ledger of ``region`` (already checked to lie in the user's scope) and ``year``."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    alerts = selectors.ledger_alerts(user=user, region=region, year=year)
    fields = (
        "person__village__parent__name",
        "person__village__name",
        "person__name",
        "person__id_number",
        "person__household__household_no",
        "rule__name",
        "alerted_on",
        "as_of",
        "amount",
        "threshold_amount",
        "case__status",
        "case__assignee_name",
        "verify_due_on",
        "case__verified_on",
        "case__external_reference",
        "case_id",
    )
    rows = list(alerts.values_list(*fields))
    measures = _measures({row[-1] for row in rows})
    workbook = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False})
    totals = LedgerTotals()
    try:
        sheet = workbook.add_worksheet(SHEET_NAME)
        head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        money = workbook.add_format({"num_format": "#,##0.00"})
        overdue = workbook.add_format({"font_color": "#C00000", "bold": True})
        bold = workbook.add_format({"bold": True, "top": 1})
        bold_money = workbook.add_format({"bold": True, "top": 1, "num_format": "#,##0.00"})
        percent = workbook.add_format({"bold": True, "num_format": "0.0%"})
        for col, title in enumerate(HEADERS):
            sheet.write_string(0, col, title, head)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 6)
        sheet.set_column(1, 3, 12)
        sheet.set_column(4, 4, 21)
        sheet.set_column(5, 6, 22)
        sheet.set_column(7, 10, 12)
        sheet.set_column(11, 15, 13)
        sheet.set_column(16, 17, 28)
        today = timezone.localdate()
        for n, values in enumerate(rows, start=1):
            (township, village, name, id_number, household_no, rule, alerted_on, as_of, amount, threshold,
             status, assignee, due, verified_on, reference, case_id) = values  # fmt: skip
            in_time = verified_on is not None and verified_on <= due
            totals.alerts += 1
            totals.by_status[status] += 1
            totals.in_time += int(in_time)
            if amount is not None:
                totals.amount += amount
            texts = {
                1: township or "",
                2: village,
                3: name,
                4: mask(id_number),
                5: household_no or "",
                6: rule,
                COL_STATUS: STATUS_LABELS[status],
                COL_STATUS + 1: assignee,
                COL_IN_TIME: YES if in_time else NO,
                COL_IN_TIME + 1: reference,
                COL_IN_TIME + 2: measures.get(case_id, ""),
            }
            sheet.write_number(n, 0, n)
            for col, text in texts.items():
                if text:
                    sheet.write_string(n, col, safe_cell(str(text)))
            sheet.write_datetime(n, COL_ALERTED, alerted_on, day)
            sheet.write_datetime(n, COL_AS_OF, as_of, day)
            late = verified_on is None and due < today and status not in workflow.CLOSED
            sheet.write_datetime(n, COL_DUE, due, overdue if late else day)
            if verified_on is not None:
                sheet.write_datetime(n, COL_VERIFIED, verified_on, day)
            # A spreadsheet cell holds a binary float; amounts have two decimals, so Excel shows them
            # exactly. The exact Decimal sum is what the totals row caches and the audit log records.
            if amount is not None:
                sheet.write_number(n, COL_AMOUNT, float(amount), money)
            if threshold is not None:
                sheet.write_number(n, COL_THRESHOLD, float(threshold), money)
        end = _write_totals(sheet, len(rows), totals, bold, bold_money, percent)
        notes = (
            f"统计范围：{region.name}（{region.code}）　年度：{year}　导出时间：{timezone.localtime():%Y-%m-%d %H:%M}"
            f"　导出人：{getattr(user, 'username', '')}",
            RATE_NOTE,
            "累计自付：预警时该人员（家庭规则为全户）当年有效结算的个人负担合计；新增大病预警不填金额。",
        )
        for offset, note in enumerate(notes):
            sheet.write_string(end + 2 + offset, 0, safe_cell(note))
    finally:
        workbook.close()
    return totals


def _write_totals(
    sheet: Any, last_row: int, totals: LedgerTotals, bold: Any, bold_money: Any, percent: Any
) -> int:
    """The totals block below the data (``last_row`` = 0-based last data row); returns its last row."""
    t = last_row + 1
    first, last = 2, last_row + 1  # Excel rows of the data
    name_col, amount_col = _col(COL_NAME), _col(COL_AMOUNT)
    status_col, in_time_col = _col(COL_STATUS), _col(COL_IN_TIME)

    def cell(formula: str, row: int, col: int, cached: Any, fmt: Any = bold) -> None:
        if totals.alerts:
            sheet.write_formula(row, col, formula, fmt, cached)
        else:  # no data rows: a range such as D2:D1 would count the header
            sheet.write_number(row, col, 0, fmt)

    sheet.write_string(t, 0, "合计", bold)
    cell(f"=COUNTA({name_col}{first}:{name_col}{last})", t, COL_NAME, totals.alerts)
    cell(f"=SUM({amount_col}{first}:{amount_col}{last})", t, COL_AMOUNT, float(totals.amount), bold_money)
    row = t
    for status in workflow.ORDER:
        row += 1
        label = STATUS_LABELS[status]
        sheet.write_string(row, 0, label, bold)
        cell(
            f'=COUNTIF({status_col}{first}:{status_col}{last},"{label}")',
            row,
            COL_NAME,
            totals.by_status[status],
        )
    row += 1
    sheet.write_string(row, 0, "按期核实", bold)
    cell(f'=COUNTIF({in_time_col}{first}:{in_time_col}{last},"{YES}")', row, COL_NAME, totals.in_time)
    in_time_ref = f"{name_col}{row + 1}"
    row += 1
    sheet.write_string(row, 0, RATE_LABEL, bold)
    total_ref = f"{name_col}{t + 1}"
    rate = totals.handling_rate
    # The cached value is a float only because a cell stores one; no money is involved here.
    sheet.write_formula(
        row,
        COL_NAME,
        f'=IF({total_ref}=0,"—",{in_time_ref}/{total_ref})',
        percent,
        "—" if rate is None else float(rate),
    )
    return row
