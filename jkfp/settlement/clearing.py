"""基金清算 Fund clearing: per institution and month, what each fund owes the hospital.

The hospital advances the funds' shares at the window (先诊疗后付费, one-stop settlement) and claims
them back monthly. A claim belongs to the month of its **discharge date**; the amounts are those
of its live settlement (``is_current``), so a claim re-settled later (reorder, reversal, policy
change) is cleared at its current amounts, and a reversed claim owes nothing. Outpatient special
chronic disease claims (门诊慢特病) are cleared with the stays and shown as "of which" columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db.models import Count, F, Q, Sum

from jkfp.core.tabular import safe_cell
from jkfp.settlement.models import ClaimKind, Settlement
from jkfp.settlement.selectors import month_bounds, settlements_visible

CLEARING_FIELDS = (
    "counted_total",
    "basic",
    "critical",
    "aid",
    "supplementary",
    "personal",
    "hospital_absorbed",
)
CLEARING_HEADERS = (
    "机构代码",
    "机构名称",
    "月份",
    "结算笔数",
    "计入结算费用",
    "基本医保",
    "大病保险",
    "医疗救助",
    "补充医疗保险",
    "基金应付合计",
    "个人负担",
    "医院承担（目录外超限）",
    "其中门诊慢特病笔数",
    "其中门诊慢特病基金应付",
)
ERR_MONTH = "月份应为 YYYY-MM，例如 2026-03"


@dataclass(frozen=True)
class ClearingRow:
    """清算行 One institution's month: claims and the amounts per fund (Decimal yuan)."""

    institution_code: str
    institution_name: str
    month: str
    claims: int
    counted_total: Decimal
    basic: Decimal
    critical: Decimal
    aid: Decimal
    supplementary: Decimal
    personal: Decimal
    hospital_absorbed: Decimal
    # of which outpatient special chronic disease claims (门诊慢特病, settlement.md §6): their count
    # and what the funds owe for them (basic + critical + aid + supplementary)
    outpatient_claims: int = 0
    outpatient_funds: Decimal = Decimal("0.00")

    @property
    def funds_total(self) -> Decimal:
        """基金应付合计 basic + critical + aid + supplementary."""
        return self.basic + self.critical + self.aid + self.supplementary


def clearing_statement(*, month: str, user: Any = None, institution: str | None = None) -> list[ClearingRow]:
    """清算单 Rows per institution for ``month`` (``YYYY-MM``), by institution code.

    With ``user`` the rows cover the claims the user may see (a hospital window: its own
    institution; other roles: persons of their region); ``None`` — the whole database (command
    line). ``ValueError(ERR_MONTH)`` for a malformed month.
    """
    try:
        first, last = month_bounds(month)
    except ValueError:
        raise ValueError(ERR_MONTH) from None
    qs = Settlement.objects.all() if user is None else settlements_visible(user=user)
    qs = qs.filter(is_current=True, claim__discharged_on__gte=first, claim__discharged_on__lte=last)
    # A stay the insurance platform settled (settlement.md §7) is paid to the person's card by the
    # county (事后补助), not owed to the hospital: it is no part of the hospital's clearing.
    qs = qs.filter(claim__basic_paid_amount__isnull=True)
    if institution:
        qs = qs.filter(claim__institution_id=institution)
    outpatient = Q(claim__kind=ClaimKind.OUTPATIENT)
    rows = (
        qs.values("claim__institution_id", "claim__institution__name")
        .annotate(
            # before the sums named like the fields (an F() after them would name those sums)
            outpatient_claims=Count("id", filter=outpatient),
            outpatient_funds=Sum(
                F("basic") + F("critical") + F("aid") + F("supplementary"), filter=outpatient
            ),
            claims=Count("id"),
            **{f: Sum(f) for f in CLEARING_FIELDS},
        )
        .order_by("claim__institution_id")
    )
    zero = Decimal("0.00")
    return [
        ClearingRow(
            institution_code=r["claim__institution_id"],
            institution_name=r["claim__institution__name"],
            month=f"{first:%Y-%m}",
            claims=r["claims"],
            **{f: Decimal(r[f] or zero).quantize(Decimal("0.01")) for f in CLEARING_FIELDS},
            outpatient_claims=r["outpatient_claims"],
            outpatient_funds=Decimal(r["outpatient_funds"] or zero).quantize(Decimal("0.01")),
        )
        for r in rows
    ]


def clearing_totals(rows: list[ClearingRow]) -> dict[str, Decimal | int]:
    """合计 Sums over the rows (claims and every amount)."""
    out: dict[str, Decimal | int] = {
        "claims": sum(r.claims for r in rows),
        "outpatient_claims": sum(r.outpatient_claims for r in rows),
    }
    for f in (*CLEARING_FIELDS, "funds_total", "outpatient_funds"):
        out[f] = sum((getattr(r, f) for r in rows), Decimal("0.00"))
    return out


def clearing_xlsx(rows: list[ClearingRow], path: str | Path) -> Path:
    """清算单导出 Write the statement (one line per institution, then the totals) to ``path``."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    path = Path(path)
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("基金清算")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        for col, title in enumerate(CLEARING_HEADERS):
            sheet.write_string(0, col, title, bold)
        sheet.set_column(0, 0, 12)
        sheet.set_column(1, 1, 28)
        sheet.set_column(2, 13, 14)
        line = 0
        for r in rows:
            line += 1
            _write_row(sheet, line, r.institution_code, r.institution_name, r.month, r.claims, r, money)
        totals = clearing_totals(rows)
        line += 1
        sheet.write_string(line, 0, "合计", bold)
        sheet.write_number(line, 3, int(totals["claims"]))
        for col, f in enumerate(
            (
                "counted_total",
                "basic",
                "critical",
                "aid",
                "supplementary",
                "funds_total",
                "personal",
                "hospital_absorbed",
            ),
            start=4,
        ):
            sheet.write_number(line, col, float(totals[f]), money)
        sheet.write_number(line, 12, int(totals["outpatient_claims"]))
        sheet.write_number(line, 13, float(totals["outpatient_funds"]), money)
    finally:
        workbook.close()
    return path


def _write_row(
    sheet: Any, line: int, code: str, name: str, month: str, claims: int, r: ClearingRow, money: Any
) -> None:
    sheet.write_string(line, 0, safe_cell(code))
    sheet.write_string(line, 1, safe_cell(name))
    sheet.write_string(line, 2, month)
    sheet.write_number(line, 3, claims)
    values = (
        r.counted_total,
        r.basic,
        r.critical,
        r.aid,
        r.supplementary,
        r.funds_total,
        r.personal,
        r.hospital_absorbed,
    )
    for col, value in enumerate(values, start=4):
        # xlsx numbers are binary floats; two-decimal amounts below 10^13 round-trip exactly to the fen.
        sheet.write_number(line, col, float(value), money)
    sheet.write_number(line, 12, r.outpatient_claims)
    sheet.write_number(line, 13, float(r.outpatient_funds), money)
