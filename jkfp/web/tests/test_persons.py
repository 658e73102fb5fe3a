"""人员查询、人员页、户页 Search, person and household pages: scope, masking, audit, query counts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.registry.models import ChangeLog, Person
from jkfp.web.tests.conftest import add_person

pytestmark = pytest.mark.django_db

PERSON_LINK = re.compile(r'href="/persons/\d+/"')


def _search(client: Client, **params: str) -> str:
    response = client.get(reverse("web:person_search"), params)
    assert response.status_code == 200
    return response.content.decode()


# --- search -------------------------------------------------------------------------------------


def test_search_by_name_prefix_is_scoped_to_the_township(client: Client, world: Any, login: Any) -> None:
    zhang, zhao = world.persons["zhang"], world.persons["zhao"]
    html = _search(login(world.users["t1"]), q="张")
    assert "张三" in html and mask(zhang.id_number) in html
    assert "张四" not in html and mask(zhao.id_number) not in html
    html = _search(login(world.users["admin"]), q="张")
    assert "张三" in html and "张四" in html and "共 2 人" in html


def test_search_by_full_id_and_by_last_digits(client: Client, world: Any, login: Any) -> None:
    wang, zhao = world.persons["wang"], world.persons["zhao"]
    client = login(world.users["t1"])
    assert "王五" in _search(client, q=wang.id_number)
    assert "王五" in _search(client, q=wang.id_number[-6:])
    assert "王五" in _search(client, q=wang.id_number[-4:].lower())
    # Outside the township: neither the full number nor its tail finds the person.
    assert "张四" not in _search(client, q=zhao.id_number)
    assert "张四" not in _search(client, q=zhao.id_number[-6:])
    # Too few digits would list half the county: refused, nothing shown.
    assert "没有找到" in _search(client, q=wang.id_number[-3:])


def test_search_by_village_and_outside_village_gives_nothing(
    client: Client, county: Any, world: Any, login: Any
) -> None:
    client = login(world.users["t1"])
    html = _search(client, village=county["t1v2"].code)
    assert "王五" in html and "张三" not in html
    # A village of another township is not even a valid choice.
    response = client.get(reverse("web:person_search"), {"village": county["t2v1"].code})
    html = response.content.decode()
    assert "张四" not in html and "村：" in html
    assert f'value="{county["t2v1"].code}"' not in html


def test_search_shows_full_ids_nowhere(client: Client, world: Any, login: Any) -> None:
    html = _search(login(world.users["admin"]), q="张")
    for person in world.persons.values():
        assert person.id_number not in html


def test_empty_search_lists_nobody(client: Client, world: Any, login: Any) -> None:
    html = _search(login(world.users["admin"]))
    assert "请输入姓名" in html and "张三" not in html


def test_village_doctor_sees_only_their_village(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["doctor"])
    html = _search(client, q="王")
    assert "王五" not in html
    html = _search(client, q="张")
    assert "张三" in html and "张四" not in html
    assert client.get(reverse("web:person_detail", args=[world.persons["wang"].pk])).status_code == 404
    assert client.get(reverse("web:household_detail", args=[world.households["h2"].pk])).status_code == 404
    assert client.get(reverse("web:person_detail", args=[world.persons["zhang"].pk])).status_code == 200


def test_search_is_paginated_by_50_with_constant_queries(
    client: Client, county: Any, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    for serial in range(100, 160):
        add_person(county["t1v1"], f"张{serial}", serial)
    client = login(world.users["t1"])
    # session + user + count + page + tags prefetch + villages for the choice list + the search's audit row
    with django_assert_max_num_queries(8):
        html = _search(client, q="张")
    assert "共 61 人" in html and "第 1 / 2 页" in html
    assert len(PERSON_LINK.findall(html)) == 50
    for serial in range(160, 260):
        add_person(county["t1v1"], f"张{serial}", serial)
    with django_assert_max_num_queries(8):  # as above: the page of a search is a search (audited)
        html = _search(client, q="张", page="2")
    assert "共 161 人" in html and len(PERSON_LINK.findall(html)) == 50


def test_htmx_search_returns_only_the_results(client: Client, world: Any, login: Any) -> None:
    response = login(world.users["t1"]).get(reverse("web:person_search"), {"q": "张"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">') and "张三" in html and "<nav" not in html


# --- person page --------------------------------------------------------------------------------


def test_person_page_shows_everything_masked_and_audits_the_view(
    client: Client, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    zhang = world.persons["zhang"]
    client = login(world.users["t1"])
    with django_assert_max_num_queries(12):
        response = client.get(reverse("web:person_detail", args=[zhang.pk]), REMOTE_ADDR="10.0.0.9")
    html = response.content.decode()
    assert response.status_code == 200
    assert mask(zhang.id_number) in html and zhang.id_number not in html
    assert "显示完整身份证号" in html
    assert "低保" in html and "2020-01-01" in html  # dated tag with its source
    assert "脑卒中" in html and "怪病" in html and "未匹配目录" in html
    assert "国家平台" in html and "省系统" in html  # source records
    assert reverse("web:household_detail", args=[zhang.household_id]) in html
    assert "核实核准" in html and "待核实" in html
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PERSON)
    assert (event.user, event.object_id, event.region_code, event.ip_address) == (
        world.users["t1"],
        str(zhang.pk),
        zhang.village_id,
        "10.0.0.9",
    )


def test_person_of_another_township_is_404_not_403(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    zhao = world.persons["zhao"]
    response = client.get(reverse("web:person_detail", args=[zhao.pk]))
    assert response.status_code == 404
    assert "不在您的管辖范围内" in response.content.decode()
    assert client.get(reverse("web:person_detail", args=[999999])).status_code == 404
    assert client.post(reverse("web:person_reveal", args=[zhao.pk])).status_code == 404
    assert (
        client.post(reverse("web:person_verify", args=[zhao.pk]), {"status": "confirmed"}).status_code == 404
    )
    assert not AuditEvent.objects.filter(action__in=[AuditAction.VIEW_PERSON, AuditAction.REVEAL_ID]).exists()


def test_reveal_is_a_post_that_returns_the_full_id_and_is_audited(
    client: Client, world: Any, login: Any
) -> None:
    zhang = world.persons["zhang"]
    client = login(world.users["inspector"])
    url = reverse("web:person_reveal", args=[zhang.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert zhang.id_number in html and html.lstrip().startswith('<span id="id-number"')
    event = AuditEvent.objects.get(action=AuditAction.REVEAL_ID)
    assert (event.user, event.object_id) == (world.users["inspector"], str(zhang.pk))


def test_reveal_needs_the_csrf_token(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["t1"], backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(reverse("web:person_reveal", args=[world.persons["zhang"].pk])).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL_ID).exists()


# --- verification -------------------------------------------------------------------------------


def test_township_confirms_a_person_with_history_and_audit(client: Client, world: Any, login: Any) -> None:
    zhang = world.persons["zhang"]
    client = login(world.users["t1"])
    response = client.post(
        reverse("web:person_verify", args=[zhang.pk]),
        {"status": "confirmed", "note": "入户核实"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "已核准" in response.content.decode()
    zhang.refresh_from_db()
    assert (zhang.verification_status, zhang.verification_note, zhang.verified_by) == (
        "confirmed",
        "入户核实",
        world.users["t1"],
    )
    changes = ChangeLog.objects.filter(person=zhang).order_by("field")
    assert [(c.field, c.old_value, c.new_value, c.user) for c in changes] == [
        ("verification_note", "", "入户核实", world.users["t1"]),
        ("verification_status", "pending", "confirmed", world.users["t1"]),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.CONFIRM, object_id=str(zhang.pk)).count() == 1
    html = client.get(reverse("web:person_detail", args=[zhang.pk])).content.decode()
    assert "核实状态" in html and "已核准" in html  # the change history shows labels


def test_verify_without_htmx_redirects_back_with_a_message(client: Client, world: Any, login: Any) -> None:
    wang = world.persons["wang"]
    client = login(world.users["admin"])
    response = client.post(reverse("web:person_verify", args=[wang.pk]), {"status": "rejected"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:person_detail", args=[wang.pk])
    assert "已否决" in response.content.decode()
    bad = client.post(reverse("web:person_verify", args=[wang.pk]), {"status": "pending"}, follow=True)
    assert "选择一个有效的选项" in bad.content.decode()
    assert Person.objects.get(pk=wang.pk).verification_status == "rejected"


@pytest.mark.parametrize("role", ["inspector", "inspector_t1", "doctor"])
def test_read_only_roles_cannot_confirm(client: Client, world: Any, login: Any, role: str) -> None:
    zhang = world.persons["zhang"]
    client = login(world.users[role])
    response = client.post(reverse("web:person_verify", args=[zhang.pk]), {"status": "confirmed"})
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()
    assert Person.objects.get(pk=zhang.pk).verification_status == "pending"
    html = client.get(reverse("web:person_detail", args=[zhang.pk])).content.decode()
    assert reverse("web:person_verify", args=[zhang.pk]) not in html


# --- household page -----------------------------------------------------------------------------


def test_household_page_lists_masked_members_and_history(
    client: Client, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    h1 = world.households["h1"]
    client = login(world.users["t1"])
    with django_assert_max_num_queries(9):
        response = client.get(reverse("web:household_detail", args=[h1.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for key in ("zhang", "zhang_wife"):
        person = world.persons[key]
        assert person.name in html and mask(person.id_number) in html and person.id_number not in html
    assert "配偶" in html and "2019-01-01" in html
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_HOUSEHOLD, object_id=str(h1.pk)).count() == 1


def test_household_of_another_township_is_404(client: Client, world: Any, login: Any) -> None:
    client = login(world.users["t1"])
    assert client.get(reverse("web:household_detail", args=[world.households["h3"].pk])).status_code == 404
    client = login(world.users["t2"])
    assert client.get(reverse("web:household_detail", args=[world.households["h3"].pk])).status_code == 200


def test_search_counts_at_most_the_cap_and_says_so(
    client: Client, county: Any, world: Any, login: Any, monkeypatch: Any
) -> None:
    from jkfp.web import views

    monkeypatch.setattr(views, "SEARCH_CAP", 60)
    for serial in range(100, 170):
        add_person(county["t1v1"], f"张{serial}", serial)
    html = _search(login(world.users["t1"]), q="张")
    assert "符合条件的超过 60 人，只列出前 60 人" in html and "第 1 / 2 页" in html
    html = _search(client, q="张10")
    assert "共 10 人" in html and "符合条件的超过" not in html
