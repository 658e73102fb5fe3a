"""导入页：基层能力数据 Staff, support, telemedicine and training files run in the background as the uploader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.capacity.imports import TRAINING_COLUMNS
from jkfp.capacity.models import Staff, TrainingAttendance
from jkfp.capacity.tests.conftest import CapacityWorld, person_id
from jkfp.core.tabular_map import parse_mapping
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus, ImportTemplate
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

TRAINING_FIELDS = list(TRAINING_COLUMNS)


def test_staff_upload_runs_in_the_background(
    world: CapacityWorld, make_user: Any, settings: Any, tmp_path: Path
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    client = Client()
    client.force_login(make_user("county_admin", "421321"))
    page = client.get(reverse("web:import_page")).content.decode()
    assert 'id="capacity-import-form"' in page
    text = (
        "身份证号,姓名,机构代码,岗位,资质,证书编号,执业范围,起始日期,终止日期\n"
        f"{person_id(90)},蒋村医,C21,乡村医生,乡村医生证,XC90,,2025-06-15,\n"
        f"{person_id(91)},沈村医,C99,乡村医生,乡村医生证,,,,\n"
    )
    upload = SimpleUploadedFile("人员.csv", text.encode("utf-8"), content_type="text/csv")
    response = client.post(reverse("web:import_page"), {"kind": "staff", "file": upload})
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert (run.kind, run.status, run.summary["valid"], run.summary["invalid"]) == (
        ImportKind.STAFF,
        ImportStatus.DONE,
        1,
        1,
    )
    assert Staff.objects.filter(name="蒋村医", institution_id="C21").exists()
    bad = client.post(reverse("web:import_page"), {"kind": "staff"})
    assert bad.status_code == 400
    assert ImportRun.objects.count() == 1


def test_training_upload_with_an_unknown_level_waits_for_the_mapping_step(
    world: CapacityWorld, make_user: Any, settings: Any, tmp_path: Path
) -> None:
    """Issue 18 item 3 for a capacity list: a 级别 the system does not know (区县级) stops at the mapping
    step; mapped to 县级 the rows import, and the training uploads' template maps it from then on."""
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    client = Client()
    client.force_login(make_user("county_admin", "421321"))
    text = "培训日期,培训主题,主办单位,级别,机构代码,参训人数\n2024-04-10,高血压规范管理,随县卫健局,区县级,C11,2\n"
    upload = SimpleUploadedFile("培训.csv", text.encode("utf-8"), content_type="text/csv")
    assert client.post(reverse("web:import_page"), {"kind": "training", "file": upload}).status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING
    assert run.summary["mapping"]["unknown_values"] == {"level": ["区县级"]}
    assert not TrainingAttendance.objects.exists()
    url = reverse("web:import_mapping", args=[run.pk])
    page = client.get(url).content.decode()
    assert "级别：不认识的值" in page and '<option value="县级">县级</option>' in page
    answer = {f"col-{i}": name for i, name in enumerate(TRAINING_FIELDS)}
    assert client.post(url, {**answer, "val-level-0": "县级"}).status_code == 302
    run.refresh_from_db()
    assert (run.status, run.summary["valid"], run.summary["created"]) == (ImportStatus.DONE, 1, 1)
    attendance = TrainingAttendance.objects.get()
    assert (attendance.training.level, attendance.attendees_count) == ("county", 2)
    template = ImportTemplate.objects.get(kind=ImportKind.TRAINING)
    assert parse_mapping(template.mapping).values == {"级别": {"区县级": "县级"}}
    second = SimpleUploadedFile(
        "培训2.csv", text.replace(",2\n", ",3\n").encode("utf-8"), content_type="text/csv"
    )
    assert client.post(reverse("web:import_page"), {"kind": "training", "file": second}).status_code == 302
    last = ImportRun.objects.latest("pk")
    assert (last.status, last.summary["valid"]) == (ImportStatus.DONE, 1)
    assert TrainingAttendance.objects.get().attendees_count == 3
