"""基层医疗卫生服务能力台账 The capacity ledger (.xlsx) of a county, township or village on one date.

One workbook, the sheets an inspector walks through village by village: 汇总 (the figures of
``jkfp capacity``, the county checks), 乡镇卫生院 (each township's centre and checks), 村 (each village:
clinic, exception or blank), 村卫生室 (each clinic: standardisation, qualified doctors), 卫生人员 (staff on
post, masked ID numbers) and 空白点 (each blank point with its rectification). Everything comes from
``selectors.assessment``, the one home of the rules, so the ledger says what the page and the command say.
Every text cell goes through ``safe_cell`` (no formula injection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.utils import timezone

from jkfp.capacity import selectors
from jkfp.capacity.models import Qualification, StaffPost
from jkfp.capacity.standard import STATE_LABELS, Assessment, Check
from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.regions.models import Region

TITLE = "基层医疗卫生服务能力台账"
POST_LABELS = {value: str(label) for value, label in StaffPost.choices}
QUALIFICATION_LABELS = {value: str(label) for value, label in Qualification.choices}

# subjects → (status label, deadline, owner) of their rectification items (given by the caller).
RectifiedLookup = Callable[[list[str]], dict[str, tuple[str, date, str]]]


@dataclass(frozen=True)
class LedgerTotals:
    """台账摘要 For the audit log: units listed and blank points."""

    villages: int
    clinics: int
    staff: int
    blank_points: int

    def text(self) -> str:
        return (
            f"{self.villages}个村 {self.clinics}个村卫生室 {self.staff}名在岗人员 空白点{self.blank_points}个"
        )


def _checks(checks: Iterable[Check]) -> str:
    return "；".join(
        f"{c.requirement}：{STATE_LABELS[c.state]}{('（' + c.reason + '）') if c.reason else ''}"
        for c in checks
    )


def _rectification(item: tuple[str, date, str] | None) -> tuple[str, str, str]:
    if item is None:
        return ("未登记整改", "", "")
    return (item[0], f"{item[1]:%Y-%m-%d}", item[2])


def capacity_ledger_write(
    *, user: Any, region: Region, as_of: date, target: Path, rectified: RectifiedLookup
) -> LedgerTotals:
    """写台账 Write the ledger of ``region`` (already checked to lie in the user's scope) on ``as_of``."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    result: Assessment = selectors.assessment(region=region, as_of=as_of)
    staff = list(
        selectors.staff(user=user, region=region, on=as_of).values_list(
            "institution__name",
            "name",
            "id_number",
            "post",
            "qualification",
            "certificate_no",
            "start_on",
            "end_on",
        )
    )
    items = rectified([b.subject for b in result.blank_points])
    workbook = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False})
    try:
        bold = workbook.add_format({"bold": True})
        title = workbook.add_format({"bold": True, "font_size": 14})

        def sheet(
            name: str, headers: tuple[str, ...], rows: Iterable[tuple[Any, ...]], widths: tuple[int, ...]
        ) -> None:
            ws = workbook.add_worksheet(name)
            for col, (header, width) in enumerate(zip(headers, widths, strict=True)):
                ws.write_string(0, col, header, bold)
                ws.set_column(col, col, width)
            ws.freeze_panes(1, 0)
            line = 0
            for line, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    if isinstance(value, int) and not isinstance(value, bool):
                        ws.write_number(line, col, value)
                    else:
                        ws.write_string(line, col, safe_cell("" if value is None else str(value)))
            ws.write_string(line + 1, 0, f"合计 {line}", bold)

        summary = workbook.add_worksheet("汇总")
        summary.set_column(0, 0, 34)
        summary.set_column(1, 1, 60)
        summary.write_string(0, 0, safe_cell(f"{region.name}{TITLE}"), title)
        figures = result.as_json()
        labels = (
            ("统计范围", f"{region.name}（{region.code}）"),
            ("统计日期", f"{as_of:%Y-%m-%d}"),
            ("乡镇数", figures["townships"]),
            ("乡镇卫生院达标的乡镇数", figures["townships_ok"]),
            ("行政村数", figures["villages"]),
            ("有村卫生室的村", figures["villages_with_clinic"]),
            ("由乡镇卫生院覆盖的村（例外）", figures["villages_covered_by_exception"]),
            ("政府办村卫生室数", figures["clinics"]),
            ("标准化村卫生室数", figures["clinics_standardised"]),
            ("有合格村医的村卫生室数", figures["clinics_with_qualified_doctor"]),
            ("空白点数", len(result.blank_points)),
            *((f"{c.name}县级公立医院", _checks(c.checks)) for c in result.counties),
            (
                "导出",
                f"{timezone.localtime():%Y-%m-%d %H:%M} {getattr(user, 'username', '')}",
            ),
        )
        for row, (label, value) in enumerate(labels, start=2):
            summary.write_string(row, 0, label, bold)
            if isinstance(value, int):
                summary.write_number(row, 1, value)
            else:
                summary.write_string(row, 1, safe_cell(str(value)))

        sheet(
            "乡镇卫生院",
            ("乡镇代码", "乡镇", "乡镇卫生院", "在岗执业（助理）医师或全科医生", "达标", "检查项", "原因"),
            (
                (
                    t.code,
                    t.name,
                    "、".join(f.name for f in t.centres),
                    t.physicians,
                    "是" if t.ok else "否",
                    _checks(t.checks),
                    t.reason,
                )
                for t in result.townships
            ),
            (14, 12, 24, 12, 6, 60, 40),
        )
        sheet(
            "村",
            ("村代码", "村", "状态", "服务的村卫生室", "覆盖的卫生院", "检查项"),
            (
                (
                    v.code,
                    v.name,
                    v.status_label,
                    "、".join(f.name for f in v.clinics),
                    "、".join(f.name for f in v.covering),
                    _checks(v.checks),
                )
                for v in result.villages
            ),
            (14, 12, 14, 28, 24, 60),
        )
        sheet(
            "村卫生室",
            (
                "机构代码",
                "村卫生室",
                "所在村代码",
                "服务村",
                "标准化",
                "达标日期",
                "在岗人数",
                "合格村医",
                "检查项",
            ),
            (
                (
                    c.facility.code,
                    c.facility.name,
                    c.facility.region_code,
                    "、".join(c.facility.serves()),
                    "是" if c.standardised else "否",
                    f"{c.facility.standardised_on:%Y-%m-%d}" if c.facility.standardised_on else "",
                    c.staff_on_post,
                    "、".join(w.name for w in c.doctors),
                    _checks(c.checks),
                )
                for c in result.clinics
            ),
            (14, 24, 14, 28, 6, 12, 8, 16, 60),
        )
        sheet(
            "卫生人员",
            ("机构", "姓名", "身份证号", "岗位", "资质", "证书编号", "起始日期", "终止日期"),
            (
                (
                    inst,
                    name,
                    mask(idn),
                    POST_LABELS.get(post, post),
                    QUALIFICATION_LABELS.get(qual, qual),
                    cert,
                    f"{start:%Y-%m-%d}" if start else "",
                    f"{end:%Y-%m-%d}" if end else "",
                )
                for inst, name, idn, post, qual, cert, start, end in staff
            ),
            (24, 10, 22, 10, 20, 16, 12, 12),
        )
        sheet(
            "空白点",
            ("类别", "代码", "名称", "原因", "整改状态", "整改时限", "责任人"),
            (
                (b.kind_label, b.code, b.name, b.reason, *_rectification(items.get(b.subject)))
                for b in result.blank_points
            ),
            (8, 16, 24, 60, 10, 12, 20),
        )
    finally:
        workbook.close()
    return LedgerTotals(len(result.villages), len(result.clinics), len(staff), len(result.blank_points))
