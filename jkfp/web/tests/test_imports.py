"""导入页 Import page: roles, upload limit, background task, progress, summary, error report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.core.idnumber import make_id_number
from jkfp.registry.models import ImportRun, ImportStatus, Person, SourceRecord
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

pytestmark = pytest.mark.django_db


def roster_csv(village: str, *, bad_rows: int = 1) -> bytes:
    """A small roster: two valid persons of ``village`` and ``bad_rows`` rows with a wrong check digit."""
    lines = ["身份证号,姓名,村代码,户编号,与户主关系,人员类别,患病情况,联系电话"]
    lines.append(
        f"{make_id_number('421321', date(1955, 3, 1), 901)},钱一,{village},R-1,户主,低保,脑卒中,13800000001"
    )
    lines.append(f"{make_id_number('421321', date(1958, 7, 9), 902)},孙二,{village},R-1,配偶,低保、残疾,,")
    for i in range(bad_rows):
        good = make_id_number("421321", date(1970, 1, 1), 910 + i)
        wrong = good[:17] + ("0" if good[17] != "0" else "1")
        lines.append(f"{wrong},坏{i},{village},R-2,户主,低保,,")
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    return settings.IMPORT_DIR


def _upload(client: Client, content: bytes, name: str = "国家平台.csv", **extra: str) -> Any:
    data = {"source": "国家平台", "year": "2021", **extra}
    data["file"] = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("web:import_page"), data)


def test_county_admin_imports_a_roster_in_the_background(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    client = login(world.users["admin"])
    assert client.get(reverse("web:import_page")).status_code == 200
    response = _upload(client, roster_csv(county["t1v1"].code))
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert run.status == ImportStatus.DONE and run.progress == 100
    assert run.summary["rows"] == 3 and run.summary["valid"] == 2 and run.summary["invalid"] == 1
    assert run.summary["created"] == 2
    assert Path(run.stored_path).is_relative_to(import_dir) and Path(run.stored_path).name == "国家平台.csv"
    assert not Path(run.stored_path).exists(), "the upload is deleted once its import has finished"
    assert not Path(run.stored_path).parent.exists()
    assert Person.objects.filter(name__in=["钱一", "孙二"]).count() == 2
    assert SourceRecord.objects.filter(source="国家平台", name="钱一").exists()
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(run.pk)).count() == 1
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入完成" in html and "下载错误报告" in html and "hx-trigger" not in html
    # The error report: only for the county administrator, audited as an export.
    response = client.get(reverse("web:import_errors", args=[run.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"PK"
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_type="import_run").count() == 1


def test_progress_is_polled_while_queued(
    client: Client, county: Any, world: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    settings.IMPORT_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    client = login(world.users["admin"])
    _upload(client, roster_csv(county["t1v1"].code))
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.QUEUED
    response = client.get(reverse("web:import_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="import-status"')
    assert 'hx-trigger="every 1s"' in html and "<progress" in html and "排队中" in html


def test_file_level_error_marks_the_run_failed_with_a_chinese_message(
    client: Client, world: Any, login: Any, import_dir: Path
) -> None:
    client = login(world.users["admin"])
    _upload(client, b"\n,,\n\n")
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED and "文件为空" in run.message
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入失败" in html and "文件为空" in html
    # A file missing required columns goes to the mapping step instead (issue 18 item 3).
    _upload(client, "姓名,电话\n张三,1\n".encode())
    run = ImportRun.objects.order_by("-pk")[0]
    assert run.status == ImportStatus.MAPPING
    assert run.summary["mapping"]["missing"] == ["id_number", "village_code"]
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "需要对应列和值" in html


def test_upload_over_the_limit_is_refused_without_storing_it(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 200
    client = login(world.users["admin"])
    response = _upload(client, roster_csv(county["t1v1"].code, bad_rows=5))
    assert response.status_code == 413
    assert "文件超过上限" in response.content.decode()
    assert not ImportRun.objects.exists()
    assert not import_dir.exists() or not any(import_dir.rglob("*.csv"))


def test_upload_over_the_limit_still_checks_csrf(
    county: Any, world: Any, import_dir: Path, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 200
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["admin"], backend="django.contrib.auth.backends.ModelBackend")
    assert _upload(client, roster_csv(county["t1v1"].code)).status_code == 403
    assert _upload(client, b"x").status_code == 403


def test_wrong_file_type_and_bad_fields_are_explained(
    client: Client, world: Any, login: Any, import_dir: Path
) -> None:
    client = login(world.users["admin"])
    response = _upload(client, b"a,b\n", name="roster.pdf")
    assert response.status_code == 400 and "不支持的文件类型“.pdf”" in response.content.decode()
    response = _upload(client, b"a,b\n", year="1900")
    assert response.status_code == 400 and "名单年度" in response.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize("role", ["t1", "inspector", "doctor"])
def test_only_the_county_admin_may_import(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path, role: str
) -> None:
    client = login(world.users[role])
    assert client.get(reverse("web:import_page")).status_code == 403
    assert _upload(client, roster_csv(county["t1v1"].code)).status_code == 403
    assert not ImportRun.objects.exists()


def test_runs_and_error_reports_are_scoped_to_the_county(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path, make_user: Any
) -> None:
    from jkfp.regions.models import Region, RegionLevel

    client = login(world.users["admin"])
    _upload(client, roster_csv(county["t1v1"].code))
    run = ImportRun.objects.get()
    Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    other = make_user(Role.COUNTY_ADMIN, "421322")
    client = login(other)
    assert client.get(reverse("web:import_detail", args=[run.pk])).status_code == 404
    assert client.get(reverse("web:import_errors", args=[run.pk])).status_code == 404
    assert "国家平台.csv" not in client.get(reverse("web:import_page")).content.decode()
    client = login(world.users["t1"])
    assert client.get(reverse("web:import_errors", args=[run.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_declared_body_far_over_the_limit_is_refused_before_reading_the_file(
    client: Client, world: Any, login: Any, import_dir: Path, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 100
    client = login(world.users["admin"])
    response = _upload(client, b"0" * (1024 * 1024 + 4096))
    assert response.status_code == 413
    html = response.content.decode()
    assert "文件超过上限 1 MB" in html and 'value="国家平台"' in html  # the typed fields are kept
    assert not ImportRun.objects.exists()
