"""导入页：慢病卡 The web import page runs a card import (慢病卡) in the background, writing only persons
of the uploader's region, with the summary and the error report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.care.models import ChronicCard
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement.tests.factories import SettleWorld, build_world, make_person
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sw(county: dict[str, Any], make_user: Any) -> SettleWorld:
    return build_world(county, make_user)


def _outsider() -> Any:
    """A person of another county (421322): outside the county administrator of 421321."""
    county = Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421322001000", name="邻镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421322001001", name="邻村", level=RegionLevel.VILLAGE, parent=town)
    return make_person(village, "外县人", 41)


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    disease_catalogue_load()
    return settings.IMPORT_DIR


def test_card_import_runs_in_the_background_only_inside_the_region(sw: SettleWorld, import_dir: Path) -> None:
    client = Client()
    client.force_login(sw.users["admin"])
    text = (
        "身份证号,病种,认定日期,认定机构,有效期至\n"
        f"{sw.persons['poor1'].id_number},高血压,2020-01-10,H001,\n"
        f"{_outsider().id_number},高血压,2020-01-10,H001,\n"
        f"{sw.persons['poor1'].id_number},感冒,2020-01-10,,\n"
    )
    upload = SimpleUploadedFile("慢病卡.csv", text.encode("utf-8"), content_type="text/csv")
    response = client.post(reverse("web:import_page"), {"kind": "cards", "file": upload})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert (run.kind, run.status, run.user) == (ImportKind.CARDS, ImportStatus.DONE, sw.users["admin"])
    assert (run.summary["rows"], run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (
        3,
        1,
        2,
        1,
    )
    assert list(ChronicCard.objects.values_list("person__name", "disease__name")) == [("张三", "高血压")]
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(run.pk)).count() == 1
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入：慢病卡" in html and "新增慢病卡" in html and "下载错误报告" in html
    listing = client.get(reverse("web:import_page")).content.decode()
    assert "上传慢病卡并导入" in listing


def test_card_upload_of_a_wrong_file_type_names_the_field(sw: SettleWorld, import_dir: Path) -> None:
    client = Client()
    client.force_login(sw.users["admin"])
    upload = SimpleUploadedFile("慢病卡.txt", b"x", content_type="text/plain")
    response = client.post(reverse("web:import_page"), {"kind": "cards", "file": upload})
    assert response.status_code == 400
    assert "文件：" in response.content.decode() and not ImportRun.objects.exists()
