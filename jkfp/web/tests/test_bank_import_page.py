"""导入页：银行账号 The web import page runs a subsidy bank-account import (银行账号, issue 19: 打卡发放)
in the background with the upload machinery of the other imports: only persons of the uploader's
region, only the import roles, the summary and the error report; the account is masked on pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus
from jkfp.settlement.models import BankAccount, BankAccountKind
from jkfp.settlement.tests.factories import SettleWorld, build_world, make_person
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sw(county: dict[str, Any], make_user: Any) -> SettleWorld:
    return build_world(county, make_user)


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    return settings.IMPORT_DIR


def _outsider() -> Any:
    """A person of another county (421322): outside the county administrator of 421321."""
    county = Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421322001000", name="邻镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421322001001", name="邻村", level=RegionLevel.VILLAGE, parent=town)
    return make_person(village, "外县人", 41)


def _upload(text: str, name: str = "银行账号.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_bank_account_import_runs_in_the_background_only_inside_the_region(
    sw: SettleWorld, import_dir: Path
) -> None:
    client = Client()
    client.force_login(sw.users["admin"])
    assert "上传银行账号并导入" in client.get(reverse("web:import_page")).content.decode()
    text = (
        "身份证号,银行账号,账户类型,开户银行\n"
        f"{sw.persons['poor1'].id_number},6217 0000 1111 2222,一卡通,建设银行\n"
        f"{_outsider().id_number},6217000011113333,,\n"
        f"{sw.persons['poor2'].id_number},12ab,,\n"
    )
    response = client.post(reverse("web:import_page"), {"kind": "bank_accounts", "file": _upload(text)})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert (run.kind, run.status, run.user) == (
        ImportKind.BANK_ACCOUNTS,
        ImportStatus.DONE,
        sw.users["admin"],
    )
    assert (run.summary["rows"], run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (
        3,
        1,
        2,
        1,
    )
    assert list(BankAccount.objects.values_list("person__name", "account_no", "kind", "bank_name")) == [
        ("张三", "6217000011112222", BankAccountKind.YIKATONG, "建设银行")
    ]
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(run.pk)).count() == 1
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入：银行账号" in html and "新增银行账号" in html and "下载错误报告" in html
    assert "6217000011112222" not in html  # the full account never shows on the run's page


def test_bank_upload_refuses_a_wrong_file_type_and_other_roles(sw: SettleWorld, import_dir: Path) -> None:
    client = Client()
    client.force_login(sw.users["admin"])
    wrong = SimpleUploadedFile("银行账号.txt", b"x", content_type="text/plain")
    response = client.post(reverse("web:import_page"), {"kind": "bank_accounts", "file": wrong})
    assert response.status_code == 400
    assert "文件：" in response.content.decode() and not ImportRun.objects.exists()
    text = f"身份证号,银行账号\n{sw.persons['poor1'].id_number},6217000011112222\n"
    for role in ("clinic", "t1"):
        other = Client()
        other.force_login(sw.users[role])
        response = other.post(reverse("web:import_page"), {"kind": "bank_accounts", "file": _upload(text)})
        assert response.status_code in (400, 403)
    assert not ImportRun.objects.exists() and not BankAccount.objects.exists()


def test_a_bank_list_with_its_own_headers_waits_for_the_mapping_step(
    sw: SettleWorld, import_dir: Path
) -> None:
    """Issue 18: the bank-account upload has the mapping step of every web import (卡主证件号 → 身份证号)."""
    client = Client()
    client.force_login(sw.users["admin"])
    text = f"卡主证件号,银行账号\n{sw.persons['poor1'].id_number},6217000011112222\n"
    assert (
        client.post(reverse("web:import_page"), {"kind": "bank_accounts", "file": _upload(text)}).status_code
        == 302
    )
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING and run.summary["mapping"]["missing"] == ["id_number"]
    url = reverse("web:import_mapping", args=[run.pk])
    assert "缺少必需的列：身份证号" in client.get(url).content.decode()
    assert client.post(url, {"col-0": "id_number", "col-1": "account_no"}).status_code == 302
    run.refresh_from_db()
    assert (run.status, run.summary["created"]) == (ImportStatus.DONE, 1)
    assert list(BankAccount.objects.values_list("account_no", flat=True)) == ["6217000011112222"]
