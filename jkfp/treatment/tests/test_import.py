"""大病救治导入 cases_import and `jkfp import-cases`: every invalid-row rule, upsert, idempotency, report."""

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

from jkfp.core.idnumber import make_id_number
from jkfp.core.tabular import TableError
from jkfp.regions.models import Institution
from jkfp.registry.models import ImportRun
from jkfp.treatment import imports
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import DesignatedHospital, MajorDiseaseCase

pytestmark = pytest.mark.django_db

HEADER = ["身份证号", "病种", "确诊医院", "确诊日期", "定点医院", "救治状态", "未救治原因"]
TODAY = date(2024, 6, 1)


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def report(path: str | None) -> list[tuple[Any, ...]]:
    assert path is not None
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(workbook.active.iter_rows(values_only=True))
    finally:
        workbook.close()
    assert rows[0] == ("行号", "列", "值", "原因")
    return rows[1:]


def test_valid_rows_are_created_then_unchanged_then_updated(tw: Any, county: Any, tmp_path: Path) -> None:
    zhang, wang = tw.persons["zhang"].id_number, tw.persons["wang"].id_number
    rows = [
        [zhang, "肺癌", "随县人民医院", "2024-03-05", "H001", "救治中", ""],
        [wang, "尿毒症", "H002", "2024/1/9", "", "未救治", "透析治疗中，费用尚未报销"],
        [wang, "白内障", "", "20240210", "随县人民医院", "treated", ""],
    ]
    path = write_csv(tmp_path / "cases.csv", rows)
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert summary.as_dict() == {
        "rows": 3,
        "valid": 3,
        "invalid": 0,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    lung = MajorDiseaseCase.objects.get(person=tw.persons["zhang"], disease=tw.diseases["肺癌"])
    assert (
        lung.status,
        lung.diagnosed_on,
        lung.diagnosis_institution_id,
        lung.designated_institution_id,
    ) == ("in_treatment", date(2024, 3, 5), "H001", "H001")
    kidney = MajorDiseaseCase.objects.get(person=tw.persons["wang"], disease=tw.diseases["终末期肾病"])
    assert (kidney.status, kidney.untreated_reason, kidney.diagnosis_hospital_name) == (
        "untreated",
        "dialysis_claim_pending",
        "第1镇卫生院",
    )
    again = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    rows[0][5] = "已救治"
    changed = cases_import(path=write_csv(tmp_path / "cases2.csv", rows), errors_dir=tmp_path, today=TODAY)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    lung.refresh_from_db()
    assert lung.status == "treated"


def test_existing_case_status_change_clears_the_reason(tw: Any, tmp_path: Path) -> None:
    zhang = tw.persons["zhang"].id_number
    path = write_csv(tmp_path / "c.csv", [[zhang, "终末期肾病", "", "2024-03-01", "", "已救治", ""]])
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.created, summary.updated) == (0, 1)
    case = MajorDiseaseCase.objects.get(pk=tw.cases["zhang"].pk)
    assert (case.status, case.untreated_reason) == ("treated", "")
    # A blank hospital cell keeps the designated hospital already recorded.
    assert case.designated_institution_id == "H001"


def test_every_invalid_row_rule(tw: Any, county: Any, tmp_path: Path) -> None:
    Institution.objects.create(
        code="H003", name="随县人民医院", level="2"
    )  # a second institution of that name
    zhang, wang, zhao = (tw.persons[k].id_number for k in ("zhang", "wang", "zhao"))
    unknown_person = make_id_number("421321", date(1970, 1, 1), 77)
    bad_check = zhang[:17] + ("0" if zhang[17] != "0" else "1")
    rows = [
        [bad_check, "肺癌", "", "2024-01-01", "", "已救治", ""],  # 2: ID check character
        [unknown_person, "肺癌", "", "2024-01-01", "", "已救治", ""],  # 3: not in the roster
        [zhang, "感冒", "", "2024-01-01", "", "已救治", ""],  # 4: unknown disease
        [zhang, "高血压", "", "2024-01-01", "", "已救治", ""],  # 5: a chronic, not a major disease
        [zhang, "肺癌", "", "2023-02-30", "", "已救治", ""],  # 6: impossible date
        [zhang, "肺癌", "", "2099-01-01", "", "已救治", ""],  # 7: future date
        [zhang, "肺癌", "", "1950-01-01", "", "已救治", ""],  # 8: before birth
        [zhang, "肺癌", "", "三月", "", "已救治", ""],  # 9: unreadable date
        [zhang, "肺癌", "", "", "", "已救治", ""],  # 10: empty date
        [zhang, "肺癌", "", "2024-01-01", "", "治好了", ""],  # 11: unknown status
        [zhang, "肺癌", "", "2024-01-01", "", "未救治", ""],  # 12: untreated without reason
        [zhang, "肺癌", "省医院", "2024-01-01", "", "已救治", ""],  # 13: unknown diagnosis hospital
        [zhang, "肺癌", "", "2024-01-01", "X999", "已救治", ""],  # 14: unknown designated hospital
        [zhang, "肺癌", "随县人民医院", "2024-01-01", "", "已救治", ""],  # 15: ambiguous hospital name
        [wang, "肺癌", "", "2024-01-01", "", "已救治", ""],  # 16: conflicts with 17
        [wang, "肺癌", "", "2024-01-01", "", "救治中", ""],  # 17
        [zhao, "胃癌", "", "2024-01-01", "", "未救治", "拒\x07绝"],  # 18: control character
        [zhao, "肝癌", "", "2024-01-01", "", "未救治", "原因" * 151],  # 19: reason longer than 300
        [zhao, "白内障", "H002", "2024-01-01", "", "已救治", ""],  # 20: the one valid row
        [zhao, "白内障", "H002", "2024-01-01", "", "已救治", ""],  # 21: identical repeat, valid
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (20, 2, 18, 1)
    problems = {(r[0], r[1]): r[3] for r in report(summary.errors_file)}
    expected = {
        (2, "身份证号"): "身份证号不合法：校验码错误",
        (3, "身份证号"): imports.ERR_NOT_IN_ROSTER,
        (4, "病种"): imports.ERR_DISEASE.format(value="感冒"),
        (5, "病种"): imports.ERR_DISEASE.format(value="高血压"),
        (6, "确诊日期"): imports.ERR_DATE_IMPOSSIBLE,
        (7, "确诊日期"): imports.ERR_DATE_FUTURE,
        (8, "确诊日期"): imports.ERR_DATE_BEFORE_BIRTH,
        (9, "确诊日期"): imports.ERR_DATE_FORMAT,
        (10, "确诊日期"): imports.ERR_DATE_EMPTY,
        (11, "救治状态"): imports.ERR_STATUS.format(value="治好了"),
        (12, "未救治原因"): imports.ERR_UNTREATED_REASON,
        (13, "确诊医院"): imports.ERR_HOSPITAL_UNKNOWN.format(value="省医院"),
        (14, "定点医院"): imports.ERR_HOSPITAL_UNKNOWN.format(value="X999"),
        (15, "确诊医院"): imports.ERR_HOSPITAL_AMBIGUOUS.format(value="随县人民医院"),
        (16, "病种"): imports.ERR_CONFLICT.format(rows="16、17"),
        (17, "病种"): imports.ERR_CONFLICT.format(rows="16、17"),
        (18, "未救治原因"): imports.ERR_CONTROL,
        (19, "未救治原因"): imports.ERR_TOO_LONG.format(limit=300),
    }
    for key, reason in expected.items():
        assert problems[key].startswith(reason), (key, problems.get(key))
    assert len(problems) == len(expected)
    # Only the valid row was written.
    assert set(MajorDiseaseCase.objects.values_list("person__name", "disease__name")) == {
        ("张三", "终末期肾病"),
        ("王五", "肺癌"),
        ("赵六", "脑卒中"),
        ("赵六", "白内障"),
    }
    assert MajorDiseaseCase.objects.get(person__name="王五", disease__name="肺癌").status == "treated"


def test_error_report_shows_control_characters_and_defuses_formulas(tw: Any, tmp_path: Path) -> None:
    zhao = tw.persons["zhao"].id_number
    path = write_csv(tmp_path / "f.csv", [[zhao, "=cmd|' /C calc'!A0", "", "2024-01-01", "", "已救治", ""]])
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    (row,) = report(summary.errors_file)
    assert row[2] == "'=cmd|' /C calc'!A0"


def test_reason_aliases_free_text_and_ignored_reason_are_warnings(tw: Any, tmp_path: Path) -> None:
    zhao = tw.persons["zhao"].id_number
    rows = [
        [zhao, "胃癌", "", "2024-01-01", "", "untreated", "awaiting_elective_surgery"],
        [zhao, "肝癌", "", "2024-01-01", "", "未救治", "家中无人陪护"],
        [zhao, "肺癌", "", "2024-01-01", "", "无需救治", "本人拒绝治疗"],
        [zhao, "中风", "", "2024-02-01", "", "In_Treatment", ""],  # alias of 脑卒中, status case-insensitive
    ]
    summary = cases_import(path=write_csv(tmp_path / "w.csv", rows), errors_dir=tmp_path, today=TODAY)
    assert (summary.valid, summary.invalid, summary.warnings, summary.created, summary.updated) == (
        4,
        0,
        2,
        3,
        1,
    )
    cases = {c.disease.name: c for c in MajorDiseaseCase.objects.filter(person=tw.persons["zhao"])}
    assert cases["胃癌"].untreated_reason == "awaiting_elective_surgery"
    assert (cases["肝癌"].untreated_reason, cases["肝癌"].reason_note) == ("other", "家中无人陪护")
    assert (cases["肺癌"].status, cases["肺癌"].untreated_reason) == ("not_needed", "")
    assert (cases["脑卒中"].status, cases["脑卒中"].diagnosed_on) == ("in_treatment", date(2024, 2, 1))
    reasons = [r[3] for r in report(summary.errors_file)]
    assert reasons == [imports.WARN_REASON_OTHER, imports.WARN_REASON_IGNORED]


def test_designated_hospital_defaults_from_the_designation_table(
    tw: Any, county: Any, tmp_path: Path
) -> None:
    DesignatedHospital.objects.create(
        disease=tw.diseases["乳腺癌"], institution=county["hospital"], valid_from=date(2020, 1, 1)
    )
    path = write_csv(
        tmp_path / "d.csv", [[tw.persons["zhao"].id_number, "乳腺癌", "", "2024-01-01", "", "已救治", ""]]
    )
    cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    case = MajorDiseaseCase.objects.get(person=tw.persons["zhao"], disease=tw.diseases["乳腺癌"])
    assert case.designated_institution == county["hospital"]


def test_a_user_import_finds_only_persons_of_the_users_region(tw: Any, tmp_path: Path) -> None:
    rows = [
        [tw.persons["zhang"].id_number, "胃癌", "", "2024-01-01", "", "已救治", ""],
        [tw.persons["zhao"].id_number, "胃癌", "", "2024-01-01", "", "已救治", ""],
    ]
    summary = cases_import(
        path=write_csv(tmp_path / "s.csv", rows), user=tw.users["t1"], errors_dir=tmp_path, today=TODAY
    )
    assert (summary.valid, summary.invalid, summary.created) == (1, 1, 1)
    assert [r[:2] for r in report(summary.errors_file)] == [(3, "身份证号")]
    assert MajorDiseaseCase.objects.get(disease__name="胃癌").created_by == tw.users["t1"]


def test_xlsx_with_english_headers_and_real_dates(tw: Any, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "id_number",
            "disease",
            "diagnosis_hospital",
            "diagnosed_on",
            "designated_hospital",
            "status",
            "untreated_reason",
        ]
    )
    sheet.append(
        [tw.persons["wang"].id_number, "食道癌", "H001", date(2024, 2, 29), "H001", "not_needed", None]
    )
    path = tmp_path / "cases.xlsx"
    workbook.save(path)
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.valid, summary.created) == (1, 1, 1)
    case = MajorDiseaseCase.objects.get(disease__name="食管癌")
    assert (case.diagnosed_on, case.status) == (date(2024, 2, 29), "not_needed")


def test_missing_required_column_refuses_the_file(tw: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "m.csv", [[tw.persons["wang"].id_number, "肺癌"]], header=["身份证号", "病种"]
    )
    with pytest.raises(TableError) as exc:
        cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert "确诊日期" in exc.value.zh and "救治状态" in exc.value.zh


def test_command_json_prints_exactly_the_summary(tw: Any, tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_DIR = tmp_path
    rows = [
        [tw.persons["wang"].id_number, "胃癌", "", "2024-01-01", "", "已救治", ""],
        [tw.persons["wang"].id_number, "感冒", "", "2024-01-01", "", "已救治", ""],
    ]
    out = StringIO()
    call_command("import_cases", str(write_csv(tmp_path / "cli.csv", rows)), "--json", stdout=out)
    data = json.loads(out.getvalue())
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
    assert (data["rows"], data["valid"], data["invalid"], data["created"]) == (2, 1, 1, 1)
    assert Path(data["errors_file"]).parent == tmp_path / "errors"
    run = ImportRun.objects.get()
    assert (run.kind, run.status, run.summary) == ("cases", "done", data)


def test_command_unreadable_file_exits_2(tw: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as exc:
        call_command("import_cases", str(tmp_path / "missing.csv"), "--json")
    assert exc.value.returncode == 2 and "文件不存在" in str(exc.value)
    assert MajorDiseaseCase.objects.count() == 3


def test_a_treatment_list_with_its_own_words_imports(tw: Any, county: Any, tmp_path: Path) -> None:
    """Issue 18: 正在救治 (and 不需救治), the national headers and dates in the forms staff write."""
    zhang, wang = tw.persons["zhang"].id_number, tw.persons["wang"].id_number
    path = tmp_path / "救治名单.csv"
    path.write_text(
        "大病专项救治台账,,,,,\n"
        "公民身份号码,病种,确诊医院,确诊日期,定点医院,救治状态\n"
        f"{zhang},肺癌,随县人民医院,2024.3.5,H001,正在救治\n"
        f"{wang},白内障,H002,45301,,不需救治\n",  # an Excel serial day: 2024-01-10
        encoding="utf-8",
    )
    before = set(MajorDiseaseCase.objects.values_list("pk", flat=True))
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.valid, summary.invalid, summary.created) == (2, 0, 2)
    got = {
        (c.person.id_number, c.status, c.diagnosed_on)
        for c in MajorDiseaseCase.objects.select_related("person").exclude(pk__in=before)
    }
    assert got == {(zhang, "in_treatment", date(2024, 3, 5)), (wang, "not_needed", date(2024, 1, 10))}
