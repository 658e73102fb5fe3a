"""台账再导入 Issue 18 item 8: a ledger imports again through the matching import with its own headers.

The support and training ledgers carry what their imports need (the institutions' codes); written
as a county administrator downloads them (序号 column, 合计 row and notes below it), they import again
into an emptied database and give back the same records. The person ledgers show ID numbers masked
(a non-negotiable): re-imported, each row is refused naming the masked ID, nothing is written.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from jkfp.capacity import imports
from jkfp.capacity.models import PairedSupport, Training, TrainingAttendance
from jkfp.capacity.tests.conftest import AS_OF, CapacityWorld, world, write_csv  # noqa: F401
from jkfp.care.imports import contracts_import
from jkfp.core.tabular_map import reading
from jkfp.indicators.ledgers import ledger_write
from jkfp.regions.models import Region

pytestmark = pytest.mark.django_db


def _support(tmp_path: Path) -> None:
    rows = [
        ["P01", "H002", "2024-01-01", "2024-12-31", "3", "18.5", "1200", "45", "6", "市级医院对口帮扶"],
        ["H001", "C11", "2024-03-01", "", "1", "2", "0", "0", "1", ""],
    ]
    header = ["帮扶医院代码", "受援机构代码", "起始日期", "终止日期", "派驻人数", "驻点人月", "门诊人次"]
    header += ["手术台次", "培训场次", "备注"]
    summary = imports.supports_import(path=write_csv(tmp_path / "s.csv", header, rows), today=AS_OF)
    assert (summary.valid, summary.invalid) == (2, 0)


def _training(tmp_path: Path) -> None:
    rows = [
        ["2024-04-10", "高血压规范管理", "随县卫健局", "县级", "H002", "20"],
        ["2024-04-10", "高血压规范管理", "随县卫健局", "县级", "C11", "2"],
        ["2024-05-10", "急救", "随州市卫健委", "市级", "C11", "1"],
    ]
    header = ["培训日期", "培训主题", "主办单位", "级别", "机构代码", "参训人数"]
    summary = imports.trainings_import(path=write_csv(tmp_path / "t.csv", header, rows), today=AS_OF)
    assert (summary.valid, summary.invalid) == (3, 0)


def _supports() -> list[tuple[Any, ...]]:
    return sorted(
        PairedSupport.objects.values_list(
            "supporting_id",
            "supported_id",
            "start_on",
            "end_on",
            "staff_count",
            "staff_months",
            "outpatients_count",
            "operations_count",
            "trainings_count",
            "note",
        )
    )


def _attendance() -> list[tuple[Any, ...]]:
    return sorted(
        TrainingAttendance.objects.values_list(
            "training__held_on",
            "training__topic",
            "training__organiser",
            "training__level",
            "institution_id",
            "attendees_count",
        )
    )


def test_support_and_training_ledgers_import_again_with_their_own_headers(
    world: CapacityWorld,  # noqa: F811
    make_user: Any,
    tmp_path: Path,
) -> None:
    _support(tmp_path)
    _training(tmp_path)
    supports, attendance = _supports(), _attendance()
    assert supports[0][5] == Decimal("2.0") and len(attendance) == 3
    admin = make_user("county_admin", "421321")
    county = Region.objects.get(code="421321")
    support_ledger, _ = ledger_write(kind="support", user=admin, region=county, year=2024)
    training_ledger, _ = ledger_write(kind="training", user=admin, region=county, year=2024)
    support_book = load_workbook(support_ledger, read_only=True)
    cells = [row for row in support_book.active.iter_rows(values_only=True) if row[0] is not None]
    support_book.close()  # a read-only workbook holds its file open until closed
    assert cells[-1][0] != "合计" and any(row[0] == "合计" for row in cells), "totals and notes below"
    PairedSupport.objects.all().delete()
    TrainingAttendance.objects.all().delete()
    Training.objects.all().delete()
    with reading() as context:
        again = imports.supports_import(path=support_ledger, user=admin, today=AS_OF)
    assert (again.rows, again.valid, again.invalid, again.created) == (2, 2, 0, 2)
    assert any("合计与说明，已忽略" in w for w in context.warnings)
    assert _supports() == supports
    with reading():
        again = imports.trainings_import(path=training_ledger, user=admin, today=AS_OF)
    assert (again.rows, again.valid, again.invalid, again.created) == (3, 3, 0, 3)
    assert _attendance() == attendance


def test_a_ledger_with_masked_id_numbers_is_refused_row_by_row_naming_the_mask(
    world: CapacityWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The contracts ledger shows 421321********0011: re-imported, every row is invalid with the reason."""
    path = write_csv(
        tmp_path / "c.csv",
        ["身份证号", "签约日期", "到期日期", "签约团队"],
        [["421321********0011", "2024-01-01", "2024-12-31", "第1镇团队"]],
    )
    summary = contracts_import(path=path, today=date(2024, 6, 1))
    assert (summary.valid, summary.invalid, summary.created) == (0, 1, 0)
    book = load_workbook(summary.errors_file, read_only=True)
    reasons = [str(row[3]) for row in book.active.iter_rows(min_row=2, values_only=True)]
    book.close()
    assert reasons == [
        "身份证号不合法：身份证号已脱敏（带*号，如导出的台账），不能用于导入，请使用完整身份证号"
    ]
