"""导入页：基层能力数据 Staff, support, telemedicine and training files run in the background as the uploader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.capacity.models import Staff
from jkfp.capacity.tests.conftest import CapacityWorld, person_id
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.web.tests.conftest import IMMEDIATE_TASKS


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
