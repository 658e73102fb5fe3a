"""自评报告 The yearly self-assessment report (.docx, python-docx) in the shape of the county reports.

Sections: 一、精准识别; 二、便捷就医（先诊疗后付费、一站式结算）; 三、三个一批（大病集中救治一批、
慢病签约服务管理一批、重病兜底保障一批）; 四、结算保障; 五、医疗卫生服务能力建设 (the “三个一” standard,
paired support, telemedicine, training, the blank points and their rectification); 六、组织保障与问题整改;
附表 one table per township. Every indicator is read from the stored snapshot (``selectors.region_report``),
the same the dashboard, the CLI and the ledgers agree with; an indicator without data says 暂无数据. The
capacity section adds what the snapshot does not hold — the county checks, the blank points with their
rectification and the year's support, telemedicine and training — assessed on the year's as-of date
(``definitions_capacity.capacity_as_of``) by the same rules (``jkfp.capacity.standard``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from jkfp.capacity import selectors as capacity
from jkfp.capacity.standard import STATE_LABELS
from jkfp.indicators import selectors
from jkfp.indicators.catalogue import BY_CODE, INDICATORS
from jkfp.indicators.compute import NO_DATA, Figure
from jkfp.indicators.definitions_capacity import capacity_as_of
from jkfp.indicators.models import Rectification, RectificationStatus
from jkfp.regions.models import Region, RegionLevel, prefix_range

CAPACITY_CODES = (
    "township_centre_rate",
    "clinic_coverage_rate",
    "qualified_doctor_rate",
    "blank_point_count",
    "telemedicine_rate",
    "training_count",
)

SECTIONS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("一、精准识别", (("", ("verification_rate", "enrolment_rate")),)),
    (
        "二、便捷就医",
        (
            ("（一）先诊疗后付费", ("deferred_payment_count",)),
            ("（二）一站式结算", ("one_stop_count", "one_stop_outpatient_count", "in_county_rate")),
        ),
    ),
    (
        "三、三个一批",
        (
            ("（一）大病集中救治一批", ("major_treatment_rate",)),
            (
                "（二）慢病签约服务管理一批",
                (
                    "contract_rate",
                    "fulfilment_rate",
                    "record_rate",
                    "checkup_rate",
                    "htn_standard_rate",
                    "htn_control_rate",
                    "dm_standard_rate",
                    "dm_control_rate",
                    "chronic_card_count",
                ),
            ),
            (
                "（三）重病兜底保障一批",
                ("actual_reimbursement_ratio", "personal_share", "outpatient_personal_share"),
            ),
        ),
    ),
    ("四、结算保障", (("", ("actual_reimbursement_ratio", "personal_share", "in_county_rate")),)),
)


# Regions whose report sets their sub-regions side by side in one table (issue 21): a city's counties,
# a province's cities; a county keeps one table per township.
SIDE_BY_SIDE_LEVELS: frozenset[str] = frozenset({RegionLevel.CITY, RegionLevel.PROVINCE})
LOWER_LABELS: dict[str, str] = {RegionLevel.CITY: "县（市、区）", RegionLevel.PROVINCE: "市（州）"}


def percent(figure: Figure, count: bool = False) -> str:
    value = figure.value
    if count:
        return "—"
    return "—" if value is None else f"{value * 100:.2f}%"


def number(value: Any, money: bool) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if money else f"{int(value)}"


def sentence(code: str, figure: Figure) -> str:
    """一句话 ``签约率：在家目标人数 120，签约人数 118，签约率 98.33%。`` or 暂无数据."""
    indicator = BY_CODE[code]
    if not figure.has_data:
        return f"{indicator.name}：暂无数据。"
    if indicator.extra.get("count"):
        if indicator.denominator_label == indicator.numerator_label:
            return f"{indicator.name}：{number(figure.numerator, False)}{indicator.unit}。"
        return (
            f"{indicator.name}：{indicator.denominator_label} {number(figure.denominator, False)}，"
            f"{indicator.numerator_label} {number(figure.numerator, False)}{indicator.unit}。"
        )
    return (
        f"{indicator.name}：{indicator.denominator_label} {number(figure.denominator, indicator.money)}，"
        f"{indicator.numerator_label} {number(figure.numerator, indicator.money)}，"
        f"{indicator.name} {percent(figure)}。"
    )


def _table(document: Any, rows: list[tuple[str, str, str, str]]) -> None:
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("指标", "分子", "分母", "比率"), strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text


def figure_rows(figures: dict[str, Figure]) -> list[tuple[str, str, str, str]]:
    rows = []
    for indicator in INDICATORS:
        figure = figures.get(indicator.code, NO_DATA)
        if not figure.has_data:
            rows.append((indicator.name, "暂无数据", "暂无数据", "—"))
        else:
            rows.append(
                (
                    indicator.name,
                    number(figure.numerator, indicator.money),
                    number(figure.denominator, indicator.money),
                    percent(figure, bool(indicator.extra.get("count"))),
                )
            )
    return rows


def report_write(*, year: int, region: Region) -> Path:
    """写自评报告 Write the report of ``region`` (already checked to lie in the user's scope) to a temporary file."""
    from docx import Document  # noqa: PLC0415 (a heavy library, loaded only when a file is written)
    from docx.shared import Pt  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    data = selectors.region_report(year=year, region=region)
    figures = data.region.figures
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "宋体"
    style.font.size = Pt(12)
    document.add_heading(f"{region.name}{year}年度健康扶贫工作自评报告", level=0)
    as_of = timezone.localtime(data.computed_at).strftime("%Y年%m月%d日 %H:%M") if data.computed_at else "—"
    document.add_paragraph(
        f"统计范围：{region.name}（{region.code}）。数据截至{as_of}，全部数据由系统按业务记录自动生成，"
        "与指标看板、台账一致。"
    )
    for title, parts in SECTIONS:
        document.add_heading(title, level=1)
        for subtitle, codes in parts:
            if subtitle:
                document.add_heading(subtitle, level=2)
            for code in codes:
                if code in BY_CODE:
                    document.add_paragraph(sentence(code, figures.get(code, NO_DATA)))
    _capacity_section(document, region=region, year=year, figures=figures)
    document.add_heading("六、组织保障与问题整改", level=1)
    lo, hi = prefix_range(region.prefix)
    items = Rectification.objects.filter(region_code__gte=lo, region_code__lt=hi)
    total = items.count()
    open_count = items.filter(status=RectificationStatus.OPEN).count()
    # The organisation paragraph is the county's own text: the system leaves a marked blank rather
    # than inventing one; the rectification figures come from the tracker.
    document.add_paragraph("（请填写：领导机制、部门协作、资金保障、督查调度等情况。）")
    document.add_paragraph(
        f"问题整改：共登记问题 {total} 项，已整改或销号 {total - open_count} 项，整改中 {open_count} 项。"
    )
    document.add_heading("附表一　主要指标汇总", level=1)
    _table(document, figure_rows(figures))
    if region.level in SIDE_BY_SIDE_LEVELS and data.children:
        # A city's (province's) counties (cities) side by side: one column each, the total first.
        document.add_heading(f"附表二　各{LOWER_LABELS[region.level]}主要指标对比", level=1)
        _side_by_side(document, [data.region, *data.children])
        return _save(document)
    for index, child in enumerate(data.children, start=2):
        document.add_heading(f"附表{_cn(index)}　{child.name}（{child.code}）", level=2)
        _table(document, figure_rows(child.figures))
    return _save(document)


def _save(document: Any) -> Path:
    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="report-", suffix=".docx", dir=directory)
    os.close(handle)
    document.save(name)
    return Path(name)


def side_by_side_rows(columns: list[selectors.RegionFigures]) -> list[list[str]]:
    """对比表 One row per indicator: its name, then per region ``98.33%（118/120）`` (a count: the number)."""
    rows = []
    for indicator in INDICATORS:
        row = [indicator.name]
        for column in columns:
            figure = column.figures.get(indicator.code, NO_DATA)
            if not figure.has_data:
                row.append("暂无数据")
            elif indicator.extra.get("count"):
                row.append(f"{number(figure.numerator, False)}{indicator.unit}")
            else:
                row.append(
                    f"{percent(figure)}（{number(figure.numerator, indicator.money)}/"
                    f"{number(figure.denominator, indicator.money)}）"
                )
        rows.append(row)
    return rows


def _side_by_side(document: Any, columns: list[selectors.RegionFigures]) -> None:
    table = document.add_table(rows=1, cols=1 + len(columns))
    table.style = "Table Grid"
    heads = ["指标", *(f"{c.name}（合计）" if i == 0 else c.name for i, c in enumerate(columns))]
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        cell.text = text
    for row in side_by_side_rows(columns):
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text


def _capacity_section(document: Any, *, region: Region, year: int, figures: dict[str, Figure]) -> None:
    """五、医疗卫生服务能力建设 The standard, support, telemedicine, training, blank points and rectification."""
    as_of = capacity_as_of(year)
    document.add_heading("五、医疗卫生服务能力建设", level=1)
    document.add_paragraph(f"（统计日期：{as_of:%Y年%m月%d日}。）")
    for code in CAPACITY_CODES:
        document.add_paragraph(sentence(code, figures.get(code, NO_DATA)))
    if not capacity.has_facilities():
        document.add_paragraph("尚未登记医疗机构的类型、政府办与标准化情况，“三个一”达标情况暂无数据。")
        return
    result = capacity.assessment(region=region, as_of=as_of)
    for county in result.counties:
        for check in county.checks:
            document.add_paragraph(
                f"{county.name}{check.requirement}：{STATE_LABELS[check.state]}（{check.reason}）。"
            )
    document.add_paragraph(
        f"全{region.name}共有乡镇 {len(result.townships)} 个，乡镇卫生院达标 {result.townships_ok} 个；"
        f"行政村 {len(result.villages)} 个，有村卫生室的 {result.villages_with_clinic} 个，"
        f"由乡镇卫生院覆盖（乡镇卫生院所在村或邻近村）的 {result.villages_covered_by_exception} 个；"
        f"政府办村卫生室 {len(result.clinics)} 所，其中标准化 {result.clinics_standardised} 所，"
        f"有合格村医 {result.clinics_with_qualified_doctor} 所。"
    )
    summary = capacity.year_summary(region=region, year=year, as_of=as_of)
    document.add_paragraph(
        f"对口帮扶：{year}年 {summary.supporting_hospitals} 家医院帮扶 {summary.supports} 项，派驻人员 "
        f"{summary.staff_sent} 人、驻点 {summary.staff_months} 人·月，门诊 {summary.outpatients} 人次、"
        f"手术 {summary.operations} 台次，开展培训 {summary.support_trainings} 场。"
    )
    document.add_paragraph(
        f"远程医疗：已接入 {summary.connected} 所机构，{year}年远程会诊 {summary.consultations} 人次。"
        f"培训：{year}年参加培训 {summary.trainings} 场，{summary.attendees} 人次。"
    )
    points = result.blank_points
    lo, hi = prefix_range(region.prefix)
    items: dict[str, Rectification] = {}
    for item in Rectification.objects.filter(
        region_code__gte=lo, region_code__lt=hi, subject__in=[b.subject for b in points]
    ).order_by("subject", "status", "-id"):
        items.setdefault(item.subject, item)
    if not points:
        document.add_paragraph("空白点：无。每个乡镇、行政村均已达到“三个一”要求。")
        return
    done = sum(
        1 for b in points if b.subject in items and items[b.subject].status != RectificationStatus.OPEN
    )
    raised_count = sum(1 for b in points if b.subject in items)
    document.add_paragraph(
        f"空白点：共 {len(points)} 个，已列入问题整改 {raised_count} 个（其中已整改或销号 {done} 个），"
        f"未列入整改 {len(points) - raised_count} 个。明细如下："
    )
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("类别", "名称", "原因", "整改情况"), strict=True):
        cell.text = text
    for point in points:
        raised = items.get(point.subject)
        state = (
            "未列入整改"
            if raised is None
            else f"{raised.get_status_display()}（责任人 {raised.owner}，时限 {raised.deadline_on:%Y-%m-%d}）"
        )
        cells = table.add_row().cells
        for cell, text in zip(
            cells, (point.kind_label, f"{point.name}（{point.code}）", point.reason, state), strict=True
        ):
            cell.text = text


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
