"""Contract and follow-up imports: the columns and rules of issue 5 item 7, the error report, atomicity."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import Workbook, load_workbook

from jkfp.care import imports
from jkfp.care.models import Contract, FollowUp, FollowUpItem, Schedule, Team, TeamMember
from jkfp.care.tests.conftest import TODAY, CareWorld
from jkfp.core import importing
from jkfp.registry.models import Condition

pytestmark = pytest.mark.django_db
CONTRACT_HEADER = "身份证号,签约日期,到期日期,团队,家庭医生\n"
FOLLOWUP_HEADER = "身份证号,随访日期,疾病,方式,收缩压,舒张压,空腹血糖,医生\n"


def _report(path: str | None) -> list[tuple]:
    assert path is not None
    return list(load_workbook(path).active.iter_rows(min_row=2, values_only=True))


def test_contracts_import_creates_unknown_team_and_doctor_with_warnings(
    cw: CareWorld, tmp_path: Path
) -> None:
    zhang, li = cw.persons["zhang"], cw.persons["li"]
    path = tmp_path / "签约.csv"
    path.write_text(
        CONTRACT_HEADER
        + f"{zhang.id_number},2026-01-05,2026-12-31,第1镇一队,村医甲\n"
        + f"{li.id_number},2026-01-06,2026-12-31,第1镇二队,新医生\n"
        + "11010519491231002X,2026-01-05,2026-12-31,第1镇一队,村医甲\n"  # valid ID, not in roster
        + f"{li.id_number},2026-02-30,2026-12-31,第1镇一队,\n"
        + f"{zhang.id_number},2026-03-01,2026-02-01,第1镇一队,\n",
        encoding="utf-8",
    )
    summary = imports.contracts_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.valid, summary.invalid, summary.created, summary.warnings) == (
        5,
        2,
        3,
        2,
        2,
    )
    new_team = Team.objects.get(name="第1镇二队")
    assert new_team.township_id == cw.county["t1"].code
    assert TeamMember.objects.get(name="新医生").team == new_team
    reasons = {(row[0], row[1]): row[3] for row in _report(summary.errors_file)}
    assert reasons[(4, "身份证号")] == imports.ERR_NOT_IN_ROSTER
    assert reasons[(5, "签约日期")] == importing.ERR_DATE_IMPOSSIBLE
    assert reasons[(6, "到期日期")] == imports.ERR_END_BEFORE
    assert reasons[(3, "团队")].startswith("警告")
    again = imports.contracts_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (again.created, again.updated, again.unchanged, again.warnings) == (0, 0, 2, 0)
    assert Contract.objects.count() == 2


def test_followups_import_one_visit_serves_two_conditions(cw: CareWorld, tmp_path: Path) -> None:
    zhang, li, zhao = cw.persons["zhang"], cw.persons["li"], cw.persons["zhao"]
    day = TODAY - timedelta(days=10)
    path = tmp_path / "随访.csv"
    path.write_text(
        FOLLOWUP_HEADER
        + f"{zhang.id_number},{day},高血压,家庭,150,95,,村医甲\n"
        + f"{zhang.id_number},{day},糖尿病,家庭,150,95,,村医甲\n"  # alias of 2型糖尿病, same visit
        + f"{li.id_number},{day},高血压,电话,120,130,,村医甲\n"  # systolic below diastolic
        + f"{li.id_number},{day},感冒,门诊,,,,\n"
        + f"{li.id_number},{TODAY + timedelta(days=3)},高血压,门诊,,,,\n"
        + f"{li.id_number},{day},高血压,上门,,,,\n"
        + f"{li.id_number},{day},高血压,门诊,130,80,abc,\n"
        + f"{zhao.id_number},{day},冠心病,门诊,130,80,5.2,钱医生\n",  # new condition, new doctor
        encoding="utf-8",
    )
    summary = imports.followups_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.invalid, summary.created) == (8, 5, 2)
    assert summary.warnings == 2  # 钱医生 created, 冠心病 added to 赵六's conditions
    visit = FollowUp.objects.get(person=zhang)
    assert set(visit.items.values_list("disease__name", flat=True)) == {"高血压", "2型糖尿病"}
    htn = Schedule.objects.get(person=zhang, disease=cw.diseases["高血压"])
    assert htn.last_classification == "uncontrolled" and htn.due_on == day + timedelta(days=14)
    assert visit.next_on == day + timedelta(days=14)
    assert Condition.objects.filter(person=zhao, disease=cw.diseases["冠心病"]).exists()
    assert Schedule.objects.filter(person=zhao, disease=cw.diseases["冠心病"]).exists()
    reasons = {(row[0], row[1]) for row in _report(summary.errors_file)}
    assert {(4, "收缩压"), (5, "疾病"), (6, "随访日期"), (7, "方式"), (8, "空腹血糖")} <= reasons
    again = imports.followups_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert FollowUpItem.objects.count() == 3


def test_conflicting_rows_of_one_visit_are_all_invalid(cw: CareWorld, tmp_path: Path) -> None:
    zhang = cw.persons["zhang"]
    path = tmp_path / "随访.csv"
    path.write_text(
        FOLLOWUP_HEADER
        + f"{zhang.id_number},{TODAY},高血压,家庭,150,95,,\n"
        + f"{zhang.id_number},{TODAY},2型糖尿病,家庭,130,80,,\n",
        encoding="utf-8",
    )
    summary = imports.followups_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.invalid, summary.created) == (2, 0)
    assert not FollowUp.objects.exists()


def test_xlsx_and_the_json_command(cw: CareWorld, tmp_path: Path, settings: object) -> None:
    settings.IMPORT_DIR = tmp_path  # type: ignore[attr-defined]
    book = Workbook()
    sheet = book.active
    sheet.append(["身份证号", "随访日期", "疾病", "方式", "收缩压", "舒张压", "空腹血糖", "医生"])
    sheet.append([cw.persons["li"].id_number, TODAY, "高血压", "门诊", 135, 85, None, "村医甲"])
    path = tmp_path / "随访.xlsx"
    book.save(path)
    out = StringIO()
    call_command("import_followups", str(path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert list(result) == [
        "rows",
        "valid",
        "invalid",
        "created",
        "updated",
        "unchanged",
        "warnings",
        "errors_file",
    ]
    assert (result["rows"], result["created"], result["errors_file"]) == (1, 1, None)
    assert Schedule.objects.get(person=cw.persons["li"], disease=cw.diseases["高血压"]).last_visit_on == TODAY


def test_missing_column_refuses_the_file(cw: CareWorld, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "签约.csv"
    path.write_text("身份证号,签约日期\n", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("import_contracts", str(path), "--json")
    assert info.value.returncode == 2 and not Contract.objects.exists()


def test_a_failure_while_writing_leaves_nothing(
    cw: CareWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "随访.csv"
    path.write_text(
        FOLLOWUP_HEADER + f"{cw.persons['zhao'].id_number},{TODAY},冠心病,门诊,,,,新医生\n", encoding="utf-8"
    )

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "followups_write", boom)
    with pytest.raises(RuntimeError):
        imports.followups_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert not TeamMember.objects.filter(name="新医生").exists()
    assert not Condition.objects.filter(person=cw.persons["zhao"], disease=cw.diseases["冠心病"]).exists()


def test_contract_dates_are_checked(cw: CareWorld) -> None:
    assert importing.parse_date("2026年2月3日") == (date(2026, 2, 3), "")
    assert importing.parse_date("20260230") == (None, importing.ERR_DATE_IMPOSSIBLE)
    assert importing.parse_date("03/02/2026") == (None, importing.ERR_DATE_FORMAT)
