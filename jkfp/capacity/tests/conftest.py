"""A small county with facilities and staff, loaded through the imports (the whole chain).

On the root conftest's 随县 (第1镇: 1村, 2村; 第2镇: 1村, 2村), as of 2025-06-30:

- H001 随县人民医院: government-run 县级医院, level 2.
- H002 第1镇卫生院 (t1): government-run, standardised 2019-01-01, covers 第1镇2村 (the exception); a
  执业医师 on post → 第1镇 ok.
- W002 第2镇卫生院 (t2): government-run, not standardised, a physician → 第2镇 is a blank point.
- C11 in 第1镇1村: government-run clinic, standardised 2020-01-01, a village doctor with 乡村医生证.
- C21 in 第2镇1村, serving 第2镇1村 and 第2镇2村 (joint): not standardised; its village doctor retired
  2025-05-31 → a blank point (clinic).
- P01 随州市中心医院: out of county, supports H002.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jkfp.capacity.imports import staff_import
from jkfp.core.idnumber import make_id_number
from jkfp.regions.imports import institutions_import

AS_OF = date(2025, 6, 30)
INSTITUTION_HEADER = [
    "代码",
    "名称",
    "级别",
    "县域内",
    "所在地区代码",
    "类型",
    "政府办",
    "标准化",
    "达标日期",
    "服务村代码",
]
STAFF_HEADER = [
    "身份证号",
    "姓名",
    "机构代码",
    "岗位",
    "资质",
    "证书编号",
    "执业范围",
    "起始日期",
    "终止日期",
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def person_id(serial: int, born: date = date(1980, 5, 1)) -> str:
    return make_id_number("421321", born, serial)


@dataclass
class CapacityWorld:
    county: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(county: dict[str, Any], tmp_path: Path) -> CapacityWorld:
    t1v1, t1v2, t2v1, t2v2 = (county[k].code for k in ("t1v1", "t1v2", "t2v1", "t2v2"))
    institutions = write_csv(
        tmp_path / "institutions.csv",
        INSTITUTION_HEADER,
        [
            ["H001", "随县人民医院", "2", "是", "421321", "县级医院", "是", "是", "2015-01-01", ""],
            [
                "H002",
                "第1镇卫生院",
                "1",
                "是",
                county["t1"].code,
                "乡镇卫生院",
                "是",
                "是",
                "2019-01-01",
                t1v2,
            ],
            ["W002", "第2镇卫生院", "1", "是", county["t2"].code, "乡镇卫生院", "是", "否", "", ""],
            ["C11", "第1镇1村卫生室", "1", "是", t1v1, "村卫生室", "是", "是", "2020-01-01", ""],
            ["C21", "第2镇联合卫生室", "1", "是", t2v1, "村卫生室", "是", "否", "", f"{t2v1}、{t2v2}"],
            ["P01", "随州市中心医院", "3", "否", "", "其他", "是", "是", "", ""],
        ],
    )
    summary = institutions_import(path=institutions, errors_dir=tmp_path)
    assert summary.invalid == 0, summary.errors_file
    ids = {
        name: person_id(i)
        for i, name in enumerate(("钱医师", "孙村医", "周医师", "吴村医", "郑护士"), start=1)
    }
    staff = write_csv(
        tmp_path / "staff.csv",
        STAFF_HEADER,
        [
            [ids["钱医师"], "钱医师", "H002", "医生", "执业医师", "110421", "内科", "2018-07-01", ""],
            [ids["孙村医"], "孙村医", "C11", "乡村医生", "乡村医生证", "XC001", "", "2010-03-01", ""],
            [ids["周医师"], "周医师", "W002", "医生", "执业助理医师", "220421", "全科", "2016-01-01", ""],
            [
                ids["吴村医"],
                "吴村医",
                "C21",
                "乡村医生",
                "乡村医生证",
                "XC002",
                "",
                "2005-01-01",
                "2025-05-31",
            ],
            [ids["郑护士"], "郑护士", "C21", "护士", "护士执业证", "HS01", "", "2021-01-01", ""],
        ],
    )
    summary = staff_import(path=staff, errors_dir=tmp_path, today=AS_OF)
    assert summary.invalid == 0, summary.errors_file
    return CapacityWorld(county=county, ids=ids)
