"""导入映射 The web import's mapping step and saved templates per source (issue 18 item 3)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jkfp.core.idnumber import make_id_number, mask
from jkfp.core.tabular_map import parse_mapping
from jkfp.registry.models import ImportRun, ImportStatus, ImportTemplate, Person, SourceRecord
from jkfp.web.tests.conftest import IMMEDIATE_TASKS

pytestmark = pytest.mark.django_db


def foreign_csv(village: str, serials: tuple[int, int]) -> bytes:
    """A township's list: a title row, its own headers (证件号, 户主编号, 备注) and its own word 一般贫困户."""
    a, b = (make_id_number("421321", date(1960, 1, 1), s) for s in serials)
    return (
        "某乡镇花名册（2024年）\n"
        "证件号,姓名,村代码,户主编号,人员类别,备注\n"
        f"{a},赵甲,{village},Z-1,一般贫困户,无\n"
        f"{b},钱乙,{village},Z-2,低保户,\n"
    ).encode()


@pytest.fixture
def import_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = IMMEDIATE_TASKS
    return settings.IMPORT_DIR


def _upload(client: Client, content: bytes, source: str = "乡镇名单") -> Any:
    data = {"source": source, "year": "2024", "file": SimpleUploadedFile("list.csv", content, "text/csv")}
    return client.post(reverse("web:import_page"), data)


def test_mapping_step_saves_the_template_and_the_next_file_needs_none(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    client = login(world.users["admin"])
    village = county["t1v1"].code
    persons = Person.objects.count()
    response = _upload(client, foreign_csv(village, (11, 12)))
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING
    assert response["Location"] == reverse("web:import_mapping", args=[run.pk])
    assert Path(run.stored_path).is_file(), "the upload waits for its mapping"
    assert Person.objects.count() == persons
    info = run.summary["mapping"]
    assert info["header_row"] == 2 and info["missing"] == ["id_number"]
    assert [c["header"] for c in info["columns"]] == [
        "证件号",
        "姓名",
        "村代码",
        "户主编号",
        "人员类别",
        "备注",
    ]
    assert info["columns"][0]["samples"][0].startswith("421321")

    page = client.get(reverse("web:import_mapping", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "“证件号”对应字段" in html and "缺少必需的列：身份证号" in html
    # Two columns to one field: refused, nothing imported.
    bad = {"col-0": "id_number", "col-1": "name", "col-2": "village_code", "col-3": "id_number"}
    assert client.post(reverse("web:import_mapping", args=[run.pk]), bad).status_code == 400
    assert ImportRun.objects.get().status == ImportStatus.MAPPING
    answer = {
        "col-0": "id_number",
        "col-1": "name",
        "col-2": "village_code",
        "col-3": "household_no",
        "col-4": "tags",
        "col-5": "",
    }
    response = client.post(reverse("web:import_mapping", args=[run.pk]), answer)
    assert response.status_code == 302
    run.refresh_from_db()
    # The value step came next: 一般贫困户 is no accepted value (低保户 is a shipped synonym).
    assert run.status == ImportStatus.MAPPING
    assert run.summary["mapping"]["unknown_values"] == {"tags": ["一般贫困户"]}
    html = client.get(reverse("web:import_mapping", args=[run.pk])).content.decode()
    assert "值“一般贫困户”对应" in html
    response = client.post(reverse("web:import_mapping", args=[run.pk]), {**answer, "val-tags-0": "建档立卡"})
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE, run.summary
    assert (run.summary["created"], run.summary["invalid"]) == (2, 0)
    assert SourceRecord.objects.get(name="赵甲").tags == "建档立卡"
    template = ImportTemplate.objects.get(source="乡镇名单")
    mapping = parse_mapping(template.mapping)
    assert mapping.columns == {"证件号": "身份证号", "户主编号": "户编号", "备注": ""}
    assert mapping.values == {"人员类别": {"一般贫困户": "建档立卡"}}

    # The next file of the same source: no mapping step.
    _upload(client, foreign_csv(village, (21, 22)))
    second = ImportRun.objects.order_by("-pk").first()
    assert second is not None and second.status == ImportStatus.DONE and second.summary["created"] == 2
    # Another source's file is never mapped by this template.
    _upload(client, foreign_csv(village, (31, 32)), source="其他来源")
    third = ImportRun.objects.order_by("-pk").first()
    assert third is not None and third.status == ImportStatus.MAPPING

    # The template downloads as the TOML of --mapping and is edited (a bad edit is refused, naming the line).
    download = client.get(reverse("web:import_template_download", args=[template.pk]))
    assert download.status_code == 200 and download.content.decode() == template.mapping
    edit = client.post(
        reverse("web:import_templates"), {"template": template.pk, "mapping": '[columns]\n"a" = "不存在"\n'}
    )
    assert edit.status_code == 400 and re.search("第2行", edit.content.decode())
    ok = client.post(
        reverse("web:import_templates"),
        {"template": template.pk, "mapping": template.mapping + '"户号码" = "户编号"\n'},
    )
    assert ok.status_code == 302


def test_mapping_step_samples_are_masked_as_stored(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    """The mapping step's sample values hold no ID number or bank account in full: not on the page, not
    in the run's stored summary."""
    client = login(world.users["admin"])
    village = county["t1v1"].code
    a, b = (make_id_number("421321", date(1960, 1, 1), s) for s in (21, 22))
    account = "6217002870012345678"  # a 19-digit bank card number
    content = (
        "某乡镇花名册（2024年）\n"
        "证件号,姓名,村代码,户主编号,人员类别,银行卡号\n"
        f"{a},赵甲,{village},Z-1,一般贫困户,{account}\n"
        f"{b},钱乙,{village},Z-2,低保户,13800001234\n"
    ).encode()
    _upload(client, content)
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.MAPPING
    samples = {c["header"]: c["samples"] for c in run.summary["mapping"]["columns"]}
    assert samples["证件号"] == [mask(a), mask(b)]
    assert samples["银行卡号"] == ["***************5678", "13800001234"]  # a phone number is no account
    html = client.get(reverse("web:import_mapping", args=[run.pk])).content.decode()
    assert a not in html and b not in html and account not in html
    assert mask(a) in html and "***************5678" in html


def test_other_roles_cannot_map(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    admin = login(world.users["admin"])
    _upload(admin, foreign_csv(county["t1v1"].code, (11, 12)))
    run = ImportRun.objects.get()
    for key in ("t1", "inspector"):
        other = login(world.users[key])
        assert other.get(reverse("web:import_mapping", args=[run.pk])).status_code == 403
        assert other.get(reverse("web:import_templates")).status_code == 403
    assert ImportRun.objects.get().status == ImportStatus.MAPPING


def test_preview_shows_rows_counts_and_errors_then_confirm_or_cancel(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    client = login(world.users["admin"])
    village = county["t1v1"].code
    a, b = (make_id_number("421321", date(1961, 2, 3), s) for s in (41, 42))
    bad = a[:17] + ("0" if a[17] != "0" else "1")
    content = (
        "身份证号,姓名,村代码,户编号,人员类别\n"
        f"{a},冯一,{village},P-1,脱贫户\n{b},陈二,{village},P-2,低保\n{bad},坏三,{village},P-3,低保\n"
    ).encode()
    persons = Person.objects.count()

    def upload() -> ImportRun:
        data: dict[str, Any] = {"source": "预览来源", "year": "2024", "preview": "on"}
        data["file"] = SimpleUploadedFile("p.csv", content, "text/csv")
        client.post(reverse("web:import_page"), data)
        return ImportRun.objects.order_by("-pk")[0]

    run = upload()
    assert run.status == ImportStatus.PREVIEW and Person.objects.count() == persons  # nothing written
    assert (run.summary["valid"], run.summary["invalid"], run.summary["created"]) == (2, 1, 2)
    assert Path(run.stored_path).is_file()
    html = client.get(reverse("web:import_detail", args=[run.pk])).content.decode()
    assert "预览（尚未写入）" in html and "确认导入" in html and "取消" in html
    assert "冯一" in html and "脱贫" in html  # the rows as they will be imported (synonym applied)
    assert "校验码" in html  # the first errors
    assert a not in html and bad not in html and mask(a) in html, "ID numbers are masked in the preview"
    client.post(reverse("web:import_confirm", args=[run.pk]), {"action": "confirm"})
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE and run.summary["created"] == 2
    assert Person.objects.count() == persons + 2
    assert not Path(run.stored_path).exists()

    again = upload()
    assert again.status == ImportStatus.PREVIEW and again.summary["unchanged"] == 2
    client.post(reverse("web:import_confirm", args=[again.pk]), {"action": "cancel"})
    again.refresh_from_db()
    assert again.status == ImportStatus.FAILED and "已取消" in again.message
    assert not Path(again.stored_path).exists()


def test_every_upload_form_previews_by_default_and_unchecking_is_kept(
    client: Client, county: Any, world: Any, login: Any, import_dir: Path
) -> None:
    """先预览 is checked on a fresh page (issue 18 item 5: the preview comes first unless the user unchecks
    it); a form sent back with an error keeps the user's unchecked box; a POST without the field (what an
    unchecked box sends) still imports directly."""
    client = login(world.users["admin"])
    html = client.get(reverse("web:import_page")).content.decode()
    boxes = re.findall(r'<input[^>]*name="preview"[^>]*>', html)
    assert len(boxes) == 5  # roster, care, cards, enrolment, capacity (the bank-account form has none)
    assert all(" checked" in box for box in boxes), boxes
    # The roster form back with an error (no year) and no preview field: the box stays unchecked.
    data = {"source": "乡镇名单", "file": SimpleUploadedFile("l.csv", b"x", "text/csv")}
    refused = client.post(reverse("web:import_page"), data)
    assert refused.status_code == 400
    roster_box = re.search(r'<input[^>]*id="id_preview"[^>]*>', refused.content.decode())
    assert roster_box is not None and " checked" not in roster_box.group(0)
    persons = Person.objects.count()
    village = county["t1v1"].code
    a = make_id_number("421321", date(1962, 3, 4), 51)
    content = f"身份证号,姓名,村代码,户编号,人员类别\n{a},卫五,{village},Q-1,脱贫户\n".encode()
    _upload(client, content, source="直接导入")
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE and Person.objects.count() == persons + 1
