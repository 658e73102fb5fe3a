"""大病专项救治台账 The major-disease treatment ledger as .xlsx, for a county, township or village.

One row per case (person with masked ID, disease, hospitals, status and reason, follow-ups), then a
totals block (COUNTA/SUM/COUNTIF formulas with their values cached, so a reader that does not
recalculate sees the same totals as Excel): cases, follow-ups, cases per status and the treatment rate
(大病救治率 = (已救治 + 救治中) ÷ (病例数 − 无需救治), domain.md §9 ``major_treatment_rate``).

Costs and payments per layer come from the claims linked to each case (``case.claims``, see
``jkfp.treatment.models``). Settlements do not exist yet (issue 4): the ledger says so in a note and
writes no amount at all rather than a made-up one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.regions.models import Region
from jkfp.treatment import selectors
from jkfp.treatment.models import CaseStatus, UntreatedReason

SHEET_NAME = "大病专项救治台账"
STATUS_ORDER = (CaseStatus.TREATED, CaseStatus.IN_TREATMENT, CaseStatus.UNTREATED, CaseStatus.NOT_NEEDED)
HEADERS = (
    "序号",
    "乡镇",
    "村",
    "姓名",
    "身份证号",
    "性别",
    "病种",
    "ICD-10",
    "确诊医院",
    "确诊日期",
    "定点医院",
    "救治状态",
    "未救治原因",
    "原因说明",
    "回访次数",
    "最近回访日期",
)
COL_NAME = HEADERS.index("姓名")
COL_FOLLOWUPS = HEADERS.index("回访次数")
COL_DIAGNOSED = HEADERS.index("确诊日期")
COL_STATUS = HEADERS.index("救治状态")
STATUS_LABELS = {value: str(label) for value, label in CaseStatus.choices}
REASON_LABELS = {value: str(label) for value, label in UntreatedReason.choices}
SEX_LABELS = {"M": "男", "F": "女"}
COST_NOTE = (
    "费用与报销（总费用、基本医保、大病保险、医疗救助、补充保障、个人自付、实际报销比例）：暂无结算数据。"
    "结算模块上线后按各病例关联的结算记录生成；本表不填写任何金额。"
)
RATE_LABEL = "大病救治率"
RATE_NOTE = "大病救治率 =（已救治 + 救治中）÷（病例数 − 无需救治）"


@dataclass
class LedgerTotals:
    """台账合计 What the ledger's totals row says."""

    cases: int = 0
    followups: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in STATUS_ORDER})

    @property
    def treatment_rate(self) -> Decimal | None:
        """救治率 (treated + in treatment) ÷ (cases − not needed), or None when nothing counts."""
        denominator = self.cases - self.by_status[CaseStatus.NOT_NEEDED]
        if denominator <= 0:
            return None
        numerator = self.by_status[CaseStatus.TREATED] + self.by_status[CaseStatus.IN_TREATMENT]
        return Decimal(numerator) / Decimal(denominator)

    def rate_text(self) -> str:
        rate = self.treatment_rate
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


def treatment_ledger_write(*, user: Any, region: Region, target: Path) -> LedgerTotals:
    """写大病专项救治台账 Write the ledger of ``region`` (already checked to lie in the user's scope).

    Rows are streamed (xlsxwriter constant-memory mode, the cases read as plain tuples 2,000 at a time). Returns the
    totals written.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False})
    totals = LedgerTotals()
    try:
        sheet = workbook.add_worksheet(SHEET_NAME)
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        total_fmt = workbook.add_format({"bold": True, "top": 1})
        percent = workbook.add_format({"bold": True, "num_format": "0.0%"})
        for col, title in enumerate(HEADERS):
            sheet.write_string(0, col, title, bold)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 6)
        sheet.set_column(1, 3, 12)
        sheet.set_column(4, 4, 21)
        sheet.set_column(5, 5, 5)
        sheet.set_column(6, 8, 18)
        sheet.set_column(9, 9, 11)
        sheet.set_column(10, 10, 18)
        sheet.set_column(11, 13, 14)
        sheet.set_column(14, 15, 11)
        row = 0
        cases = selectors.ledger_cases(user=user, region=region)
        followups = selectors.ledger_followups(cases=cases)
        # Plain tuples rather than model instances: a county-wide ledger reads every case once.
        fields = (
            "pk",
            "person__village__parent__name",
            "person__village__name",
            "person__name",
            "person__id_number",
            "person__sex",
            "disease__name",
            "disease__icd10",
            "diagnosis_institution__name",
            "diagnosis_hospital_name",
            "diagnosed_on",
            "designated_institution__name",
            "status",
            "untreated_reason",
            "reason_note",
        )
        for values in cases.values_list(*fields).iterator(chunk_size=2000):
            (pk, township, village, name, id_number, sex, disease, icd10, diag_inst, diag_name, diagnosed_on,
             designated, status, reason, note) = values  # fmt: skip
            row += 1
            count, last = followups.get(pk, (0, None))
            totals.cases += 1
            totals.followups += count
            totals.by_status[status] += 1
            texts = (
                township or "",
                village,
                name,
                mask(id_number),
                SEX_LABELS.get(sex, sex),
                disease,
                icd10,
                diag_inst or diag_name,
                None,
                designated or "",
                STATUS_LABELS[status],
                REASON_LABELS.get(reason, reason),
                note,
            )
            sheet.write_number(row, 0, row)
            for col, text in enumerate(texts, start=1):
                if text:
                    sheet.write_string(row, col, safe_cell(str(text)))
            sheet.write_datetime(row, COL_DIAGNOSED, diagnosed_on, day)
            sheet.write_number(row, COL_FOLLOWUPS, count)
            if last is not None:
                sheet.write_datetime(row, COL_FOLLOWUPS + 1, last, day)
        end = _write_totals(sheet, row, totals, total_fmt, percent)
        notes = (
            f"统计范围：{region.name}（{region.code}）　导出时间：{timezone.localtime():%Y-%m-%d %H:%M}"
            f"　导出人：{getattr(user, 'username', '')}",
            RATE_NOTE,
            COST_NOTE,
        )
        for offset, note in enumerate(notes):
            sheet.write_string(end + 2 + offset, 0, safe_cell(note))
    finally:
        workbook.close()
    return totals


def _write_totals(sheet: Any, last_row: int, totals: LedgerTotals, bold: Any, percent: Any) -> int:
    """The totals block below the data (0-based ``last_row`` is the last data row); returns its last row.

    合计 row: COUNTA of the names and SUM of the follow-ups; then one row per status with a COUNTIF
    over the 救治状态 column, and the treatment rate. Every figure is a formula with its value cached.
    """
    t = last_row + 1  # 0-based row of 合计
    sheet.write_string(t, 0, "合计", bold)
    name_col, status_col = _col(COL_NAME), _col(COL_STATUS)
    first, last = 2, last_row + 1  # Excel rows of the data

    def cell(value: str, row: int, col: int, cached: Any) -> None:
        if totals.cases:
            sheet.write_formula(row, col, value, bold, cached)
        else:  # no data rows: a range such as D2:D1 would count the header
            sheet.write_number(row, col, 0, bold)

    cell(f"=COUNTA({name_col}{first}:{name_col}{last})", t, COL_NAME, totals.cases)
    follow = _col(COL_FOLLOWUPS)
    cell(f"=SUM({follow}{first}:{follow}{last})", t, COL_FOLLOWUPS, totals.followups)
    for offset, status in enumerate(STATUS_ORDER, start=1):
        label = STATUS_LABELS[status]
        sheet.write_string(t + offset, 0, label, bold)
        cell(
            f'=COUNTIF({status_col}{first}:{status_col}{last},"{label}")',
            t + offset,
            COL_NAME,
            totals.by_status[status],
        )
    rate_row = t + len(STATUS_ORDER) + 1
    sheet.write_string(rate_row, 0, RATE_LABEL, bold)
    total, treated, in_treatment, _, not_needed = (f"{name_col}{t + 1 + i}" for i in range(5))
    formula = f'=IF(({total}-{not_needed})=0,"—",({treated}+{in_treatment})/({total}-{not_needed}))'
    rate = totals.treatment_rate
    # The cached value is a float only because a spreadsheet cell stores one; the exact Decimal is
    # what the audit log and the page show (rate_text). No money is involved here.
    sheet.write_formula(rate_row, COL_NAME, formula, percent, "—" if rate is None else float(rate))
    return rate_row
