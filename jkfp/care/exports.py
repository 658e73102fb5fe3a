"""签约登记簿、履约服务登记簿、联系卡 Care registers (.xlsx) and the contact-card PDF (domain.md §6, §10).

Registers: Chinese headers, frozen header row, masked ID numbers, every text cell through
``safe_cell`` (a name such as ``=HYPERLINK(…)`` stays text), written row by row with xlsxwriter's
constant-memory mode so a county-wide register does not sit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from jkfp.care.models import ContractStatus
from jkfp.care.selectors import contracts, fulfilment_of
from jkfp.core.idnumber import mask
from jkfp.core.tabular import safe_cell
from jkfp.regions.models import Region

CHUNK = 1000
CONTRACT_HEADERS = (
    "序号",
    "乡镇",
    "村",
    "户编号",
    "姓名",
    "性别",
    "身份证号",
    "联系电话",
    "团队",
    "家庭医生",
    "服务包",
    "签约日期",
    "到期日期",
    "交付日期",
    "状态",
)
FULFILMENT_HEADERS = (
    "序号",
    "乡镇",
    "村",
    "姓名",
    "身份证号",
    "家庭医生",
    "随访病种",
    "应随访次数",
    "已随访次数",
    "最近控制情况",
    "体检日期",
    "送药次数",
    "是否履约",
)


@dataclass(frozen=True)
class RegisterTotals:
    """登记簿合计 How many rows a register holds (and, for fulfilment, how many are fulfilled)."""

    rows: int
    fulfilled: int = 0


def _workbook(target: Path, title: str, headers: tuple[str, ...]) -> tuple[Any, Any, Any]:
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False})
    sheet = workbook.add_worksheet(title)
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    for col, text in enumerate(headers):
        sheet.write_string(0, col, text, bold)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 6)
    sheet.set_column(1, len(headers) - 1, 13)
    return workbook, sheet, workbook.add_format({"num_format": "yyyy-mm-dd"})


def _write(sheet: Any, row: int, cells: tuple[Any, ...], date_format: Any) -> None:
    for col, value in enumerate(cells):
        if value is None or value == "":
            continue
        if isinstance(value, date):
            sheet.write_datetime(row, col, value, date_format)
        elif isinstance(value, int):
            sheet.write_number(row, col, value)
        else:
            sheet.write_string(row, col, safe_cell(str(value)))


_CONTRACT_VALUES = (
    "person__village__parent__name",
    "person__village__name",
    "person__household__household_no",
    "person__name",
    "person__sex",
    "person__id_number",
    "person__phone",
    "team__name",
    "doctor__name",
    "package__name",
    "signed_on",
    "end_on",
    "handed_over_on",
    "status",
)
SEX = {"M": "男", "F": "女"}
STATUS = dict(ContractStatus.choices)


def contract_register_write(*, user: Any, region: Region, year: int, target: Path) -> RegisterTotals:
    """签约登记簿 The contracts covering ``year`` of ``region`` (inside the user's scope) to ``target``.

    Plain value tuples, not model instances: a county's 50,000 contracts with seven related rows
    each would otherwise build 350,000 objects.
    """
    workbook, sheet, date_format = _workbook(target, f"{year}年签约登记簿", CONTRACT_HEADERS)
    n = 0
    try:
        rows = contracts(user=user, year=year, region=_region_arg(region)).values_list(*_CONTRACT_VALUES)
        for (
            town,
            village,
            household,
            name,
            sex,
            id_number,
            phone,
            team,
            doctor,
            package,
            *rest,
        ) in rows.iterator(chunk_size=CHUNK):
            n += 1
            signed_on, end_on, handed_over_on, status = rest
            _write(
                sheet,
                n,
                (
                    n,
                    town or "",
                    village,
                    household or "",
                    name,
                    SEX.get(sex, sex),
                    mask(id_number),
                    phone,
                    team,
                    doctor or "",
                    package or "",
                    signed_on,
                    end_on,
                    handed_over_on,
                    str(STATUS.get(status, status)),
                ),
                date_format,
            )
    finally:
        workbook.close()
    return RegisterTotals(n)


def fulfilment_register_write(*, user: Any, region: Region, year: int, target: Path) -> RegisterTotals:
    """履约服务登记簿 Per contracted person of ``year``: follow-ups per condition, check, deliveries, fulfilled."""
    workbook, sheet, date_format = _workbook(target, f"{year}年履约服务登记簿", FULFILMENT_HEADERS)
    n = fulfilled = 0
    seen: set[int] = set()
    try:
        rows = contracts(user=user, year=year, region=_region_arg(region)).values_list(
            "person_id",
            "person__village_id",
            "person__village__parent__name",
            "person__village__name",
            "person__name",
            "person__id_number",
            "doctor__name",
        )
        iterator = rows.iterator(chunk_size=CHUNK)
        while chunk := list(islice(iterator, CHUNK)):
            # A person with two contracts touching the year (a renewal) is listed once.
            unique = []
            for row in chunk:
                if row[0] not in seen:
                    seen.add(row[0])
                    unique.append(row)
            # Each person's county's follow-up rules (a city's export spans several counties).
            by_county: dict[str, list[int]] = {}
            for row in unique:
                by_county.setdefault(row[1][:6], []).append(row[0])
            services = {}
            for county_code, person_ids in by_county.items():
                services.update(fulfilment_of(person_ids=person_ids, county_code=county_code, year=year))
            for person_id, _, town, village, name, id_number, doctor in unique:
                done = services[person_id]
                n += 1
                fulfilled += done.fulfilled
                _write(
                    sheet,
                    n,
                    (
                        n,
                        town or "",
                        village,
                        name,
                        mask(id_number),
                        doctor or "",
                        "、".join(v[0] for v in done.visits),
                        "、".join(str(v[1]) for v in done.visits),
                        "、".join(str(v[2]) for v in done.visits),
                        "、".join(v[3] or "—" for v in done.visits),
                        done.checkup_on,
                        done.delivery_count,
                        "是" if done.fulfilled else "否",
                    ),
                    date_format,
                )
    finally:
        workbook.close()
    return RegisterTotals(n, fulfilled)


def _region_arg(region: Region) -> str | None:
    """The region filter of the selectors: None for a county (the user's scope does the rest)."""
    return None if len(region.code) == 6 else region.code


def cards_pdf(html: str) -> bytes:
    """联系卡PDF Render the contact-card page (A6 cards, Noto Sans CJK SC) to PDF bytes with WeasyPrint."""
    from weasyprint import HTML  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    return HTML(string=html).write_pdf()
