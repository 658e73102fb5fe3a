"""导入页：签约与随访 The web import page also runs contract and follow-up imports in the background, with
the roster's progress/summary/error-report display, writing only persons of the uploader's region."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.care import uploads
from jkfp.care.models import Contract, FollowUp, Schedule
from jkfp.care.tests.conftest import TODAY, CareWorld, make_person
from jkfp.core.tabular_map import parse_mapping
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus, ImportTemplate
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

pytestmark = pytest.mark.django_db
YEAR = TODAY.year


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    return settings.IMPORT_DIR


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, kind: str, text: str, name: str = "公卫.csv") -> Any:
    upload = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("web:import_page"), {"kind": kind, "file": upload})


def _outsider() -> Any:
    """A person of another county (421322): outside the county administrator of 421321."""
    county = Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421322001000", name="邻镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421322001001", name="邻村", level=RegionLevel.VILLAGE, parent=town)
    return make_person(village, "外县人", 41)


def test_contract_import_runs_in_the_background_only_inside_the_region(
    cw: CareWorld, import_dir: Path
) -> None:
    zhang, outsider = cw.persons["zhang"], _outsider()
    client = _client(cw.users["admin"])
    text = (
        "身份证号,签约日期,到期日期,团队,家庭医生\n"
        f"{zhang.id_number},{YEAR}-01-05,{YEAR}-12-31,第1镇一队,村医甲\n"
        f"{outsider.id_number},{YEAR}-01-05,{YEAR}-12-31,邻镇一队,外医生\n"
    )
    response = _upload(client, "contracts", text)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:import_detail", args=[run.pk])
    assert (run.kind, run.status, run.progress, run.user) == (
        ImportKind.CONTRACTS,
        ImportStatus.DONE,
        100,
        cw.users["admin"],
    )
    assert (run.summary["rows"], run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (
        2,
        1,
        1,
        1,
    )
    assert list(Contract.objects.values_list("person__name", flat=True)) == ["张三"]
    assert not Contract.objects.filter(person=outsider).exists()
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(run.pk)).count() == 1
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入：家庭医生签约" in html and "导入完成" in html and "新增签约" in html
    assert "下载错误报告" in html and "hx-trigger" not in html
    report = client.get(reverse("web:import_errors", args=[run.pk]))
    assert report.status_code == 200 and b"".join(report.streaming_content)[:2] == b"PK"
    listing = client.get(reverse("web:import_page")).content.decode()
    assert "家庭医生签约" in listing and "上传签约/随访并导入" in listing


def test_followup_import_moves_schedules_and_skips_other_regions(cw: CareWorld, import_dir: Path) -> None:
    zhang, outsider = cw.persons["zhang"], _outsider()
    htn = cw.diseases["高血压"]
    visited = date(YEAR, 1, 2) if date(YEAR, 1, 2) <= TODAY else TODAY
    text = (
        "身份证号,随访日期,疾病,方式,收缩压,舒张压,空腹血糖,医生\n"
        f"{zhang.id_number},{visited},高血压,门诊,128,80,,村医甲\n"
        f"{outsider.id_number},{visited},高血压,门诊,128,80,,\n"
    )
    response = _upload(_client(cw.users["admin"]), "followups", text, name="随访.csv")
    run = ImportRun.objects.get()
    assert response.status_code == 302 and run.status == ImportStatus.DONE
    assert (run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (1, 1, 1)
    assert list(FollowUp.objects.values_list("person__name", flat=True)) == ["张三"]
    assert Schedule.objects.get(person=zhang, disease=htn).last_visit_on == visited
    assert not FollowUp.objects.filter(person=outsider).exists()


def test_the_queued_task_runs_as_the_uploader_of_another_county(
    cw: CareWorld, settings: Any, tmp_path: Path, make_user: Any
) -> None:
    """The run is queued (database backend) and the worker imports as the uploader: the administrator of
    the neighbouring county writes its own person and not 张三 of 随县."""
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    outsider = _outsider()
    neighbour = make_user(Role.COUNTY_ADMIN, "421322", username="linxian_admin")
    text = (
        "身份证号,签约日期,到期日期,团队,家庭医生\n"
        f"{cw.persons['zhang'].id_number},{YEAR}-01-05,{YEAR}-12-31,第1镇一队,\n"
        f"{outsider.id_number},{YEAR}-01-05,{YEAR}-12-31,邻镇一队,\n"
    )
    assert _upload(_client(neighbour), "contracts", text).status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.QUEUED and run.region_id == "421322"
    queued = DBTaskResult.objects.get(task_path="jkfp.care.tasks.care_import_task")
    assert queued.args_kwargs["kwargs"] == {"run_id": run.pk}
    from jkfp.care.tasks import care_import_task

    care_import_task.call(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE and (run.summary["valid"], run.summary["invalid"]) == (1, 1)
    assert list(Contract.objects.values_list("person__name", flat=True)) == ["外县人"]
    # The runs are the county's own: 随县's administrator cannot open it.
    assert _client(cw.users["admin"]).get(reverse("web:import_detail", args=[run.pk])).status_code == 404


def test_care_import_errors_name_the_field_and_roles_are_checked(cw: CareWorld, import_dir: Path) -> None:
    client = _client(cw.users["admin"])
    response = _upload(client, "contracts", "whatever", name="签约.txt")
    assert response.status_code == 400
    assert "文件：不支持的文件类型“.txt”" in response.content.decode()
    response = client.post(reverse("web:import_page"), {"kind": "contracts"})
    assert response.status_code == 400 and "文件：" in response.content.decode()
    assert not ImportRun.objects.exists()
    assert _upload(_client(cw.users["t1"]), "contracts", "x").status_code == 403
    with pytest.raises(Exception) as excinfo:  # noqa: PT011 (the exception is asserted by the lines after it)
        uploads.care_import_start(
            user=cw.users["admin"],
            upload=SimpleUploadedFile("a.csv", b"x"),
            kind="roster",
        )
    assert uploads.ERR_IMPORT_KIND in str(excinfo.value)


def test_missing_columns_wait_for_the_mapping_step(cw: CareWorld, import_dir: Path) -> None:
    """A file lacking required columns goes to the mapping step (issue 18), naming what is missing."""
    client = _client(cw.users["admin"])
    assert _upload(client, "followups", "身份证号,随访日期\n1,2\n").status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING and run.summary["mapping"]["missing"] == ["disease", "kind"]
    html = client.get(reverse("web:import_mapping", args=[run.pk])).content.decode()
    assert "缺少必需的列：疾病、方式" in html


def test_unreadable_file_fails_the_run_with_a_chinese_message(cw: CareWorld, import_dir: Path) -> None:
    client = _client(cw.users["admin"])
    assert _upload(client, "followups", "not a workbook", name="随访.xlsx").status_code == 302
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED and run.message
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "导入失败" in html and run.message in html


def test_followup_upload_maps_columns_and_a_value_then_the_next_file_needs_no_mapping(
    cw: CareWorld, import_dir: Path
) -> None:
    """Issue 18 item 3 beyond the roster: a follow-up list with its own headers (证件号, 随访类型) and
    its own word (上门随访) waits for the mapping step; the answer is saved as the template of the
    follow-up uploads and the next such file imports by itself."""
    zhang = cw.persons["zhang"]
    visited = date(YEAR, 1, 2) if date(YEAR, 1, 2) <= TODAY else TODAY
    text = f"证件号,随访日期,疾病,随访类型\n{zhang.id_number},{visited},高血压,上门随访\n"
    client = _client(cw.users["admin"])
    assert _upload(client, "followups", text).status_code == 302
    run = ImportRun.objects.get()
    info = run.summary["mapping"]
    assert run.status == ImportStatus.MAPPING and info["missing"] == ["id_number", "kind"]
    assert [c["header"] for c in info["columns"]] == ["证件号", "随访日期", "疾病", "随访类型"]
    url = reverse("web:import_mapping", args=[run.pk])
    page = client.get(url).content.decode()
    assert "缺少必需的列：身份证号、方式" in page and "“随访类型”对应字段" in page
    columns = {"col-0": "id_number", "col-1": "visited_on", "col-2": "disease", "col-3": "kind"}
    assert client.post(url, columns).status_code == 302
    run.refresh_from_db()
    assert run.status == ImportStatus.MAPPING and run.summary["mapping"]["unknown_values"] == {
        "kind": ["上门随访"]
    }
    page = client.get(url).content.decode()
    assert "值“上门随访”对应" in page and '<option value="家庭">家庭</option>' in page
    assert not FollowUp.objects.exists()
    assert client.post(url, {**columns, "val-kind-0": "家庭"}).status_code == 302
    run.refresh_from_db()
    assert (run.status, run.summary["valid"], run.summary["created"]) == (ImportStatus.DONE, 1, 1)
    assert FollowUp.objects.get().kind == "home"
    template = ImportTemplate.objects.get(kind=ImportKind.FOLLOWUPS)
    assert parse_mapping(template.mapping).columns == {"证件号": "身份证号", "随访类型": "方式"}
    assert parse_mapping(template.mapping).values == {"方式": {"上门随访": "家庭"}}
    # The next follow-up file of the same shape: no mapping step.
    again = date(YEAR, 1, 3) if date(YEAR, 1, 3) <= TODAY else TODAY
    if again == visited:
        return
    assert _upload(client, "followups", text.replace(str(visited), str(again))).status_code == 302
    second = ImportRun.objects.exclude(pk=run.pk).get()
    assert (second.status, second.summary["valid"]) == (ImportStatus.DONE, 1)
    assert FollowUp.objects.count() == 2


def test_contract_upload_previews_then_imports_on_confirm(cw: CareWorld, import_dir: Path) -> None:
    """Issue 18 item 5 beyond the roster: 先预览 shows the rows as they will be imported and the counts,
    writes nothing; 确认导入 runs the same file for real."""
    zhang, outsider = cw.persons["zhang"], _outsider()
    client = _client(cw.users["admin"])
    text = (
        "身份证号,签约日期,到期日期,团队,家庭医生\n"
        f"{zhang.id_number},{YEAR}-01-05,{YEAR}-12-31,第1镇一队,村医甲\n"
        f"{outsider.id_number},{YEAR}-01-05,{YEAR}-12-31,邻镇一队,外医生\n"
    )
    upload = SimpleUploadedFile("签约.csv", text.encode("utf-8"), content_type="text/csv")
    response = client.post(reverse("web:import_page"), {"kind": "contracts", "preview": "on", "file": upload})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and run.status == ImportStatus.PREVIEW
    assert (run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (1, 1, 1)
    assert [row["team"] for row in run.summary["preview"]["rows"]] == ["第1镇一队", "邻镇一队"]
    assert not Contract.objects.exists(), "a preview writes nothing"
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "确认导入" in html and "第1镇一队" in html
    assert client.post(reverse("web:import_confirm", args=[run.pk]), {"action": "confirm"}).status_code == 302
    run.refresh_from_db()
    assert (run.status, run.summary["created"]) == (ImportStatus.DONE, 1)
    assert list(Contract.objects.values_list("person__name", flat=True)) == ["张三"]
