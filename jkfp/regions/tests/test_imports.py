"""行政区划与医疗机构导入 regions_import / institutions_import and their commands."""

from __future__ import annotations

import csv
import json
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import call_command

from jkfp.regions.imports import institutions_import, regions_import
from jkfp.regions.models import Institution, Region

REGION_HEADER = ["代码", "名称", "上级代码", "级别"]
INSTITUTION_HEADER = ["代码", "名称", "级别", "县域内", "所在地区代码"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def errors(path: str | None) -> list[tuple[Any, ...]]:
    assert path is not None
    workbook = openpyxl.load_workbook(path, read_only=True)
    lines = [tuple(r) for r in workbook.active.iter_rows(values_only=True)][1:]
    workbook.close()
    return lines


TREE = [
    ["421321001001", "一村", "421321001000", "村"],  # children first: any order is accepted
    ["421321001000", "第一镇", "421321", "乡镇"],
    ["421321", "随县", "", "县"],
    ["421321001002", "二村", "", "村"],  # blank parent: derived from the code
    ["421321002000", "第二镇", "421321", "乡镇"],
]


def test_regions_in_any_order_and_idempotent(db: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "r.csv", REGION_HEADER, TREE)
    summary = regions_import(path=f, errors_dir=tmp_path)
    assert summary.as_dict() == {
        "rows": 5,
        "valid": 5,
        "invalid": 0,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    village = Region.objects.get(code="421321001002")
    assert (village.level, village.parent_id, village.parent.parent_id) == (
        "village",
        "421321001000",
        "421321",
    )
    again = regions_import(path=f, errors_dir=tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_regions_update_and_parent_from_database(db: Any, tmp_path: Path) -> None:
    regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, TREE), errors_dir=tmp_path)
    more = write_csv(
        tmp_path / "r2.csv",
        ["code", "name", "parent_code", "level"],
        [
            ["421321002003", "三村", "421321002000", "village"],
            ["421321001001", "一村（新）", "421321001000", "village"],
        ],
    )
    summary = regions_import(path=more, errors_dir=tmp_path)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 0)
    assert Region.objects.get(code="421321001001").name == "一村（新）"


@pytest.mark.parametrize(
    ("bad", "column"),
    [
        (["42132", "短县", "", "县"], "代码"),
        (["421321003001", "镇", "421321", "乡镇"], "代码"),  # township not ending in 000
        (["421399003000", "镇", "421321", "乡镇"], "代码"),  # township outside its county
        (["421321002009", "村", "421321001000", "村"], "代码"),  # village outside its township
        (["421321009001", "村", "421321009000", "村"], "上级代码"),  # parent unknown
        (["421321001009", "村", "421321", "村"], "上级代码"),  # parent of the wrong level (a county's code)
        (["421321001009", "村", "421321001000", "组"], "级别"),
        (["421321001009", "", "421321001000", "村"], "名称"),
    ],
)
def test_region_invalid_rows(db: Any, tmp_path: Path, bad: list[str], column: str) -> None:
    f = write_csv(tmp_path / "r.csv", REGION_HEADER, [*TREE, bad])
    summary = regions_import(path=f, errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (6, 5, 1, 5)
    lines = errors(summary.errors_file)
    assert [(line[0], line[1]) for line in lines] == [(7, column)]


PROVINCE_TREE = [
    ["42", "湖北省", "", "省"],
    ["4213", "随州市", "42", "市"],
    ["421303", "曾都区", "", "区"],  # blank parent: its city 421300
    ["421381000000", "广水市", "421300000000", "县级市"],  # 12-digit county and parent: stored as 6
    ["429004", "仙桃市", "420000", "县级市"],  # a county-level city directly under the province
    ["421303001", "东城街道", "421303", "街道"],  # 9 significant digits
    ["421303001001", "东城社区", "", "社区"],
    ["421303001002", "西城居委会", "421303001", "居委会"],
]


def test_regions_up_to_the_province_in_one_stored_form(db: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "p.csv", REGION_HEADER, PROVINCE_TREE)
    summary = regions_import(path=f, errors_dir=tmp_path)
    assert (summary.created, summary.invalid, summary.errors_file) == (8, 0, None)
    stored = {r.code: (r.level, r.parent_id) for r in Region.objects.all()}
    assert stored == {
        "420000": ("province", None),
        "421300": ("city", "420000"),
        "421303": ("county", "421300"),
        "421381": ("county", "421300"),
        "429004": ("county", "420000"),
        "421303001000": ("township", "421303"),
        "421303001001": ("village", "421303001000"),
        "421303001002": ("village", "421303001000"),
    }
    assert Region.objects.get(code="421300").prefix == "4213"
    assert Region.objects.get(code="420000").prefix == "42"
    again = regions_import(path=f, errors_dir=tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 8)


def test_an_existing_county_is_adopted_by_its_city_and_keeps_working(db: Any, tmp_path: Path) -> None:
    regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, TREE), errors_dir=tmp_path)
    assert Region.objects.get(code="421321").parent_id is None
    upper = write_csv(
        tmp_path / "u.csv", REGION_HEADER, [["420000", "湖北省", "", "省"], ["421300", "随州市", "", "市"]]
    )
    summary = regions_import(path=upper, errors_dir=tmp_path)
    assert (summary.created, summary.updated) == (2, 1)  # the county now hangs under its city
    assert Region.objects.get(code="421321").parent_id == "421300"
    assert Region.objects.get(code="421300").parent_id == "420000"
    # The county file again changes nothing (its blank parent is derived to the same city).
    again = regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, TREE), errors_dir=tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


@pytest.mark.parametrize(
    ("bad", "column", "reason"),
    [
        (["4", "省", "", "省"], "代码", "省级代码应为2位有效数字"),
        (["421300", "县", "", "县"], "代码", "县级代码应为6位数字"),  # a city's code as a county
        (["420000", "市", "", "市"], "代码", "市级代码应为4位有效数字"),
        (["421321000", "镇", "421321", "乡镇"], "代码", "乡镇代码应为9位有效数字"),
        (["431300", "外省的市", "420000", "市"], "代码", "前2位应与上级代码420000一致"),
        (["421399", "县", "421300", "县"], "上级代码", "上级代码421300不存在或级别不符"),
        (["421321001009", "村", "4213", "村"], "上级代码", "不是乡镇级代码"),
        (["421321001009", "村", "421321001000", "组"], "级别", "省/市/县/乡镇/村"),
    ],
)
def test_upper_level_invalid_rows_name_column_and_reason(
    db: Any, tmp_path: Path, bad: list[str], column: str, reason: str
) -> None:
    rows = [["420000", "湖北省", "", "省"], *TREE, bad]
    summary = regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, rows), errors_dir=tmp_path)
    assert (summary.valid, summary.invalid) == (6, 1)
    lines = errors(summary.errors_file)
    assert [(line[0], line[1]) for line in lines] == [(8, column)]
    assert reason in lines[0][3], lines[0]


def test_region_conflicting_duplicates_and_identical_repeats(db: Any, tmp_path: Path) -> None:
    rows = [*TREE, ["421321002000", "第二镇", "421321", "乡镇"], ["421321001002", "贰村", "", "村"]]
    summary = regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, rows), errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (7, 5, 2, 4)
    assert sorted(line[0] for line in errors(summary.errors_file)) == [5, 8]
    assert not Region.objects.filter(code="421321001002").exists()


def test_regions_from_xlsx(db: Any, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(REGION_HEADER)
    workbook.active.append([421321, "随县", None, "县"])
    workbook.active.append([421321001000, "第一镇", 421321, "乡镇"])
    path = tmp_path / "r.xlsx"
    workbook.save(path)
    assert regions_import(path=path, errors_dir=tmp_path).created == 2


def test_institutions(db: Any, tmp_path: Path) -> None:
    regions_import(path=write_csv(tmp_path / "r.csv", REGION_HEADER, TREE), errors_dir=tmp_path)
    rows = [
        ["H001", "随县人民医院", "2", "是", "421321"],
        ["H002", "第一镇卫生院", "一级", "1", "421321001000"],
        ["H003", "省人民医院", "3", "否", ""],
        ["H004", "坏级别", "4", "是", ""],
        ["H005", "坏标志", "2", "也许", ""],
        ["H006", "坏地区", "2", "1", "999999"],
        # Hospitals outside the county (issue 18 item 6): their own codes, not in the region tree.
        ["H007", "襄阳市中心医院", "3", "否", "420600"],
        ["H008", "省人民医院本部", "3", "0", "420000000000"],
        ["H009", "坏县外代码", "3", "否", "42130"],
    ]
    f = write_csv(tmp_path / "i.csv", INSTITUTION_HEADER, rows, encoding="gbk")
    summary = institutions_import(path=f, errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (9, 5, 4, 5)
    assert [(line[0], line[1]) for line in errors(summary.errors_file)] == [
        (5, "级别"),
        (6, "县域内"),
        (7, "所在地区代码"),
        (10, "所在地区代码"),
    ]
    got = {
        i.code: (i.level, i.in_county, i.region_id, i.outside_region_code) for i in Institution.objects.all()
    }
    assert got == {
        "H001": ("2", True, "421321", ""),
        "H002": ("1", True, "421321001000", ""),
        "H003": ("3", False, None, ""),
        "H007": ("3", False, None, "420600"),
        "H008": ("3", False, None, "420000000000"),
    }
    again = institutions_import(path=f, errors_dir=tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_commands_print_one_json_object(db: Any, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path
    f = write_csv(tmp_path / "r.csv", REGION_HEADER, TREE)
    out = StringIO()
    call_command("import_regions", str(f), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "rows": 5,
        "valid": 5,
        "invalid": 0,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    i = write_csv(
        tmp_path / "i.csv",
        ["code", "name", "level", "in_county", "region_code"],
        [["H1", "院", "1", "1", ""]],
    )
    out = StringIO()
    call_command("import_institutions", str(i), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1


CAPACITY_HEADER = [*INSTITUTION_HEADER, "类型", "政府办", "标准化", "达标日期", "服务村代码"]
OTHER_COUNTY = [
    ["421322", "邻县", "", "县"],
    ["421322001000", "邻镇", "", "乡镇"],
    ["421322001001", "邻村", "", "村"],
]


def test_institutions_capacity_columns(db: Any, tmp_path: Path) -> None:
    """类型/政府办/标准化/达标日期/服务村代码: parsed, checked per row, idempotent; old files keep the values."""
    regions_import(
        path=write_csv(tmp_path / "r.csv", REGION_HEADER, TREE + OTHER_COUNTY), errors_dir=tmp_path
    )
    rows = [
        [
            "W1",
            "第一镇卫生院",
            "1",
            "是",
            "421321001000",
            "乡镇卫生院",
            "是",
            "是",
            "2019-06-30",
            "421321001002",
        ],
        ["C1", "一村卫生室", "1", "是", "421321001001", "村卫生室", "1", "", "2020/1/5", ""],
        [
            "C2",
            "联合卫生室",
            "1",
            "是",
            "421321001001",
            "卫生室",
            "是",
            "否",
            "",
            "421321001001、421321001002",
        ],
        ["H1", "随县人民医院", "2", "是", "421321", "县级医院", "是", "是", "", ""],
        ["X1", "坏类型", "1", "是", "421321001001", "诊所", "是", "否", "", ""],
        ["X2", "坏政府办", "1", "是", "421321001001", "村卫生室", "也许", "否", "", ""],
        ["X3", "矛盾", "1", "是", "421321001001", "村卫生室", "是", "否", "2020-01-01", ""],
        ["X4", "县外村", "1", "是", "421321001001", "村卫生室", "是", "否", "", "421322001001"],
        ["X5", "未知村", "1", "是", "421321001001", "村卫生室", "是", "否", "", "421321001009"],
        ["X6", "医院服务村", "2", "是", "421321", "县级医院", "是", "是", "", "421321001001"],
        ["X7", "坏日期", "1", "是", "421321001001", "村卫生室", "是", "是", "2020-02-30", ""],
    ]
    f = write_csv(tmp_path / "i.csv", CAPACITY_HEADER, rows)
    summary = institutions_import(path=f, errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (11, 4, 7, 4)
    assert [(line[0], line[1]) for line in errors(summary.errors_file)] == [
        (6, "类型"),
        (7, "政府办"),
        (8, "达标日期"),
        (9, "服务村代码"),
        (10, "服务村代码"),
        (11, "服务村代码"),
        (12, "达标日期"),
    ]
    reasons = {line[0]: line[3] for line in errors(summary.errors_file)}
    assert "不在本机构所在县421321内" in reasons[9]
    got = {
        i.code: (
            i.kind,
            i.government_run,
            i.standardised,
            i.standardised_on,
            sorted(i.served_villages.values_list("code", flat=True)),
        )
        for i in Institution.objects.all()
    }
    assert got == {
        "W1": ("township_centre", True, True, date(2019, 6, 30), ["421321001002"]),
        "C1": ("village_clinic", True, True, date(2020, 1, 5), []),  # a 达标日期 alone means 标准化 是
        "C2": ("village_clinic", True, False, None, ["421321001001", "421321001002"]),
        "H1": ("county_hospital", True, True, None, []),
    }
    w1 = Institution.objects.get(code="W1")
    assert not w1.standardised_at(date(2019, 6, 29))
    assert w1.standardised_at(date(2019, 6, 30))
    again = institutions_import(path=f, errors_dir=tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)

    # An old-shape file (no capacity column) changes the name and keeps kind, flags and villages.
    old = write_csv(
        tmp_path / "old.csv", INSTITUTION_HEADER, [["C2", "联合卫生室（新）", "1", "是", "421321001001"]]
    )
    assert institutions_import(path=old, errors_dir=tmp_path).updated == 1
    c2 = Institution.objects.get(code="C2")
    assert (c2.name, c2.kind, c2.government_run, c2.served_villages.count()) == (
        "联合卫生室（新）",
        "village_clinic",
        True,
        2,
    )

    # With the column present, an empty cell clears: C2 now serves its own village only.
    clear = write_csv(
        tmp_path / "clear.csv",
        CAPACITY_HEADER,
        [["C2", "联合卫生室（新）", "1", "是", "421321001001", "村卫生室", "是", "是", "2024-03-01", ""]],
    )
    assert institutions_import(path=clear, errors_dir=tmp_path).updated == 1
    c2.refresh_from_db()
    assert (c2.standardised, c2.standardised_on, c2.served_villages.count()) == (True, date(2024, 3, 1), 0)
