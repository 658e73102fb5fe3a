"""Care pages: work list, recording a visit, escalation, contracts, registers, cards; scoping and audit."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.care import services
from jkfp.care.models import Contract, FollowUp, Schedule
from jkfp.care.tests.conftest import CareWorld, add_condition, make_person
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_worklist_is_scoped_and_counts_sections(cw: CareWorld) -> None:
    Schedule.objects.update(due_on=timezone.localdate() - timedelta(days=3))
    response = _client(cw.users["doctor"]).get("/care/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "张三" in body and "李四" in body and "赵六" not in body
    assert "逾期3天" in body
    assert response.context["sections"][0] == ("overdue", "已逾期", 3)  # 张三 ×2, 李四 ×1


def test_worklist_query_count_does_not_grow_with_rows(cw: CareWorld) -> None:
    client = _client(cw.users["t1"])
    with CaptureQueriesContext(connection) as few:
        client.get("/care/?section=unseen")
    village = cw.county["t1v2"]
    for n in range(30):
        person = make_person(village, f"新人{n}", 100 + n)
        add_condition(person, cw.diseases["高血压"])
    from jkfp.care.bulk import schedules_sync

    schedules_sync(today=timezone.localdate())
    with CaptureQueriesContext(connection) as many:
        response = client.get("/care/?section=unseen")
    assert response.context["page"].paginator.count == 33
    assert len(many) == len(few)


def test_person_page_of_another_village_is_404_and_views_are_audited(cw: CareWorld) -> None:
    client = _client(cw.users["doctor"])
    assert client.get(f"/care/persons/{cw.persons['zhao'].pk}/").status_code == 404
    assert client.get(f"/care/persons/{cw.persons['zhang'].pk}/").status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW_PERSON, object_id=str(cw.persons["zhang"].pk)
    ).exists()


def test_recording_a_visit_moves_the_due_date(cw: CareWorld) -> None:
    zhang, htn, dm = cw.persons["zhang"], cw.diseases["高血压"], cw.diseases["2型糖尿病"]
    today = timezone.localdate()
    client = _client(cw.users["doctor"])
    page = client.get(f"/care/persons/{zhang.pk}/")
    assert set(page.context["form"].initial["diseases"]) == {htn.pk, dm.pk}  # both due: pre-ticked
    data = {
        "visited_on": today.isoformat(),
        "kind": "home",
        "diseases": [htn.pk, dm.pk],
        "systolic": "128",
        "diastolic": "82",
        "glucose": "6.1",
    }
    preview = client.post(f"/care/persons/{zhang.pk}/preview/", data, HTTP_HX_REQUEST="true")
    expected = (today + timedelta(days=91)).isoformat()
    assert preview.status_code == 200 and expected in preview.content.decode()
    assert not FollowUp.objects.exists()  # a preview saves nothing
    response = client.post(f"/care/persons/{zhang.pk}/visit/", data)
    assert response.status_code == 302
    assert Schedule.objects.get(person=zhang, disease=htn).due_on == today + timedelta(days=91)
    follow = client.get(response["Location"])
    assert expected in follow.content.decode()


def test_impossible_reading_is_refused_with_the_field_named(cw: CareWorld) -> None:
    zhang, htn = cw.persons["zhang"], cw.diseases["高血压"]
    response = _client(cw.users["doctor"]).post(
        f"/care/persons/{zhang.pk}/visit/",
        {
            "visited_on": timezone.localdate().isoformat(),
            "kind": "clinic",
            "diseases": [htn.pk],
            "systolic": "70",
            "diastolic": "90",
        },
    )
    assert response.status_code == 400
    assert "收缩压必须高于舒张压" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_inspector_cannot_record_and_doctor_cannot_see_escalations(cw: CareWorld) -> None:
    zhang, htn = cw.persons["zhang"], cw.diseases["高血压"]
    data = {"visited_on": timezone.localdate().isoformat(), "kind": "clinic", "diseases": [htn.pk]}
    assert _client(cw.users["inspector"]).post(f"/care/persons/{zhang.pk}/visit/", data).status_code == 403
    assert _client(cw.users["doctor"]).get("/care/overdue/").status_code == 403


def test_escalated_list_shows_old_overdue_items_of_the_township_only(cw: CareWorld) -> None:
    today = timezone.localdate()
    Schedule.objects.filter(person=cw.persons["zhang"]).update(
        due_on=today - timedelta(days=40), escalate_on=today - timedelta(days=10)
    )
    Schedule.objects.filter(person=cw.persons["zhao"]).update(
        due_on=today - timedelta(days=40), escalate_on=today - timedelta(days=10)
    )
    body = _client(cw.users["t1"]).get("/care/overdue/").content.decode()
    assert "张三" in body and "赵六" not in body and "李四" not in body and "40天" in body


def test_registers_export_with_chinese_headers_frozen_and_safe(cw: CareWorld) -> None:
    from openpyxl import load_workbook

    today = timezone.localdate()
    zhang = cw.persons["zhang"]
    zhang.phone = '=HYPERLINK("http://x")'
    zhang.save()
    services.contract_sign(
        user=cw.users["doctor"], person=zhang, team=cw.teams["t1"], signed_on=date(today.year, 1, 2)
    )
    services.contract_sign(
        user=cw.users["t2"],
        person=cw.persons["zhao"],
        team=services.team_create(user=cw.users["t2"], township=cw.county["t2"], name="第2镇一队"),
        signed_on=date(today.year, 1, 2),
    )
    client = _client(cw.users["t1"])
    data = background_export(client, "/care/registers/contracts.xlsx", year=today.year)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("序号", "乡镇", "村", "户编号", "姓名", "性别")
    assert sheet.freeze_panes == "A2"
    assert [r[4] for r in rows[1:]] == ["张三"]  # 赵六 is in township 2
    assert rows[1][7].startswith("'=")
    data = background_export(client, "/care/registers/fulfilment.xlsx", year=today.year)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "是否履约" and rows[1][3] == "张三" and rows[1][-1] == "否"
    downloads = AuditEvent.objects.filter(
        action=AuditAction.EXPORT, detail__startswith="下载后台导出：履约服务登记簿"
    )
    assert downloads.count() == 1
    # Another township's village is not exportable.
    outside = f"/care/registers/contracts.xlsx?year={today.year}&region={cw.county['t2v1'].code}"
    assert client.post(outside).status_code == 404


def test_contact_cards_pdf_for_a_village(cw: CareWorld) -> None:
    client = _client(cw.users["doctor"])
    response = client.get(f"/care/cards.pdf?village={cw.county['t1v1'].code}")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert client.get(f"/care/cards.pdf?village={cw.county['t2v1'].code}").status_code == 404


def test_renew_a_village(cw: CareWorld) -> None:
    today = timezone.localdate()
    services.contract_sign(
        user=cw.users["doctor"],
        person=cw.persons["li"],
        team=cw.teams["t1"],
        signed_on=date(today.year, 1, 1),
        end_on=date(today.year, 12, 31),
    )
    response = _client(cw.users["t1"]).post(
        "/care/contracts/renew/", {"village": cw.county["t1v1"].code, "year": today.year + 1}
    )
    assert response.status_code == 302
    assert Contract.objects.filter(signed_on=date(today.year + 1, 1, 1)).count() == 1
    assert (
        _client(cw.users["doctor"])
        .post("/care/contracts/renew/", {"village": cw.county["t1v1"].code, "year": today.year + 1})
        .status_code
        == 403
    )


def test_contract_list_and_teams_are_scoped(cw: CareWorld) -> None:
    today = timezone.localdate()
    services.contract_sign(
        user=cw.users["doctor"],
        person=cw.persons["zhang"],
        team=cw.teams["t1"],
        signed_on=date(today.year, 1, 2),
    )
    team2 = services.team_create(user=cw.users["t2"], township=cw.county["t2"], name="第2镇一队")
    services.contract_sign(
        user=cw.users["t2"], person=cw.persons["zhao"], team=team2, signed_on=date(today.year, 1, 2)
    )
    body = _client(cw.users["t1"]).get(f"/care/contracts/?year={today.year}").content.decode()
    assert "张三" in body and "赵六" not in body
    body = _client(cw.users["doctor"]).get("/care/teams/").content.decode()
    assert "第1镇一队" in body and "第2镇一队" not in body
    body = _client(cw.users["admin"]).get(f"/care/contracts/?year={today.year}").content.decode()
    assert "张三" in body and "赵六" in body


def test_links_follow_the_permission_matrix(
    cw: CareWorld, two_counties: dict[str, Any], make_user: Any
) -> None:
    """The overdue-list tab and the nav entries are the matrix's answer (``permissions.allowed``), not a
    role list of the page: the city administrator the matrix lets read the care pages sees them; the
    village doctor, whom the matrix keeps off the overdue list, does not see that tab."""
    from django.urls import reverse

    from jkfp.accounts.models import Role
    from jkfp.accounts.permissions import MATRIX, allowed

    city_admin = make_user(Role.CITY_ADMIN, "421300")
    overdue = f'href="{reverse("care:escalated")}"'
    for user, sees in ((city_admin, True), (cw.users["t1"], True), (cw.users["doctor"], False)):
        assert allowed(user, "care:escalated") is sees is MATRIX["care:escalated"].allows(user.role)
        body = _client(user).get(reverse("care:worklist")).content.decode()
        assert (overdue in body) is sees, user.role
    assert _client(city_admin).get(reverse("care:escalated")).status_code == 200
    assert _client(cw.users["doctor"]).get(reverse("care:escalated")).status_code == 403
    # The nav: the city administrator reaches the care, treatment and monitoring pages and user
    # management (the matrix allows them), not the county's roster import nor the hospital window.
    nav = _client(city_admin).get(reverse("web:home")).content.decode()
    for name in ("care:worklist", "treatment:case_list", "monitoring:queue", "web:user_list"):
        assert f'href="{reverse(name)}"' in nav, name
    for name in ("web:import_page", "settlement:window", "offline:devices"):
        assert f'href="{reverse(name)}"' not in nav, name
