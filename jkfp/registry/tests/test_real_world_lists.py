"""Lists shaped the way county staff receive them (issue 18 *Why*): title rows above the header,
foreign headers and words, full-width cells, mapping files and dry runs — through `jkfp import-roster`."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jkfp.core.idnumber import make_id_number
from jkfp.registry.models import ImportRun, Person, SourceRecord, Tag
from jkfp.registry.services import disease_catalogue_load

V1 = "421321001001"


def pid(serial: int) -> str:
    return make_id_number("421321", date(1960, 3, 15), serial)


@pytest.fixture
def diseases(county: dict[str, Any]) -> dict[str, Any]:
    disease_catalogue_load()
    return county


def national_export(path: Path) -> Path:
    """An XLSX as a national system exports it: a merged title, the export time, then the header
    with the national system's own headers and words."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "全国防止返贫监测和衔接推进乡村振兴信息系统导出"
    sheet.merge_cells("A1:F1")
    sheet["A2"] = "导出时间：2024年3月1日 10:12"
    sheet.append(["公民身份号码", "人员姓名", "村代码", "户编号", "人员类别", "联系电话"])
    words = ["建档立卡贫困户", "脱贫户", "边缘易致贫户", "农村低保", "特困供养", "五保", "低保户、脱贫人口"]
    for serial, word in enumerate(words, start=11):
        sheet.append([pid(serial), f"人员{serial}", V1, f"H{serial}", word, "13800000000"])
    sheet.append([pid(30).replace("421321", "４２１３２１"), "全角　号", V1, "H30", "已脱贫", ""])
    workbook.save(path)
    return path


def test_a_national_export_imports(diseases: Any, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path
    path = national_export(tmp_path / "国家平台导出.xlsx")
    out = StringIO()
    call_command("import_roster", str(path), "--source", "国家平台", "--year", "2024", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    # Two title rows ignored + two normalised cells (the full-width ID and the full-width space).
    assert summary == {
        "rows": 8,
        "valid": 8,
        "invalid": 0,
        "created": 8,
        "updated": 0,
        "unchanged": 0,
        "warnings": 4,
        "errors_file": None,
    }
    tags = {
        (t.person.id_number, t.code, t.exited, t.subtype)
        for t in Tag.objects.select_related("person").filter(source="国家平台")
    }
    assert tags == {
        (pid(11), "poor", False, ""),
        (pid(12), "poor", True, ""),
        (pid(13), "monitored", False, "边缘易致贫户"),  # 监测对象 with its subtype
        (pid(14), "dibao", False, ""),
        (pid(15), "tekun", False, ""),
        (pid(16), "tekun", False, ""),
        (pid(17), "dibao", False, ""),
        (pid(17), "poor", True, ""),
        (pid(30), "poor", True, ""),
    }
    assert SourceRecord.objects.get(person__id_number=pid(17)).tags == "低保、脱贫"
    assert Person.objects.get(id_number=pid(30)).name == "全角 号"


def test_mapping_file_and_dry_run(diseases: Any, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path
    path = tmp_path / "乡镇名单.csv"
    path.write_text(
        "证件号,姓名,行政村代码,户主编号,人员类别\n"
        f"{pid(11)},张三,{V1},H1,一般贫困户\n"
        f"{pid(12)},李四,{V1},H2,一般贫困户、低保户\n"
        f"{pid(13)},王五,{V1},H3,不明户\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "乡镇.toml"
    mapping.write_text(
        '[columns]\n"证件号" = "身份证号"\n"户主编号" = "户编号"\n'
        '[values."人员类别"]\n"一般贫困户" = "建档立卡"\n"不明户" = "困难户"\n',
        encoding="utf-8",
    )
    args = [
        "import_roster",
        str(path),
        "--source",
        "乡镇",
        "--year",
        "2024",
        "--mapping",
        str(mapping),
        "--json",
    ]
    out = StringIO()
    call_command(*args, "--dry-run", stdout=out)
    dry = json.loads(out.getvalue())
    assert (dry["rows"], dry["valid"], dry["invalid"], dry["created"]) == (3, 2, 1, 2)
    assert dry["errors_file"] is not None and Path(dry["errors_file"]).is_file()
    # Nothing written: no person, no source record, no run.
    assert (Person.objects.count(), SourceRecord.objects.count(), ImportRun.objects.count()) == (0, 0, 0)
    report = list(openpyxl.load_workbook(dry["errors_file"]).active.values)
    assert report[1][:3] == (4, "人员类别", "不明户 → 困难户")  # mapped to something invalid: both named
    out = StringIO()
    call_command(*args, stdout=out)
    real = json.loads(out.getvalue())
    assert {k: v for k, v in real.items() if k != "errors_file"} == {
        k: v for k, v in dry.items() if k != "errors_file"
    }
    household = Person.objects.get(id_number=pid(12)).household
    assert household is not None and household.household_no == "H2"
    assert SourceRecord.objects.get(person__id_number=pid(12)).tags == "低保、建档立卡"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[columns]\n"证件号" = "身份证号"\n"户主编号" = "户主号码"\n', 3),  # unknown field
        ('[columns]\n"证件号" = "身份证号"\n"号码" = "id_number"\n', 3),  # two columns, one field
    ],
)
def test_bad_mapping_is_refused_naming_the_line(diseases: Any, tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"证件号,姓名,村代码\n{pid(11)},张三,{V1}\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_roster", str(path), "--source", "乡镇", "--mapping", str(mapping), stdout=StringIO()
        )
    assert f"第{line}行" in str(refused.value)
    assert Person.objects.count() == 0


def test_title_row_without_detection_gets_the_hint(diseases: Any, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"花名册\n身份证号,村代码\n{pid(11)},{V1}\n", encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("import_roster", str(path), "--source", "乡镇", stdout=StringIO())
    assert "缺少必需的列：姓名（name）（表头在第 2 行？）" in str(refused.value)


def test_the_monitored_subtype_is_stored_and_follows_the_next_list(
    diseases: Any, tmp_path: Path, settings: Any
) -> None:
    """脱贫不稳定户 / 边缘易致贫户 / 突发严重困难户 are 监测对象 with that subtype (Tag.subtype, shown on
    the person's page); 监测户 is 监测对象 without one; the source's next list changes the subtype."""
    settings.IMPORT_DIR = tmp_path

    def run(rows: list[tuple[int, str]], name: str) -> None:
        path = tmp_path / name
        lines = ["身份证号,姓名,村代码,人员类别", *(f"{pid(s)},人员{s},{V1},{w}" for s, w in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        call_command("import_roster", str(path), "--source", "省系统", "--year", "2024", stdout=StringIO())

    def tags() -> set[tuple[str, str, bool, str]]:
        return {
            (t.person.id_number, t.code, t.exited, t.subtype)
            for t in Tag.objects.select_related("person").filter(end_on__isnull=True)
        }

    run([(41, "边缘易致贫户"), (42, "监测户"), (43, "脱贫不稳定户、脱贫户")], "a.csv")
    assert tags() == {
        (pid(41), "monitored", False, "边缘易致贫户"),
        (pid(42), "monitored", False, ""),
        (pid(43), "monitored", False, "脱贫不稳定户"),
        (pid(43), "poor", True, ""),
    }
    run([(41, "突发严重困难户"), (42, "监测户"), (43, "脱贫不稳定户、脱贫户")], "b.csv")
    assert (pid(41), "monitored", False, "突发严重困难户") in tags()
    assert Tag.objects.filter(person__id_number=pid(41)).count() == 1, "the open tag took the new subtype"
