"""结算导出 Settlement exports: the engine's output format, its input format, the re-settlement report.

``settlements_csv`` writes exactly what ``jkfp settle`` writes for the same claims (header
``claim_id,institution_code,counted_total,…,personal``, two decimals, ``\\n``: a claim id is unique
per institution only, so each row names both); ``claims_csv`` writes those claims in the engine's
input format with its optional ``institution_code`` column (and each claim's settled category), in
the same order, so that ``jkfp settle --claims`` on it reproduces ``settlements_csv`` byte for byte.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.engine import CLAIM_COLUMNS, OUTPUT_FIELDS
from jkfp.settlement.bulk import AMOUNT_FIELDS, FUNDS, ResettleReport
from jkfp.settlement.models import Settlement

FUND_LABELS = {
    "counted_total": "计入结算费用",
    "hospital_absorbed": "医院承担（目录外超限）",
    "basic": "基本医保",
    "critical": "大病保险",
    "aid": "医疗救助",
    "supplementary": "补充医疗保险",
    "personal": "个人负担",
}


def _rows(year: int) -> list[Settlement]:
    rows = list(
        Settlement.objects.filter(
            is_current=True,
            claim__discharged_on__gte=date(year, 1, 1),
            claim__discharged_on__lte=date(year, 12, 31),
        ).select_related("claim", "claim__person")
    )
    # Claim ids are unique per institution: two institutions' same id sort by institution code.
    rows.sort(key=lambda s: (s.claim.claim_id, s.claim.institution_id))
    return rows


def settlements_csv(*, year: int) -> bytes:
    """结算结果 The live settlements of claims discharged in ``year``, in the ``jkfp settle`` output
    format with the institution code, in (claim id, institution) order."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("claim_id", "institution_code", *OUTPUT_FIELDS))
    for s in _rows(year):
        amounts = (f"{getattr(s, f):.2f}" for f in OUTPUT_FIELDS)
        writer.writerow((s.claim.claim_id, s.claim.institution_id, *amounts))
    return buffer.getvalue().encode("utf-8")


def claims_csv(*, year: int) -> bytes:
    """结算输入 The same claims in the engine's input format (``jkfp settle --claims``)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("claim_id", "institution_code", *list(CLAIM_COLUMNS)[1:]))
    for s in _rows(year):
        c = s.claim
        writer.writerow(
            (
                c.claim_id,
                c.institution_id,
                c.person.id_number,
                s.category,
                c.discharged_on.isoformat(),
                str(c.level),
                "1" if c.in_county else "0",
                "1" if c.referred else "0",
                f"{c.total_amount:.2f}",
                f"{c.out_of_scope_amount:.2f}",
            )
        )
    return buffer.getvalue().encode("utf-8")


def resettle_report_xlsx(report: ResettleReport, path: str | Path) -> Path:
    """重算报告 Three sheets: totals per fund before/after, per township, persons paying more."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    path = Path(path)
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "constant_memory": True})
    try:
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        sheet = workbook.add_worksheet("基金合计")
        title = f"{report.year}年 按政策 {report.policy.label} 重新结算{'（试算，未写入）' if report.dry_run else ''}"
        sheet.write_string(0, 0, safe_cell(title), bold)
        sheet.write_string(
            1,
            0,
            f"结算笔数 {report.claims}，结果变化 {report.changed}，涉及人数 {report.persons}"
            + (f"；其他政策下顺延重算 {report.reordered} 笔" if report.reordered else ""),
        )
        for col, head in enumerate(("项目", "重算前", "重算后", "变化")):
            sheet.write_string(3, col, head, bold)
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 3, 16)
        for line, f in enumerate((*FUNDS, "personal", "hospital_absorbed", "counted_total"), start=4):
            before, after = report.totals_before.get(f, 0), report.totals_after.get(f, 0)
            sheet.write_string(line, 0, FUND_LABELS[f])
            sheet.write_number(line, 1, float(before), money)
            sheet.write_number(line, 2, float(after), money)
            sheet.write_number(line, 3, float(after - before), money)

        towns = workbook.add_worksheet("乡镇")
        heads = ["乡镇代码", "乡镇", "结算笔数"]
        for f in (*FUNDS, "personal"):
            heads += [f"{FUND_LABELS[f]}（前）", f"{FUND_LABELS[f]}（后）"]
        for col, head in enumerate(heads):
            towns.write_string(0, col, head, bold)
        for line, t in enumerate(report.townships, start=1):
            towns.write_string(line, 0, t.code)
            towns.write_string(line, 1, safe_cell(t.name))
            towns.write_number(line, 2, t.claims)
            col = 3
            for f in (*FUNDS, "personal"):
                towns.write_number(line, col, float(t.before[f]), money)
                towns.write_number(line, col + 1, float(t.after[f]), money)
                col += 2

        people = workbook.add_worksheet("个人负担增加")
        for col, head in enumerate(
            ("序号", "姓名", "身份证号", "村", "重算前个人负担", "重算后个人负担", "增加")
        ):
            people.write_string(0, col, head, bold)
        for line, p in enumerate(report.persons_up, start=1):
            people.write_number(line, 0, line)
            people.write_string(line, 1, safe_cell(p.name))
            people.write_string(line, 2, mask(p.id_number))
            people.write_string(line, 3, safe_cell(p.village_name))
            people.write_number(line, 4, float(p.before), money)
            people.write_number(line, 5, float(p.after), money)
            people.write_number(line, 6, float(p.delta), money)
    finally:
        workbook.close()
    return path


__all__ = ["AMOUNT_FIELDS", "claims_csv", "resettle_report_xlsx", "settlements_csv"]
