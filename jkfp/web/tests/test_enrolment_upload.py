"""导入页：参保名单 The web import page also runs the enrolment import (``jkfp import-enrolment``) in the
background, as the uploader: persons outside the uploader's region are invalid rows naming 身份证号."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.enrolment import ERR_NOT_IN_ROSTER
from jkfp.registry.models import Enrolment, ImportKind, ImportRun, ImportStatus
from jkfp.registry.services import ERR_IMPORT_SUFFIX
from jkfp.web.tests.conftest import IMMEDIATE_TASKS, add_person

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    return settings.IMPORT_DIR


def _upload(client: Client, text: str, name: str = "参保2025.csv", year: int = YEAR) -> Any:
    upload = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("web:import_page"), {"kind": "enrolment", "year": str(year), "file": upload})


def _outsider() -> Any:
    """A person of the neighbouring county (421322): outside the county administrator of 421321."""
    county = Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421322001000", name="邻镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421322001001", name="邻村", level=RegionLevel.VILLAGE, parent=town)
    return add_person(village, "外县人", 41)


def test_enrolment_upload_writes_only_persons_of_the_region(world: Any, login: Any, import_dir: Path) -> None:
    zhang, wang, outsider = world.persons["zhang"], world.persons["wang"], _outsider()
    # The neighbouring county's own record of the outsider: the upload must leave it as it is.
    Enrolment.objects.create(person=outsider, year=YEAR, insured=False, premium_paid=0, subsidy_amount=0)
    client = login(world.users["admin"])
    page = client.get(reverse("web:import_page")).content.decode()
    assert 'id="enrolment-import-form"' in page and "上传参保名单并导入" in page
    text = (
        "身份证号,参保状态,个人缴费,资助金额\n"
        f"{zhang.id_number},已参保,350.00,350.00\n"
        f"{wang.id_number},未参保,0,0\n"
        f"{outsider.id_number},已参保,350.00,0\n"
    )
    response = _upload(client, text)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert (run.kind, run.status, run.progress, run.year, run.user) == (
        ImportKind.ENROLMENT,
        ImportStatus.DONE,
        100,
        YEAR,
        world.users["admin"],
    )
    assert (run.summary["rows"], run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (
        3,
        2,
        1,
        2,
    )
    written = Enrolment.objects.exclude(person=outsider)
    assert set(written.values_list("person__name", "year", "insured", "premium_paid")) == {
        ("张三", YEAR, True, Decimal("350.00")),
        ("王五", YEAR, False, Decimal("0.00")),
    }
    assert list(Enrolment.objects.filter(person=outsider).values_list("insured", "premium_paid")) == [
        (False, Decimal("0.00"))
    ]
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(run.pk)).count() == 1
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert f"导入：参保名单 {YEAR} 年" in html and "导入完成" in html and "新增参保记录" in html
    assert "下载错误报告" in html and "hx-trigger" not in html
    # The error report names the row, the 身份证号 column and the reason.
    report = client.get(reverse("web:import_errors", args=[run.pk]))
    assert report.status_code == 200 and b"".join(report.streaming_content)[:2] == b"PK"
    report.close()
    rows = list(load_workbook(run.errors_file).active.iter_rows(values_only=True))
    # Finding S4: the same words as for an ID nobody has — the upload does not tell that the
    # neighbouring county's person exists.
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [(4, "身份证号", ERR_NOT_IN_ROSTER)]


def test_enrolment_upload_is_county_admin_only(world: Any, login: Any, import_dir: Path) -> None:
    text = f"身份证号,参保状态\n{world.persons['zhang'].id_number},已参保\n"
    for role in ("t1", "doctor", "inspector"):
        assert _upload(login(world.users[role]), text).status_code == 403
    assert not ImportRun.objects.exists() and not Enrolment.objects.exists()


def test_enrolment_upload_errors_name_the_field(world: Any, login: Any, import_dir: Path) -> None:
    client = login(world.users["admin"])
    response = _upload(client, "whatever", name="参保.txt")
    assert response.status_code == 400
    assert "文件：" + ERR_IMPORT_SUFFIX.format(suffix=".txt") in response.content.decode()
    response = _upload(client, f"身份证号,参保状态\n{world.persons['zhang'].id_number},已参保\n", year=2000)
    assert response.status_code == 400 and "参保年度：" in response.content.decode()
    assert not ImportRun.objects.exists()
    # A readable file without the 参保状态 column waits for the mapping step (issue 18), which names
    # the missing column; nothing is written.
    assert _upload(client, f"身份证号,个人缴费\n{world.persons['zhang'].id_number},350\n").status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING and run.summary["mapping"]["missing"] == ["insured"]
    html = client.get(reverse("web:import_mapping", args=[run.pk])).content.decode()
    assert "缺少必需的列：参保状态" in html
    assert not Enrolment.objects.exists()
