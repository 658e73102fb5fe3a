"""Imports of staff, paired support, telemedicine and training: named invalid rows, warnings, idempotence, scope."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
from django.core.management import call_command

from jkfp.capacity import imports
from jkfp.capacity.models import PairedSupport, Staff, Teleconsultation, TelemedicineLink, TrainingAttendance
from jkfp.capacity.tests.conftest import AS_OF, STAFF_HEADER, CapacityWorld, person_id, write_csv
from jkfp.regions.models import Institution


def problems(path: str | None) -> list[tuple[Any, ...]]:
    assert path is not None
    workbook = openpyxl.load_workbook(path, read_only=True)
    lines = [tuple(r) for r in workbook.active.iter_rows(values_only=True)][1:]
    workbook.close()
    return lines


def test_staff_invalid_rows_are_named(world: CapacityWorld, tmp_path: Path) -> None:
    good = person_id(50)
    rows = [
        ["11010519491231002Y", "错号", "C11", "乡村医生", "乡村医生证", "", "", "", ""],
        [good, "未知机构", "X999", "乡村医生", "乡村医生证", "", "", "", ""],
        [good, "坏资质", "C11", "乡村医生", "主任医师", "", "", "", ""],
        [good, "坏岗位", "C11", "院长", "无", "", "", "", ""],
        [good, "倒日期", "C11", "乡村医生", "乡村医生证", "", "", "2024-05-01", "2024-04-30"],
        [good, "", "C11", "乡村医生", "乡村医生证", "", "", "", ""],
        [person_id(51), "新村医", "C21", "村医", "乡村医生执业证书", "XC9", "", "2025-06-01", ""],
    ]
    summary = imports.staff_import(
        path=write_csv(tmp_path / "s.csv", STAFF_HEADER, rows), errors_dir=tmp_path, today=AS_OF
    )
    assert (summary.rows, summary.valid, summary.invalid, summary.created, summary.warnings) == (
        7,
        1,
        6,
        1,
        0,
    )
    assert [(p[0], p[1]) for p in problems(summary.errors_file)] == [
        (2, "身份证号"),
        (3, "机构代码"),
        (4, "资质"),
        (5, "岗位"),
        (6, "终止日期"),
        (7, "姓名"),
    ]
    reasons = {p[0]: p[3] for p in problems(summary.errors_file)}
    assert reasons[3] == "机构代码X999不存在（或不在您的管辖范围内），请先导入医疗机构"
    assert reasons[6] == imports.ERR_END_BEFORE
    new = Staff.objects.get(name="新村医")
    assert (new.post, new.qualification, new.start_on) == (
        "village_doctor",
        "village_doctor_cert",
        date(2025, 6, 1),
    )


def test_staff_two_places_is_a_warning_and_reimport_changes_nothing(
    world: CapacityWorld, tmp_path: Path
) -> None:
    # 孙村医 (C11 since 2010) also sits at the township centre on Mondays.
    sun = world.ids["孙村医"]
    rows = [
        [sun, "孙村医", "H002", "乡村医生", "乡村医生证", "XC001", "", "2024-01-01", ""],
        [
            world.ids["钱医师"],
            "钱医师",
            "H002",
            "医生",
            "执业医师",
            "110421",
            "内科",
            "2018-07-01",
            "2025-12-31",
        ],
    ]
    f = write_csv(tmp_path / "s.csv", STAFF_HEADER, rows)
    summary = imports.staff_import(path=f, errors_dir=tmp_path, today=AS_OF)
    assert (summary.valid, summary.created, summary.updated, summary.warnings) == (2, 1, 1, 1)
    (warning,) = problems(summary.errors_file)
    assert warning[0] == 2
    assert warning[3].startswith("警告（已导入）：此人同期还在第1镇1村卫生室任职")
    assert Staff.objects.get(id_number=world.ids["钱医师"]).end_on == date(2025, 12, 31)
    again = imports.staff_import(path=f, errors_dir=tmp_path, today=AS_OF)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_staff_conflicting_repeats_are_invalid(world: CapacityWorld, tmp_path: Path) -> None:
    idn = person_id(60)
    rows = [
        [idn, "冯医生", "C11", "医生", "执业医师", "", "", "2024-01-01", ""],
        [idn, "冯医生", "C11", "医生", "执业助理医师", "", "", "2024-01-01", ""],
        [idn, "冯医生", "C21", "医生", "执业医师", "", "", "2024-01-01", ""],
        [idn, "冯医生", "C21", "医生", "执业医师", "", "", "2024-01-01", ""],  # identical repeat: one record
    ]
    summary = imports.staff_import(
        path=write_csv(tmp_path / "s.csv", STAFF_HEADER, rows), errors_dir=tmp_path, today=AS_OF
    )
    assert (summary.invalid, summary.created) == (2, 1)
    assert [p[0] for p in problems(summary.errors_file) if not str(p[3]).startswith("警告")] == [2, 3]


def test_web_import_is_bound_to_the_uploaders_region(
    world: CapacityWorld, make_user: Any, tmp_path: Path
) -> None:
    township2 = make_user("township", world.county["t2"].code)
    rows = [
        [person_id(70), "褚村医", "C11", "乡村医生", "乡村医生证", "", "", "", ""],  # 第1镇: outside
        [person_id(71), "卫村医", "C21", "乡村医生", "乡村医生证", "", "", "", ""],
    ]
    summary = imports.staff_import(
        path=write_csv(tmp_path / "s.csv", STAFF_HEADER, rows),
        user=township2,
        errors_dir=tmp_path,
        today=AS_OF,
    )
    assert (summary.invalid, summary.created) == (1, 1)
    assert problems(summary.errors_file)[0][:2] == (2, "机构代码")


SUPPORT_HEADER = [
    "帮扶医院代码",
    "受援机构代码",
    "起始日期",
    "终止日期",
    "派驻人数",
    "驻点人月",
    "门诊人次",
    "手术台次",
    "培训场次",
    "备注",
]


def test_support_import(world: CapacityWorld, tmp_path: Path) -> None:
    rows = [
        ["P01", "H002", "2024-01-01", "2024-12-31", "3", "18.5", "1200", "45", "6", "市级医院对口帮扶"],
        ["P99", "H002", "2024-01-01", "", "", "", "", "", "", ""],
        ["H002", "H002", "2024-01-01", "", "", "", "", "", "", ""],
        ["P01", "W002", "2024-01-01", "2023-12-31", "", "", "", "", "", ""],
        ["P01", "C11", "2024-01-01", "", "-1", "", "", "", "", ""],
        ["P01", "C21", "2024-01-01", "", "", "1.25", "", "", "", ""],
    ]
    f = write_csv(tmp_path / "p.csv", SUPPORT_HEADER, rows)
    summary = imports.supports_import(path=f, errors_dir=tmp_path, today=AS_OF)
    assert (summary.valid, summary.invalid, summary.created) == (1, 5, 1)
    assert [(p[0], p[1]) for p in problems(summary.errors_file)] == [
        (3, "帮扶医院代码"),
        (4, "受援机构代码"),
        (5, "终止日期"),
        (6, "派驻人数"),
        (7, "驻点人月"),
    ]
    support = PairedSupport.objects.get()
    assert (
        support.staff_count,
        support.staff_months,
        support.outpatients_count,
        support.operations_count,
    ) == (
        3,
        Decimal("18.5"),
        1200,
        45,
    )
    assert imports.supports_import(path=f, errors_dir=tmp_path, today=AS_OF).unchanged == 1


TELE_HEADER = ["机构代码", "对接机构", "接入日期", "停用日期", "月份", "会诊人次"]


def test_telemedicine_import(world: CapacityWorld, tmp_path: Path) -> None:
    rows = [
        ["H002", "随州市远程会诊中心", "2023-03-15", "", "2024-01", "12"],
        ["H002", "随州市远程会诊中心", "2023-03-15", "", "2024年2月", "9"],
        ["W002", "随州市远程会诊中心", "2024-05-01", "", "2024-04", "3"],  # before the connection
        ["C11", "随县人民医院", "2024-01-01", "", "2024-13", "1"],
        ["C21", "随县人民医院", "2024-01-01", "", "2024-02", ""],
        ["H001", "省远程医疗平台", "2022-01-01", "", "", ""],
        ["H001", "另一个平台", "2022-01-01", "", "", ""],  # conflicts with the row above
    ]
    f = write_csv(tmp_path / "t.csv", TELE_HEADER, rows)
    summary = imports.telemedicine_import(path=f, errors_dir=tmp_path, today=AS_OF)
    assert (summary.valid, summary.invalid, summary.created) == (2, 5, 3)
    assert [(p[0], p[1]) for p in problems(summary.errors_file)] == [
        (4, "月份"),
        (5, "月份"),
        (6, "会诊人次"),
        (7, "机构代码"),
        (8, "机构代码"),
    ]
    link = TelemedicineLink.objects.get(institution_id="H002")
    assert sorted(Teleconsultation.objects.filter(link=link).values_list("month", "consultations_count")) == [
        (date(2024, 1, 1), 12),
        (date(2024, 2, 1), 9),
    ]
    assert imports.telemedicine_import(path=f, errors_dir=tmp_path, today=AS_OF).unchanged == 3


TRAINING_HEADER = ["培训日期", "培训主题", "主办单位", "级别", "机构代码", "参训人数"]


def test_training_import_and_commands(world: CapacityWorld, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path
    rows = [
        ["2024-04-10", "高血压规范管理", "随县卫健局", "县级", "H002", "20"],
        ["2024-04-10", "高血压规范管理", "随县卫健局", "县级", "C11", "2"],
        ["2024-04-10", "高血压规范管理", "随县卫健局", "县级", "C21", "0"],
        ["2024-05-10", "急救", "随州市卫健委", "部级", "C11", "1"],
    ]
    f = write_csv(tmp_path / "tr.csv", TRAINING_HEADER, rows)
    out = StringIO()
    call_command("import_training", str(f), "--json", stdout=out)
    got = json.loads(out.getvalue())
    assert {
        k: got[k] for k in ("rows", "valid", "invalid", "created", "updated", "unchanged", "warnings")
    } == {
        "rows": 4,
        "valid": 2,
        "invalid": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
    }
    assert sum(TrainingAttendance.objects.values_list("attendees_count", flat=True)) == 22
    out = StringIO()
    call_command("import_training", str(f), "--json", stdout=out)
    assert json.loads(out.getvalue())["unchanged"] == 2


COVERAGE_HEADER = ["村代码", "覆盖机构代码"]


def test_coverage_import_records_the_exception(world: CapacityWorld, tmp_path: Path) -> None:
    """An exception naming a covering institution that does not exist is a named invalid row."""
    rows = [
        ["421321002002", "W002"],  # 第2镇2村 by 第2镇卫生院: recorded (it is also served by C21: a warning)
        ["421321002002", "W999"],  # no such institution
        ["421321002002", "C11"],  # a clinic cannot be the exception
        ["421321009009", "W002"],  # no such village
        ["", "W002"],
    ]
    f = write_csv(tmp_path / "c.csv", COVERAGE_HEADER, rows)
    summary = imports.coverage_import(path=f, errors_dir=tmp_path, today=AS_OF)
    assert (summary.valid, summary.invalid, summary.created, summary.warnings) == (1, 4, 1, 1)
    assert [(p[0], p[1], p[3]) for p in problems(summary.errors_file)] == [
        (2, "村代码", imports.WARN_HAS_CLINIC.format(name="第2镇联合卫生室")),
        (3, "覆盖机构代码", "机构代码W999不存在（或不在您的管辖范围内），请先导入医疗机构"),
        (4, "覆盖机构代码", imports.ERR_NOT_CENTRE),
        (5, "村代码", imports.ERR_VILLAGE.format(code="421321009009")),
        (6, "村代码", imports.ERR_EMPTY),
    ]
    assert list(Institution.objects.get(code="W002").served_villages.values_list("code", flat=True)) == [
        "421321002002"
    ]
    assert imports.coverage_import(path=f, errors_dir=tmp_path, today=AS_OF).unchanged == 1
