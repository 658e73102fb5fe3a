"""大病专项救治台账 The ledger .xlsx opened with openpyxl: headers, frozen row, masked IDs, totals, scope."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jkfp.accounts.scoping import region_get
from jkfp.core.idnumber import mask
from jkfp.treatment import ledger
from jkfp.treatment.models import CaseFollowUp
from jkfp.treatment.tests.factories import make_case, make_person

pytestmark = pytest.mark.django_db


def _write(tw: Any, user: str, tmp_path: Path, code: str | None = None) -> tuple[Path, ledger.LedgerTotals]:
    region = region_get(user=tw.users[user], code=code)
    path = tmp_path / f"ledger-{user}-{code}.xlsx"
    return path, ledger.treatment_ledger_write(user=tw.users[user], region=region, target=path)


def _open(path: Path, *, values: bool = True) -> Any:
    return openpyxl.load_workbook(path, data_only=values)[ledger.SHEET_NAME]


def _data_rows(sheet: Any) -> list[tuple[Any, ...]]:
    rows = []
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[0] == "合计":
            break
        rows.append(row)
    return rows


def _totals_row(sheet: Any) -> int:
    for (cell,) in sheet.iter_rows(min_col=1, max_col=1):
        if cell.value == "合计":
            return int(cell.row)
    raise AssertionError("no totals row")


def _demo_county(tw: Any, county: Any) -> None:
    """A county of 71 cases, 59 treated or in treatment, 11 untreated and 1 not needed (domain.md §9)."""
    diseases = list(tw.diseases.values())
    serial = 100
    for i in range(68):
        serial += 1
        village = (county["t1v1"], county["t1v2"], county["t2v1"], county["t2v2"])[i % 4]
        person = make_person(village, f"病人{i:02d}", serial, born=date(1950 + i % 40, 1, 1))
        if i < 47:
            status = "treated"
        elif i < 57:
            status = "in_treatment"
        elif i < 67:
            status = "untreated"
        else:
            status = "not_needed"
        make_case(person, diseases[i % len(diseases)], status)


def test_county_ledger_totals_headers_and_masking(tw: Any, county: Any, tmp_path: Path) -> None:
    _demo_county(tw, county)
    CaseFollowUp.objects.create(case=tw.cases["zhang"], visited_on=date(2024, 4, 1), note="a")
    CaseFollowUp.objects.create(case=tw.cases["zhang"], visited_on=date(2024, 5, 9), note="b")
    path, totals = _write(tw, "admin", tmp_path)
    sheet = _open(path)
    assert tuple(c.value for c in sheet[1]) == ledger.HEADERS
    assert sheet.freeze_panes == "A2"
    rows = _data_rows(sheet)
    assert len(rows) == 71 == totals.cases
    assert [r[0] for r in rows] == list(range(1, 72))
    # Totals computed from the rows themselves, against the totals row Excel will show.
    status_col = ledger.HEADERS.index("救治状态")
    counted = {
        label: sum(1 for r in rows if r[status_col] == label)
        for label in ("已救治", "救治中", "未救治", "无需救治")
    }
    assert counted == {"已救治": 48, "救治中": 11, "未救治": 11, "无需救治": 1}
    t = _totals_row(sheet)
    assert sheet.cell(row=t, column=ledger.COL_NAME + 1).value == 71
    assert (
        sheet.cell(row=t, column=ledger.COL_FOLLOWUPS + 1).value
        == 2
        == sum(r[ledger.COL_FOLLOWUPS] for r in rows)
    )
    block = {
        sheet.cell(row=t + i, column=1).value: sheet.cell(row=t + i, column=ledger.COL_NAME + 1).value
        for i in range(1, 6)
    }
    assert block == {**counted, ledger.RATE_LABEL: pytest.approx(59 / 70)}
    assert totals.treatment_rate == Decimal(59) / Decimal(70) and totals.rate_text() == "84.3%"
    # The totals are real formulas over the data rows (Excel recalculates them).
    formulas = _open(path, values=False)
    assert formulas.cell(row=t, column=ledger.COL_NAME + 1).value == "=COUNTA(D2:D72)"
    assert formulas.cell(row=t, column=ledger.COL_FOLLOWUPS + 1).value == "=SUM(O2:O72)"
    assert formulas.cell(row=t + 1, column=ledger.COL_NAME + 1).value == '=COUNTIF(L2:L72,"已救治")'
    assert formulas.cell(row=t + 5, column=ledger.COL_NAME + 1).value == (
        f'=IF((D{t}-D{t + 4})=0,"—",(D{t + 1}+D{t + 2})/(D{t}-D{t + 4}))'
    )
    # Masked IDs only; dates as dates; a note instead of invented amounts.
    zhang = next(r for r in rows if r[3] == "张三")
    assert zhang[4] == mask(tw.persons["zhang"].id_number)
    assert zhang[9] == datetime(2024, 3, 1) and zhang[15] == datetime(2024, 5, 9) and zhang[5] == "男"  # noqa: DTZ001 (spreadsheet dates read back naive)
    assert (zhang[11], zhang[12], zhang[10]) == ("未救治", "透析治疗中，费用尚未报销", "随县人民医院")
    texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    for person in tw.persons.values():
        assert person.id_number not in texts
    assert ledger.COST_NOTE in texts
    assert not any("元" in text and text != ledger.COST_NOTE for text in texts)


def test_township_ledger_holds_only_its_rows(tw: Any, county: Any, tmp_path: Path) -> None:
    path, totals = _write(tw, "t1", tmp_path)
    rows = _data_rows(_open(path))
    assert {r[3] for r in rows} == {"张三", "王五"} and totals.cases == 2
    assert {r[1] for r in rows} == {"第1镇"}
    assert totals.by_status == {"treated": 1, "in_treatment": 0, "untreated": 1, "not_needed": 0}
    path, totals = _write(tw, "t1", tmp_path, county["t1v2"].code)
    assert [r[3] for r in _data_rows(_open(path))] == ["王五"]


def test_village_ledger_of_the_village_doctor(tw: Any, tmp_path: Path) -> None:
    path, totals = _write(tw, "doctor", tmp_path)
    assert [r[3] for r in _data_rows(_open(path))] == ["张三"]
    assert totals.rate_text() == "0.0%"


def test_empty_ledger_has_zero_totals_and_no_rate(tw: Any, county: Any, tmp_path: Path) -> None:
    path, totals = _write(tw, "admin", tmp_path, county["t2v2"].code)
    sheet = _open(path)
    assert _data_rows(sheet) == [] and totals.cases == 0
    t = _totals_row(sheet)
    assert t == 2
    assert [sheet.cell(row=t + i, column=ledger.COL_NAME + 1).value for i in range(5)] == [0, 0, 0, 0, 0]
    assert sheet.cell(row=t + 5, column=ledger.COL_NAME + 1).value == "—"
    assert totals.rate_text() == "—"


def test_formula_like_text_is_written_as_text(tw: Any, tmp_path: Path) -> None:
    case = tw.cases["zhang"]
    case.untreated_reason, case.reason_note = "other", '=HYPERLINK("http://x")'
    case.save()
    path, _ = _write(tw, "admin", tmp_path)
    zhang = next(r for r in _data_rows(_open(path)) if r[3] == "张三")
    assert zhang[13] == '\'=HYPERLINK("http://x")'
