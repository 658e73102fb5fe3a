"""大病专项救治台账 The major-disease treatment ledger as .xlsx, for a county, township or village.

One row per case (person with masked ID, disease, hospitals, status and reason, follow-ups), then a
totals block (COUNTA/SUM/COUNTIF formulas with their values cached, so a reader that does not
recalculate sees the same totals as Excel): cases, follow-ups, cases per status and the treatment rate
(大病救治率 = (已救治 + 救治中) ÷ (病例数 − 无需救治), domain.md §9 ``major_treatment_rate``).

Costs and payments per layer come from the live settlements of the claims linked to each case
(``Claim.major_disease_case``: the person's case with the latest diagnosis date on or before the
discharge date). Settlement sits above treatment in the layers, so the caller passes them in as
``payments`` (``jkfp.settlement.selectors.case_payment_totals``); without it the ledger says in a note
that it has no settlement data and writes no amount at all rather than a made-up one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from django.utils import timezone

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.engine import funds_ratio
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
# Columns added when settlements are passed in: (header, attribute of the payments).
MONEY_HEADERS = (
    ("医疗总费用", "counted_total"),
    ("医院承担（目录外超比例）", "hospital_absorbed"),
    ("基本医保", "basic"),
    ("大病保险", "critical"),
    ("医疗救助", "aid"),
    ("补充保障", "supplementary"),
    ("个人自付", "personal"),
)
MONEY_FIELDS = tuple(attr for _, attr in MONEY_HEADERS)
CLAIMS_HEADER = "结算次数"
RATIO_HEADER = "实际报销比例"
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
PAYMENTS_NOTE = (
    "费用与报销取自各病例关联的结算（未冲销）：住院出院日期在确诊日期之后的结算，关联到该人确诊日期最近的病例。"
    "实际报销比例 =（基本医保 + 大病保险 + 医疗救助 + 补充保障）÷ 医疗总费用。"
)
RATE_LABEL = "大病救治率"
RATE_NOTE = "大病救治率 =（已救治 + 救治中）÷（病例数 − 无需救治）"


@dataclass
class LedgerTotals:
    """台账合计 What the ledger's totals row says."""

    cases: int = 0
    followups: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in STATUS_ORDER})
    claims: int = 0
    money: dict[str, Decimal] = field(default_factory=lambda: {f: Decimal("0.00") for f in MONEY_FIELDS})

    @property
    def reimbursement_ratio(self) -> Decimal | None:
        """实际报销比例 (basic + critical + aid + supplementary) ÷ counted total, or None without cost."""
        m = self.money
        return funds_ratio(m["counted_total"], m["basic"], m["critical"], m["aid"], m["supplementary"])

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


PaymentsOf = Callable[..., Mapping[int, Any]]


def _batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Lists of ``size`` items (``itertools.batched`` arrives only in Python 3.12)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def treatment_ledger_write(
    *, user: Any, region: Region, target: Path, payments: PaymentsOf | None = None
) -> LedgerTotals:
    """写大病专项救治台账 Write the ledger of ``region`` (already checked to lie in the user's scope).

    ``payments(case_ids=[…])`` gives, per case id, an object with ``claim_count`` and the Decimal
    amounts of ``MONEY_FIELDS`` (``jkfp.settlement.selectors.case_payment_totals``); with it the ledger
    has the cost and payment columns, their totals and the actual reimbursement ratio.

    Rows are streamed (xlsxwriter constant-memory mode, the cases read as plain tuples 2,000 at a time). Returns the
    totals written.
    """
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False})
    totals = LedgerTotals()
    try:
        sheet = workbook.add_worksheet(SHEET_NAME)
        bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        total_fmt = workbook.add_format({"bold": True, "top": 1})
        percent = workbook.add_format({"bold": True, "num_format": "0.0%"})
        money = workbook.add_format({"num_format": "#,##0.00"})
        ratio_fmt = workbook.add_format({"num_format": "0.00%"})
        headers = list(HEADERS)
        if payments is not None:
            headers += [CLAIMS_HEADER, *(title for title, _ in MONEY_HEADERS), RATIO_HEADER]
        for col, title in enumerate(headers):
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
        sheet.set_column(len(HEADERS), len(headers) - 1, 13)
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
        for chunk in _batched(cases.values_list(*fields).iterator(chunk_size=2000), 2000):
            paid = payments(case_ids=[v[0] for v in chunk]) if payments is not None else None
            for values in chunk:
                row += 1
                _write_case(sheet, row, values, followups, paid, totals, day, money, ratio_fmt)
        end = _write_totals(sheet, row, totals, total_fmt, percent, payments is not None, money, ratio_fmt)
        notes = (
            f"统计范围：{region.name}（{region.code}）　导出时间：{timezone.localtime():%Y-%m-%d %H:%M}"
            f"　导出人：{getattr(user, 'username', '')}",
            RATE_NOTE,
            COST_NOTE if payments is None else PAYMENTS_NOTE,
        )
        for offset, note in enumerate(notes):
            sheet.write_string(end + 2 + offset, 0, safe_cell(note))
    finally:
        workbook.close()
    return totals


def _write_case(
    sheet: Any,
    row: int,
    values: Iterable[Any],
    followups: Mapping[int, tuple[int, Any]],
    paid: Mapping[int, Any] | None,
    totals: LedgerTotals,
    day: Any,
    money: Any,
    ratio_fmt: Any,
) -> None:
    """One case's line (0-based ``row``), added to ``totals``."""
    (pk, township, village, name, id_number, sex, disease, icd10, diag_inst, diag_name, diagnosed_on,
     designated, status, reason, note) = values  # fmt: skip
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
    if paid is None:
        return
    case_paid = paid.get(pk)
    col = len(HEADERS)
    sheet.write_number(row, col, case_paid.claim_count if case_paid else 0)
    if case_paid is None:
        return  # no settled claim: no amounts (blank, not a made-up zero)
    totals.claims += case_paid.claim_count
    for offset, attr in enumerate(MONEY_FIELDS, start=1):
        amount = getattr(case_paid, attr)
        totals.money[attr] += amount
        # A spreadsheet cell stores a float; two-decimal yuan amounts round-trip exactly at 0.01.
        sheet.write_number(row, col + offset, float(amount), money)
    ratio = funds_ratio(
        case_paid.counted_total, case_paid.basic, case_paid.critical, case_paid.aid, case_paid.supplementary
    )
    if ratio is not None:
        sheet.write_number(row, col + len(MONEY_FIELDS) + 1, float(ratio), ratio_fmt)


def _write_totals(
    sheet: Any,
    last_row: int,
    totals: LedgerTotals,
    bold: Any,
    percent: Any,
    with_money: bool = False,
    money: Any = None,
    ratio_fmt: Any = None,
) -> int:
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
    if with_money:
        col = len(HEADERS)
        cell(f"=SUM({_col(col)}{first}:{_col(col)}{last})", t, col, totals.claims)
        for offset, attr in enumerate(MONEY_FIELDS, start=1):
            letter = _col(col + offset)
            amount = totals.money[attr]
            if totals.cases:
                sheet.write_formula(
                    t, col + offset, f"=SUM({letter}{first}:{letter}{last})", money, float(amount)
                )
            else:
                sheet.write_number(t, col + offset, 0, money)
        ratio = totals.reimbursement_ratio
        counted = _col(col + 1)
        paid = "+".join(
            f"{_col(col + 1 + MONEY_FIELDS.index(f))}{t + 1}"
            for f in ("basic", "critical", "aid", "supplementary")
        )
        sheet.write_formula(
            t,
            col + len(MONEY_FIELDS) + 1,
            f'=IF({counted}{t + 1}=0,"—",({paid})/{counted}{t + 1})',
            ratio_fmt,
            "—" if ratio is None else float(ratio),
        )
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
