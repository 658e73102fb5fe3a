"""名单比对页与导出 Reconciliation page and export: scope, filters, masking, audit, query counts."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.web.tests.conftest import add_person
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db


def _export_rows(client: Client, **params: str) -> list[tuple[Any, ...]]:
    data = background_export(client, reverse("web:reconciliation_export"), **params)
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return list(workbook.worksheets[0].iter_rows(values_only=True))


def test_page_lists_sources_and_disagreements_in_scope(
    client: Client, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(world.users["t1"])
    # 8, plus one EXISTS per source list in the filter (two lists here): never one per person
    with django_assert_max_num_queries(8 + 2):
        response = client.get(reverse("web:reconciliation"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "张三" in html and "李梅" in html and "王五" in html
    assert "张四" not in html  # township 002
    assert "王伍" in html  # the provincial spelling of 王五's name
    assert "共 3 人" in html
    for person in world.persons.values():
        assert person.id_number not in html


def test_filters_only_conflicts_missing_and_present(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    html = client.get(reverse("web:reconciliation"), {"only_conflicts": "on"}).content.decode()
    assert "王五" in html and "张三" not in html and "共 1 人" in html
    html = client.get(reverse("web:reconciliation"), {"missing_source": "省系统"}).content.decode()
    assert "李梅" in html and "张三" not in html and "共 1 人" in html
    html = client.get(reverse("web:reconciliation"), {"present_source": "省系统"}).content.decode()
    assert "张三" in html and "王五" in html and "李梅" not in html
    bad = client.get(reverse("web:reconciliation"), {"present_source": "不存在的名单"}).content.decode()
    assert "选择一个有效的选项" in bad


def test_page_is_paginated_with_constant_queries(
    client: Client, county: Any, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    for serial in range(100, 180):
        add_person(county["t1v1"], f"赵{serial}", serial, sources={"国家平台": {}})
    client = login(world.users["admin"])
    # 8, plus one EXISTS per source list in the filter (two lists here): never one per person
    with django_assert_max_num_queries(8 + 2):
        html = client.get(reverse("web:reconciliation"), {"page": "2"}).content.decode()
    assert "共 84 人" in html and "第 2 / 2 页" in html


def test_export_is_masked_scoped_formula_safe_and_audited(
    client: Client, county: Any, world: Any, login: Any
) -> None:
    add_person(county["t1v1"], "=HYPERLINK(1)", 50, sources={"国家平台": {"name": "=HYPERLINK(1)"}})
    client = login(world.users["t1"])
    rows = _export_rows(client)
    header, body = rows[0], rows[1:]
    assert header[:5] == ("身份证号", "姓名", "乡镇", "村", "户编号")
    assert "在国家平台" in header and "在省系统" in header
    names = {row[1] for row in body}
    assert names == {"张三", "李梅", "王五", "'=HYPERLINK(1)"}
    ids = {row[0] for row in body}
    assert mask(world.persons["zhang"].id_number) in ids
    assert all("*" in value for value in ids)
    wang = next(row for row in body if row[1] == "王五")
    assert "王伍" in wang[7] and wang[5] == "国家平台、省系统"
    # Audited when queued and when downloaded (the file leaving the system, with its row count).
    queued, downloaded = AuditEvent.objects.filter(action=AuditAction.EXPORT).order_by("id")
    assert queued.detail == "排队后台导出：名单比对表（筛选：全部）"
    assert (
        downloaded.user == world.users["t1"]
        and downloaded.detail == "下载后台导出：名单比对表（筛选：全部） 4人"
    )


def test_export_follows_the_filters(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    rows = _export_rows(client, only_conflicts="on")
    assert [row[1] for row in rows[1:]] == ["王五"]
    downloaded = AuditEvent.objects.get(action=AuditAction.EXPORT, detail__startswith="下载")
    assert "only_conflicts=True" in downloaded.detail


def test_other_township_and_village_doctor_exports_are_scoped(client: Client, world: Any, login: Any) -> None:
    rows = _export_rows(login(world.users["t2"]))
    assert [row[1] for row in rows[1:]] == ["张四"]
    rows = _export_rows(login(world.users["doctor"]))
    assert sorted(row[1] for row in rows[1:]) == ["张三", "李梅"]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, detail__startswith="下载").count() == 2


def test_confirm_from_the_reconciliation_page(client: Client, world: Any, login: Any) -> None:
    wang = world.persons["wang"]
    client = login(world.users["t1"])
    html = client.get(reverse("web:reconciliation")).content.decode()
    assert reverse("web:person_verify", args=[wang.pk]) in html
    response = client.post(
        reverse("web:person_verify", args=[wang.pk]),
        {"status": "confirmed", "next": reverse("web:reconciliation") + "?only_conflicts=on"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:reconciliation") + "?only_conflicts=on"
    html = client.get(reverse("web:reconciliation"), {"only_conflicts": "on"}).content.decode()
    assert "已核准" in html


def test_inspector_sees_but_cannot_confirm(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["inspector"])
    html = client.get(reverse("web:reconciliation")).content.decode()
    assert "张四" in html and "张三" in html
    assert "/verify/" not in html
