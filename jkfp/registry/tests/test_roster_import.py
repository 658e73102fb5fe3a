"""花名册导入 roster_import and `jkfp import-roster`: every invalid-row rule, provenance, idempotency."""

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
from django.core.management.base import CommandError

from jkfp.core.idnumber import check_char, make_id_number
from jkfp.core.importing import visible
from jkfp.core.tabular import TableError
from jkfp.registry.imports import roster_import
from jkfp.registry.models import (
    ChangeLog,
    Condition,
    Household,
    ImportRun,
    ImportStatus,
    Membership,
    Person,
    SourceRecord,
    Tag,
    VerificationStatus,
)
from jkfp.registry.services import disease_catalogue_load

HEADER = ["身份证号", "姓名", "村代码", "户编号", "与户主关系", "人员类别", "患病情况", "联系电话"]
V1, V2, V3 = "421321001001", "421321001002", "421321002001"
TODAY = date(2024, 6, 1)


def pid(serial: int, born: date = date(1960, 3, 15)) -> str:
    return make_id_number("421321", born, serial)


def row(
    idn: str,
    name: str = "张三",
    village: str = V1,
    household: str = "H001",
    relation: str = "户主",
    tags: str = "建档立卡",
    conditions: str = "",
    phone: str = "13800000000",
) -> list[str]:
    return [idn, name, village, household, relation, tags, conditions, phone]


def write_csv(
    path: Path, rows: list[list[str]], *, header: list[str] = HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(path: Path, tmp_path: Path, source: str = "国家平台", year: int = 2024, **kw: Any) -> dict[str, Any]:
    summary = roster_import(
        path=path,
        source=source,
        year=year,
        errors_dir=tmp_path / "errors",
        today=kw.pop("today", TODAY),
        **kw,
    )
    return summary.as_dict()


def report_lines(path: str) -> list[tuple[Any, ...]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    lines = [tuple(r) for r in workbook.active.iter_rows(values_only=True)]
    workbook.close()
    return lines


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (Person, Household, SourceRecord, Tag, Condition, ChangeLog, Membership)
    )


@pytest.fixture
def diseases(county: dict[str, Any]) -> dict[str, Any]:
    disease_catalogue_load()
    return county


def test_fresh_import_creates_persons_with_derived_fields(diseases: Any, tmp_path: Path) -> None:
    old15 = "421321600101001"  # 15-digit: born 1960-01-01, serial 001 → male
    f = write_csv(
        tmp_path / "a.csv",
        [
            row(pid(11), "张三", tags="建档立卡、低保", conditions="高血压;糖尿病"),
            row(pid(22), "李四", relation="配偶", tags="脱贫", phone=""),
            row(old15, "王五", village=V2, household="H\\002", tags=""),
        ],
    )
    summary = run(f, tmp_path)
    assert summary == {
        "rows": 3,
        "valid": 3,
        "invalid": 0,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    zhang = Person.objects.get(id_number=pid(11))
    assert (zhang.name, zhang.sex, zhang.birth_date, zhang.village_id) == ("张三", "M", date(1960, 3, 15), V1)
    assert zhang.household.household_no == "H001" and zhang.household.village_id == V1
    li = Person.objects.get(id_number=pid(22))
    assert li.sex == "F" and li.household_id == zhang.household_id
    wang = Person.objects.get(id_number="42132119600101001" + check_char("42132119600101001"))
    assert (wang.sex, wang.birth_date, wang.household.household_no) == ("M", date(1960, 1, 1), "H\\002")
    tags = {(t.person.name, t.code, t.exited, t.start_on, t.end_on, t.source) for t in Tag.objects.all()}
    assert tags == {
        ("张三", "poor", False, date(2024, 1, 1), None, "国家平台"),
        ("张三", "dibao", False, date(2024, 1, 1), None, "国家平台"),
        ("李四", "poor", True, date(2024, 1, 1), None, "国家平台"),
    }
    conditions = {(c.name, c.disease.name if c.disease else None) for c in zhang.conditions.all()}
    assert conditions == {("高血压", "高血压"), ("糖尿病", "2型糖尿病")}
    record = SourceRecord.objects.get(person=zhang, source="国家平台")
    assert (record.year, record.tags, record.conditions, record.active) == (
        2024,
        "低保、建档立卡",
        "糖尿病、高血压",
        True,
    )
    assert Membership.objects.filter(person=zhang, end_on=None, start_on=date(2024, 1, 1)).count() == 1
    assert ChangeLog.objects.count() == 0


def test_reimport_same_file_changes_nothing(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "a.csv",
        [
            row(pid(1), tags="低保", conditions="高血压、怪病"),
            row(pid(2), "李四"),
            row(pid(3), "王五", household=""),
        ],
    )
    first = run(f, tmp_path)
    assert (first["created"], first["warnings"]) == (3, 1)
    before = counts()
    again = run(f, tmp_path)
    assert again == {**first, "created": 0, "updated": 0, "unchanged": 3}
    assert counts() == before


@pytest.mark.parametrize(
    ("cells", "column", "reason_part"),
    [
        (row(pid(5)[:17] + ("0" if pid(5)[17] != "0" else "1")), "身份证号", "校验码"),
        (row(pid(5)[:16]), "身份证号", "18位"),
        (row("4213211960023100" + "1" + "X"), "身份证号", "不存在"),
        (row(make_id_number("421321", date(2024, 7, 1), 5)), "身份证号", "将来"),
        (row(""), "身份证号", "为空"),
        (row(pid(5), name=""), "姓名", "为空"),
        (row(pid(5), name="=HYPERLINK(1)"), "姓名", "开头"),
        (row(pid(5), name="@张"), "姓名", "开头"),
        (row(pid(5), name="张\x07三"), "姓名", "控制字符"),
        (row(pid(5), name="张" * 51), "姓名", "50"),
        (row(pid(5), village="421321009009"), "村代码", "不存在"),
        (row(pid(5), village="421321001000"), "村代码", "不存在"),
        (row(pid(5), tags="低保、富翁"), "人员类别", "富翁"),
        (row(pid(5), phone="138abc"), "联系电话", "字母"),
    ],
)
def test_each_invalid_row_rule(
    diseases: Any, tmp_path: Path, cells: list[str], column: str, reason_part: str
) -> None:
    f = write_csv(tmp_path / "bad.csv", [row(pid(1)), cells])
    summary = run(f, tmp_path)
    assert (summary["rows"], summary["valid"], summary["invalid"], summary["created"]) == (2, 1, 1, 1)
    lines = report_lines(summary["errors_file"])
    assert lines[0] == ("行号", "列", "值", "原因")
    assert len(lines) == 2
    number, col, value, reason = lines[1]
    assert (number, col) == (3, column)
    assert reason_part in reason
    written = visible(cells[HEADER.index(column)])
    assert value in (written, "'" + written)
    assert Person.objects.count() == 1


def test_formula_value_is_escaped_in_error_report(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "bad.csv", [row(pid(1), name="=cmd|' /C calc'!A0")])
    summary = run(f, tmp_path)
    lines = report_lines(summary["errors_file"])
    assert lines[1][2] == "'=cmd|' /C calc'!A0"


def test_conflicting_duplicates_invalidate_every_such_row(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "dup.csv",
        [
            row(pid(1), "张三"),
            row(pid(2), "李四"),
            row(pid(1), "张叁"),
            row(pid(3), "王五", household="H9"),
            row(pid(3), "王五", household="H8"),
        ],
    )
    summary = run(f, tmp_path)
    assert (summary["rows"], summary["valid"], summary["invalid"], summary["created"]) == (5, 1, 4, 1)
    rows = sorted(line[0] for line in report_lines(summary["errors_file"])[1:])
    assert rows == [2, 4, 5, 6]
    assert list(Person.objects.values_list("name", flat=True)) == ["李四"]


def test_identical_repeated_rows_count_once(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "dup.csv", [row(pid(1)), row(pid(1)), row(pid(2), "李四"), row(pid(1))])
    summary = run(f, tmp_path)
    assert summary == {
        "rows": 4,
        "valid": 4,
        "invalid": 0,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    assert Person.objects.count() == 2 and SourceRecord.objects.count() == 2


def test_blank_rows_are_not_counted(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "blank.csv", [row(pid(1)), [""] * 8, row(pid(2), "李四"), [" "] * 8])
    assert run(f, tmp_path)["rows"] == 2


def test_later_year_list_ends_dropped_tags_and_deactivates_source(diseases: Any, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path / "2023.csv", [row(pid(1), tags="建档立卡、低保"), row(pid(2), "李四", tags="特困")]
    )
    run(first, tmp_path, year=2023)
    same_year = write_csv(tmp_path / "2023b.csv", [row(pid(1), tags="建档立卡")])
    run(same_year, tmp_path, year=2023)
    assert Tag.objects.filter(end_on__isnull=False).count() == 0  # a same-year list ends nothing
    later = write_csv(tmp_path / "2024.csv", [row(pid(1), tags="建档立卡")])
    summary = run(later, tmp_path, year=2024)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 1)
    ended = {(t.person.name, t.code): t.end_on for t in Tag.objects.all()}
    assert ended == {
        ("张三", "poor"): None,
        ("张三", "dibao"): date(2023, 12, 31),
        ("李四", "tekun"): date(2023, 12, 31),
    }
    records = {r.person.name: (r.active, r.year) for r in SourceRecord.objects.all()}
    assert records == {"张三": (True, 2024), "李四": (False, 2023)}
    back = write_csv(tmp_path / "2025.csv", [row(pid(1), tags="建档立卡"), row(pid(2), "李四", tags="特困")])
    summary = run(back, tmp_path, year=2025, today=date(2025, 3, 1))
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    tekun = Tag.objects.filter(person__name="李四").order_by("start_on")
    assert [(t.start_on, t.end_on) for t in tekun] == [
        (date(2023, 1, 1), date(2023, 12, 31)),
        (date(2025, 1, 1), None),
    ]


def test_provenance_per_source_and_other_sources_untouched(diseases: Any, tmp_path: Path) -> None:
    run(write_csv(tmp_path / "a.csv", [row(pid(1), tags="低保")]), tmp_path, source="国家平台")
    summary = run(
        write_csv(tmp_path / "b.csv", [row(pid(1), tags="特困", phone="")]), tmp_path, source="省系统"
    )
    assert (summary["created"], summary["updated"]) == (0, 1)  # gained a source
    records = {r.source: (r.tags, r.phone) for r in SourceRecord.objects.all()}
    assert records == {"国家平台": ("低保", "13800000000"), "省系统": ("特困", "")}
    assert Person.objects.get().phone == "13800000000"  # a blank value does not erase
    assert set(Tag.objects.values_list("source", "code")) == {("国家平台", "dibao"), ("省系统", "tekun")}
    run(
        write_csv(tmp_path / "b2.csv", [row(pid(2), "李四")]),
        tmp_path,
        source="省系统",
        year=2025,
        today=date(2025, 1, 2),
    )
    assert SourceRecord.objects.get(source="国家平台").active  # another source's later list is not this one's


def test_changes_are_logged_and_household_membership_moves(
    diseases: Any, tmp_path: Path, make_user: Any
) -> None:
    run(write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四")]), tmp_path)
    user = make_user("county_admin", "421321")
    changed = write_csv(
        tmp_path / "b.csv",
        [row(pid(1), "张小三", village=V3, household="H777", phone="13900000000"), row(pid(2), "李四")],
    )
    summary = run(changed, tmp_path, user=user, today=date(2024, 9, 10))
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    log = {(c.field, c.old_value, c.new_value, c.source, c.user_id) for c in ChangeLog.objects.all()}
    assert log == {
        ("name", "张三", "张小三", "国家平台", user.pk),
        ("village", V1, V3, "国家平台", user.pk),
        ("household", "H001", "H777", "国家平台", user.pk),
        ("phone", "13800000000", "13900000000", "国家平台", user.pk),
    }
    person = Person.objects.get(id_number=pid(1))
    assert (person.name, person.village_id, person.household.household_no) == ("张小三", V3, "H777")
    assert person.household.village_id == V3
    history = [
        (m.household.household_no, m.start_on, m.end_on) for m in person.memberships.order_by("start_on")
    ]
    assert history == [("H001", date(2024, 1, 1), date(2024, 9, 9)), ("H777", date(2024, 9, 10), None)]
    before = counts()
    assert run(changed, tmp_path, today=date(2024, 9, 10))["updated"] == 0
    assert counts() == before


def test_confirmed_person_keeps_canonical_fields(diseases: Any, tmp_path: Path) -> None:
    run(write_csv(tmp_path / "a.csv", [row(pid(1))]), tmp_path)
    Person.objects.update(verification_status=VerificationStatus.CONFIRMED)
    summary = run(write_csv(tmp_path / "b.csv", [row(pid(1), "张叁", tags="低保")]), tmp_path)
    assert summary["updated"] == 1
    assert Person.objects.get().name == "张三"
    assert ChangeLog.objects.count() == 0
    assert SourceRecord.objects.get().name == "张叁"
    assert Tag.objects.filter(code="dibao").exists()


def test_unknown_disease_is_kept_unmatched_with_a_warning(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "a.csv",
        [row(pid(1), conditions="尿毒症、罕见病甲"), row(pid(2), "李四", conditions="罕见病甲，罕见病乙")],
    )
    summary = run(f, tmp_path)
    assert (summary["warnings"], summary["invalid"], summary["errors_file"]) == (3, 0, None)
    matched = {
        (c.person.name, c.name): (c.disease.name if c.disease else None) for c in Condition.objects.all()
    }
    assert matched == {
        ("张三", "尿毒症"): "终末期肾病",
        ("张三", "罕见病甲"): None,
        ("李四", "罕见病甲"): None,
        ("李四", "罕见病乙"): None,
    }


def test_gbk_csv_from_excel_with_english_headers(diseases: Any, tmp_path: Path) -> None:
    english = ["id_number", "name", "village_code", "household_no", "relation", "tags", "conditions", "phone"]
    gbk = write_csv(tmp_path / "gbk.csv", [row(pid(1), "欧阳娜娜", tags="监测对象")], encoding="gbk")
    assert run(gbk, tmp_path)["created"] == 1
    eng = write_csv(tmp_path / "en.csv", [row(pid(2), "李四")], header=english, encoding="utf-8-sig")
    assert run(eng, tmp_path)["created"] == 1
    assert set(Person.objects.values_list("name", flat=True)) == {"欧阳娜娜", "李四"}


def test_xlsx_built_with_openpyxl(diseases: Any, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append([pid(1), "张三", int(V1), "H001", "户主", "低保", "", 13800000000])
    sheet.append([None] * 8)
    sheet.append([pid(2), "李四", V1, "H001", "配偶", "", "高血压", None])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    summary = run(path, tmp_path)
    assert (summary["rows"], summary["valid"], summary["created"]) == (2, 2, 2)
    assert Person.objects.get(id_number=pid(1)).phone == "13800000000"


def test_file_level_errors_write_nothing(diseases: Any, tmp_path: Path) -> None:
    missing = write_csv(tmp_path / "m.csv", [["x", "y"]], header=["身份证号", "电话"])
    with pytest.raises(TableError) as caught:
        run(missing, tmp_path)
    assert "姓名" in caught.value.zh and "name" in caught.value.en
    with pytest.raises(TableError):
        run(tmp_path / "nope.csv", tmp_path)
    with pytest.raises(TableError):
        run(write_csv(tmp_path / "a.csv", [row(pid(1))]), tmp_path, source="")
    assert counts() == (0, 0, 0, 0, 0, 0, 0)


def test_interrupted_import_leaves_nothing_half_written(diseases: Any, tmp_path: Path) -> None:
    run(write_csv(tmp_path / "a.csv", [row(pid(1))]), tmp_path)
    before = counts()
    names_before = list(Person.objects.values_list("name", flat=True))

    def explode(percent: int) -> None:
        if percent >= 85:  # after persons and source records were written, before tags
            raise KeyboardInterrupt

    changed = write_csv(tmp_path / "b.csv", [row(pid(1), "张叁", tags="低保"), row(pid(2), "李四")])
    with pytest.raises(KeyboardInterrupt):
        run(changed, tmp_path, progress=explode)
    assert counts() == before
    assert list(Person.objects.values_list("name", flat=True)) == names_before
    summary = run(changed, tmp_path)
    assert (summary["created"], summary["updated"]) == (1, 1)


def test_progress_reaches_100(diseases: Any, tmp_path: Path) -> None:
    seen: list[int] = []
    run(write_csv(tmp_path / "a.csv", [row(pid(1))]), tmp_path, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 100


def test_command_json_is_exactly_one_object(diseases: Any, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    f = write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四", tags="外星人")])
    out = StringIO()
    call_command("import_roster", str(f), "--source", "扶贫办", "--year", "2024", "--json", stdout=out)
    text = out.getvalue().strip()
    data = json.loads(text)
    assert list(data) == [
        "rows",
        "valid",
        "invalid",
        "created",
        "updated",
        "unchanged",
        "warnings",
        "errors_file",
    ]
    assert {k: v for k, v in data.items() if k != "errors_file"} == {
        "rows": 2,
        "valid": 1,
        "invalid": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
    }
    assert Path(data["errors_file"]).parent == tmp_path / "imports" / "errors"
    assert text.count("\n") == 0
    run_row = ImportRun.objects.get()
    assert (run_row.kind, run_row.source, run_row.year, run_row.status) == (
        "roster",
        "扶贫办",
        2024,
        ImportStatus.DONE,
    )
    assert run_row.summary == data
    out = StringIO()
    call_command("import_roster", str(f), "--source", "扶贫办", "--year", "2024", stdout=out)
    assert "新增0" in out.getvalue() and "0 created" in out.getvalue()


def test_command_file_error_exits_2(diseases: Any, tmp_path: Path) -> None:
    bad = tmp_path / "list.pdf"
    bad.write_bytes(b"%PDF")
    with pytest.raises(CommandError) as caught:
        call_command("import_roster", str(bad), "--source", "扶贫办", "--json", stdout=StringIO())
    assert caught.value.returncode == 2
    assert "不支持" in str(caught.value) and "unsupported" in str(caught.value)
    assert Person.objects.count() == 0
    assert ImportRun.objects.get().status == ImportStatus.FAILED


def test_an_older_list_of_a_source_is_refused_after_a_newer_one(diseases: Any, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "a.csv", [row(pid(11), "张三"), row(pid(12), "李四", household="H002")])
    run(f, tmp_path, year=2024)
    later = write_csv(tmp_path / "b.csv", [row(pid(11), "张三")])
    run(later, tmp_path, year=2025, today=date(2025, 3, 1))
    ended = Tag.objects.get(person__id_number=pid(12), source="国家平台")
    assert ended.end_on == date(2024, 12, 31)
    tags_before = list(Tag.objects.order_by("id").values_list("id", "end_on"))
    with pytest.raises(TableError) as refused:
        run(f, tmp_path, year=2023, today=date(2025, 3, 1))
    assert "2025" in refused.value.zh and "2023" in refused.value.zh
    # Nothing reopened, nothing written.
    assert list(Tag.objects.order_by("id").values_list("id", "end_on")) == tags_before
    assert not SourceRecord.objects.get(person__id_number=pid(12), source="国家平台").active
    # The same year again, and another source's older list, are still fine.
    assert run(later, tmp_path, year=2025, today=date(2025, 3, 1))["invalid"] == 0
    assert run(f, tmp_path, source="县扶贫办", year=2023, today=date(2025, 3, 1))["created"] == 0


def test_a_user_imports_only_into_villages_of_their_region(
    diseases: Any, tmp_path: Path, make_user: Any
) -> None:
    township1 = make_user("township", "421321001000")
    f = write_csv(tmp_path / "a.csv", [row(pid(11), "张三", village=V1), row(pid(12), "李四", village=V3)])
    summary = run(f, tmp_path, user=township1)
    assert (summary["valid"], summary["invalid"], summary["created"]) == (1, 1, 1)
    assert not Person.objects.filter(id_number=pid(12)).exists()
    lines = report_lines(summary["errors_file"])
    assert any(line[1] == "村代码" and "管辖范围" in str(line[3]) for line in lines[1:])
    # The command line (no user) may write to every village of the database.
    assert run(f, tmp_path)["created"] == 1


def test_a_countys_list_reimported_in_a_city_compares_its_own_villages(diseases: Any, tmp_path: Path) -> None:
    # Two counties share the source (issue 21): re-importing one county's unchanged list changes nothing,
    # a changed person is found, and a person of the other county named by this list (moved here) is
    # updated, although the comparison reads only this county's records.
    from jkfp.regions.models import Region, RegionLevel

    other = Region.objects.create(code="421381", name="广水市", level=RegionLevel.COUNTY)
    town = Region.objects.create(
        code="421381001000", name="广水1镇", level=RegionLevel.TOWNSHIP, parent=other
    )
    Region.objects.create(code="421381001001", name="广水1村", level=RegionLevel.VILLAGE, parent=town)
    here = write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四", village=V2)])
    there = write_csv(
        tmp_path / "b.csv",
        [
            row(pid(7), "赵六", village="421381001001", household="G1"),
            row(pid(8), "钱七", village="421381001001"),
        ],
    )
    assert run(here, tmp_path)["created"] == 2
    assert run(there, tmp_path)["created"] == 2
    before = counts()
    assert run(here, tmp_path)["unchanged"] == 2
    assert counts() == before
    moved = write_csv(
        tmp_path / "a2.csv",
        [
            row(pid(1), phone="13900000000"),
            row(pid(2), "李四", village=V2),
            row(pid(7), "赵六", household="G9"),
        ],
    )
    again = run(moved, tmp_path)
    assert (again["updated"], again["unchanged"]) == (2, 1)
    assert Person.objects.get(id_number=pid(7)).village_id == V1
    assert Person.objects.get(id_number=pid(1)).phone == "13900000000"
    assert run(there, tmp_path)["unchanged"] == 1  # 钱七; 赵六 is named by both counties' lists now


def test_a_countys_records_read_by_key_are_the_records_the_join_reads(
    diseases: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21: a county's list that is a small share of the registry reads its records' persons by key
    # (PostgreSQL) instead of joining every person of the province: the same lines, the same re-import.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jkfp.regions.models import Region, RegionLevel
    from jkfp.registry import roster_diff

    other = Region.objects.create(code="421381", name="广水市", level=RegionLevel.COUNTY)
    town = Region.objects.create(
        code="421381001000", name="广水1镇", level=RegionLevel.TOWNSHIP, parent=other
    )
    Region.objects.create(code="421381001001", name="广水1村", level=RegionLevel.VILLAGE, parent=town)
    here = write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四", village=V2, phone="13900000001")])
    there = write_csv(tmp_path / "b.csv", [row(pid(7), "赵六", village="421381001001")])
    assert run(here, tmp_path)["created"] == 2
    assert run(there, tmp_path)["created"] == 1
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE registry_person")  # the share is of the planner's row estimate
    monkeypatch.setattr(roster_diff, "PROBE_SHARE", 10.0)  # every list is a "small share"
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        read = {
            listed: roster_diff._existing_lines(
                cursor, source="国家平台", year=2024, postgres=postgres, counties=["421321"], listed=listed
            )
            for listed in (2, None)
        }
    # Which read ran: by key on PostgreSQL only (SQLite has no such plan to avoid).
    by_key = [
        "(SELECT p.id_number" in q["sql"]
        for q in queries.captured_queries
        if "string_agg" in q["sql"] or "group_concat" in q["sql"]
    ]
    assert by_key == ([True, False] if postgres else [False, False])
    assert read[2] == read[None]
    assert sorted(line.split("\t")[0] for line in read[2]) == [pid(1), pid(2)]
    assert any(line.endswith("\t13900000001") for line in read[2])
    assert run(here, tmp_path)["unchanged"] == 2
    changed = write_csv(
        tmp_path / "a2.csv", [row(pid(1), phone="13900000002"), row(pid(2), "李四", village=V2)]
    )
    again = run(changed, tmp_path)
    assert (again["updated"], again["unchanged"]) == (2, 0)
    assert Person.objects.get(id_number=pid(1)).phone == "13900000002"


def test_a_countys_later_list_ends_its_own_persons_tags_only(diseases: Any, tmp_path: Path) -> None:
    # Issue 21: in a deployment of several counties, county A's 2025 list of a source ends the 2024 tags
    # and records of the A persons it no longer names — never those of county B's persons.
    from jkfp.regions.models import Region, RegionLevel

    other = Region.objects.create(code="421381", name="广水市", level=RegionLevel.COUNTY)
    town = Region.objects.create(
        code="421381001000", name="广水1镇", level=RegionLevel.TOWNSHIP, parent=other
    )
    Region.objects.create(code="421381001001", name="广水1村", level=RegionLevel.VILLAGE, parent=town)
    run(write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四", village=V2)]), tmp_path)
    run(
        write_csv(tmp_path / "b.csv", [row(pid(7), "赵六", village="421381001001", household="G1")]), tmp_path
    )
    later = run(write_csv(tmp_path / "a25.csv", [row(pid(1))]), tmp_path, year=2025, today=date(2025, 3, 1))
    assert later["unchanged"] + later["updated"] == 1
    dropped = Tag.objects.get(person__id_number=pid(2), source="国家平台")
    assert dropped.end_on == date(2024, 12, 31)
    assert not SourceRecord.objects.get(person__id_number=pid(2), source="国家平台").active
    kept = Tag.objects.get(person__id_number=pid(7), source="国家平台")
    assert kept.end_on is None
    assert SourceRecord.objects.get(person__id_number=pid(7), source="国家平台").active


def test_a_county_list_cannot_move_another_countys_resident(
    diseases: Any, two_counties: dict[str, Any], tmp_path: Path, make_user: Any
) -> None:
    """S4: county A's list naming county B's resident (by ID number) makes that row invalid, with the
    reason and the row; B's person is unchanged; the other rows are imported."""
    b_village = two_counties["b_t1v1"].code
    theirs = pid(90)
    run(write_csv(tmp_path / "b.csv", [row(theirs, "曾某", village=b_village, household="B01")]), tmp_path)
    run(write_csv(tmp_path / "a0.csv", [row(pid(1), "张三")]), tmp_path)  # A already has someone
    user = make_user("county_admin", "421321")
    rows = [row(pid(1), "张三改", phone="13900000000"), row(theirs, "冒名", village=V3), row(pid(2), "李四")]
    summary = run(write_csv(tmp_path / "a.csv", rows), tmp_path, user=user)
    assert (summary["rows"], summary["valid"], summary["invalid"]) == (3, 2, 1)
    assert (summary["created"], summary["updated"]) == (1, 1)
    lines = report_lines(summary["errors_file"])
    assert [(r[0], r[2]) for r in lines[1:]] == [(3, theirs)]
    assert "此人属于其他县（区），不能由本县名单修改" in str(lines[1])
    person = Person.objects.get(id_number=theirs)
    assert (person.name, person.village_id, person.household.household_no) == ("曾某", b_village, "B01")
    assert not ChangeLog.objects.filter(person=person).exists()
    assert Person.objects.get(id_number=pid(1)).name == "张三改"
    assert Person.objects.filter(id_number=pid(2), village_id=V1).exists()
