"""大病救治变更记录 The change history: creation, status changes and imports each leave exact lines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jkfp.treatment import history, services
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import CaseChange, MajorDiseaseCase
from jkfp.treatment.tests.test_import import TODAY, write_csv

pytestmark = pytest.mark.django_db


def _lines(case: Any) -> list[tuple[str, str, str, str, Any]]:
    return [
        (c.field, c.old_value, c.new_value, c.source, c.user_id)
        for c in CaseChange.objects.filter(case=case).order_by("id")
    ]


def test_service_create_and_status_changes_are_recorded_with_who_and_labels(tw: Any, county: Any) -> None:
    user = tw.users["t1"]
    case = services.treatment_case_create(
        user=user,
        person=tw.persons["zhang"],
        disease=tw.diseases["肺癌"],
        diagnosed_on=date(2024, 5, 2),
        status="in_treatment",
    )
    services.case_status_set(
        user=user, case=case, status="untreated", untreated_reason="refused", reason_note="家属不同意"
    )
    # The same values again change nothing and record nothing.
    services.case_status_set(
        user=user, case=case, status="untreated", untreated_reason="refused", reason_note="家属不同意"
    )
    services.case_status_set(user=tw.users["admin"], case=case, status="treated")
    assert _lines(case) == [
        ("created", "", "救治中", "页面", user.pk),
        ("status", "救治中", "未救治", "页面", user.pk),
        ("untreated_reason", "", "本人拒绝治疗", "页面", user.pk),
        ("reason_note", "", "家属不同意", "页面", user.pk),
        ("status", "未救治", "已救治", "页面", tw.users["admin"].pk),
        ("untreated_reason", "本人拒绝治疗", "", "页面", tw.users["admin"].pk),
        ("reason_note", "家属不同意", "", "页面", tw.users["admin"].pk),
    ]


def test_a_refused_change_leaves_no_history(tw: Any) -> None:
    case = tw.cases["wang"]
    with pytest.raises(Exception, match="未救治原因"):
        services.case_status_set(user=tw.users["t1"], case=case, status="untreated")
    assert _lines(case) == []
    assert MajorDiseaseCase.objects.get(pk=case.pk).status == "treated"


def test_import_records_creations_and_each_changed_field(tw: Any, tmp_path: Path) -> None:
    wang = tw.persons["wang"].id_number
    zhang = tw.persons["zhang"].id_number
    rows = [
        [wang, "白内障", "", "2024-02-10", "随县人民医院", "已救治", ""],
        [zhang, "终末期肾病", "第1镇卫生院", "2024-03-01", "", "救治中", ""],
    ]
    summary = cases_import(path=write_csv(tmp_path / "c.csv", rows), errors_dir=tmp_path, today=TODAY)
    assert (summary.created, summary.updated) == (1, 1)
    cataract = MajorDiseaseCase.objects.get(person=tw.persons["wang"], disease__name="白内障")
    assert _lines(cataract) == [("created", "", "已救治", "导入", None)]
    assert _lines(tw.cases["zhang"]) == [
        ("diagnosis_institution_id", "", "H002", "导入", None),
        ("diagnosis_hospital_name", "", "第1镇卫生院", "导入", None),
        ("status", "未救治", "救治中", "导入", None),
        ("untreated_reason", "透析治疗中，费用尚未报销", "", "导入", None),
    ]
    # Importing the same file again records nothing new.
    cases_import(path=write_csv(tmp_path / "c.csv", rows), errors_dir=tmp_path, today=TODAY)
    assert CaseChange.objects.count() == 5


def test_page_rows_use_the_chinese_field_names(tw: Any) -> None:
    services.case_status_set(user=tw.users["t1"], case=tw.cases["wang"], status="in_treatment")
    rows = history.changes_of(CaseChange.objects.filter(case=tw.cases["wang"]))
    assert [(r["field"], r["old"], r["new"], r["source"]) for r in rows] == [
        ("救治状态", "已救治", "救治中", "页面")
    ]
