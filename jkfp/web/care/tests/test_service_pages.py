"""Care service pages: health checks, drug deliveries, chronic cards, health records, teams, family doctors.

Each page: success, errors naming the field, another region's person/team/household = 404, wrong role = 403.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.care import services
from jkfp.care.models import (
    Checkup,
    ChronicCard,
    Contract,
    DoctorAssignment,
    DrugDelivery,
    HealthRecord,
    MemberRole,
    Team,
    TeamMember,
)
from jkfp.care.tests.conftest import CareWorld
from jkfp.registry.models import Household

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _today() -> str:
    return timezone.localdate().isoformat()


# --- health checks ---------------------------------------------------------------------------------


def test_doctor_records_a_health_check_with_its_items(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    client = _client(cw.users["doctor"])
    url = f"/care/persons/{zhang.pk}/checkups/"
    page = client.get(url)
    assert page.status_code == 200 and "保存体检" in page.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSON, object_id=str(zhang.pk)).exists()
    response = client.post(
        url,
        {
            "checked_on": _today(),
            "height": "168",
            "bp": "132/84",
            "other_items": "心电图：正常\n B超: 脂肪肝 \n",
            "conclusion": "血压偏高",
        },
    )
    assert response.status_code == 302 and response["Location"] == url
    checkup = Checkup.objects.get(person=zhang)
    assert checkup.items == {"身高（cm）": "168", "血压（mmHg）": "132/84", "心电图": "正常", "B超": "脂肪肝"}
    assert checkup.recorded_by == cw.users["doctor"]
    body = client.get(url).content.decode()
    assert "心电图：正常" in body and "血压偏高" in body


def test_health_check_errors_name_the_field(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    client = _client(cw.users["doctor"])
    url = f"/care/persons/{zhang.pk}/checkups/"
    response = client.post(url, {"checked_on": _today(), "other_items": "心电图正常"})
    assert response.status_code == 400
    assert "其他体检项目：第1行应为“项目：结果”" in response.content.decode()
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = client.post(url, {"checked_on": future})
    assert response.status_code == 400
    assert f"体检日期：{services.ERR_DATE_FUTURE}" in response.content.decode()
    assert not Checkup.objects.exists()


def test_health_checks_are_scoped_and_role_checked(cw: CareWorld) -> None:
    zhao = cw.persons["zhao"]
    doctor = _client(cw.users["doctor"])
    assert doctor.get(f"/care/persons/{zhao.pk}/checkups/").status_code == 404
    assert doctor.post(f"/care/persons/{zhao.pk}/checkups/", {"checked_on": _today()}).status_code == 404
    inspector = _client(cw.users["inspector"])
    zhang = cw.persons["zhang"]
    page = inspector.get(f"/care/persons/{zhang.pk}/checkups/")
    assert page.status_code == 200 and "保存体检" not in page.content.decode()
    assert inspector.post(f"/care/persons/{zhang.pk}/checkups/", {"checked_on": _today()}).status_code == 403
    assert not Checkup.objects.exists()


# --- drug deliveries -------------------------------------------------------------------------------


def test_drug_delivery_is_recorded_and_more_than_three_months_refused(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    client = _client(cw.users["doctor"])
    url = f"/care/persons/{zhang.pk}/deliveries/"
    response = client.post(url, {"delivered_on": _today(), "drugs": "硝苯地平缓释片", "supply_days": "93"})
    assert response.status_code == 400
    assert f"用药天数：{services.ERR_SUPPLY_DAYS}" in response.content.decode()
    response = client.post(url, {"delivered_on": _today(), "drugs": "", "supply_days": "30"})
    assert response.status_code == 400 and "药品：" in response.content.decode()
    assert not DrugDelivery.objects.exists()
    response = client.post(url, {"delivered_on": _today(), "drugs": "硝苯地平缓释片", "supply_days": "92"})
    assert response.status_code == 302
    delivery = DrugDelivery.objects.get()
    assert (delivery.person, delivery.supply_days, delivery.delivered_by) == (zhang, 92, cw.users["doctor"])
    assert "硝苯地平缓释片" in client.get(url).content.decode()


def test_drug_deliveries_are_scoped_and_role_checked(cw: CareWorld) -> None:
    data = {"delivered_on": _today(), "drugs": "二甲双胍", "supply_days": "30"}
    zhao, zhang = cw.persons["zhao"], cw.persons["zhang"]
    assert _client(cw.users["doctor"]).get(f"/care/persons/{zhao.pk}/deliveries/").status_code == 404
    assert _client(cw.users["t1"]).post(f"/care/persons/{zhao.pk}/deliveries/", data).status_code == 404
    assert (
        _client(cw.users["inspector"]).post(f"/care/persons/{zhang.pk}/deliveries/", data).status_code == 403
    )
    assert not DrugDelivery.objects.exists()


# --- chronic disease cards -------------------------------------------------------------------------


def test_township_issues_a_chronic_card_and_errors_name_the_field(cw: CareWorld) -> None:
    zhang, htn = cw.persons["zhang"], cw.diseases["高血压"]
    client = _client(cw.users["t1"])
    url = f"/care/persons/{zhang.pk}/cards/"
    today = timezone.localdate()
    bad = {"disease": htn.pk, "certified_on": _today(), "valid_to": (today - timedelta(days=1)).isoformat()}
    response = client.post(url, bad)
    assert response.status_code == 400
    assert f"有效期至：{services.ERR_CARD_VALIDITY}" in response.content.decode()
    response = client.post(url, {"disease": htn.pk, "certified_on": _today(), "card_no": "MB-001"})
    assert response.status_code == 302
    assert ChronicCard.objects.get().card_no == "MB-001"
    again = client.post(url, {"disease": htn.pk, "certified_on": _today()})
    assert again.status_code == 400 and f"病种：{services.ERR_CARD_EXISTS}" in again.content.decode()
    assert "MB-001" in client.get(url).content.decode()


def test_a_card_for_a_policy_outpatient_disease_of_another_catalogue_kind(cw: CareWorld) -> None:
    """Issue 19: cards are for the settlement policies' outpatient diseases; 终末期肾病 is a major
    disease in the catalogue yet one of them. A major disease no policy lists is still refused."""
    from jkfp.registry.models import Disease
    from jkfp.settlement.cards import outpatient_disease_names
    from jkfp.settlement.models import Policy
    from jkfp.settlement.services import policy_install_preset

    zhang = cw.persons["zhang"]
    esrd, leukaemia = Disease.objects.get(name="终末期肾病"), Disease.objects.get(name="儿童白血病")
    client = _client(cw.users["t1"])
    url = f"/care/persons/{zhang.pk}/cards/"
    if not Policy.objects.exists():  # the migrations install the presets; else install one
        policy_install_preset(name="suixian-2020")
    assert "终末期肾病" in outpatient_disease_names()
    page = client.get(url).content.decode()
    assert "终末期肾病" in page and "儿童白血病" not in page
    assert client.post(url, {"disease": esrd.pk, "certified_on": _today()}).status_code == 302
    assert ChronicCard.objects.get().disease == esrd
    for disease in (leukaemia, esrd):  # care alone (no policy list passed) takes chronic kinds only
        with pytest.raises(ValidationError) as info:
            services.chronic_card_issue(
                user=cw.users["t1"], person=zhang, disease=disease, certified_on=timezone.localdate()
            )
        assert info.value.message_dict == {"disease": [services.ERR_CARD_DISEASE]}


def test_chronic_cards_are_scoped_and_only_township_or_county_issue_them(cw: CareWorld) -> None:
    zhang, zhao, htn = cw.persons["zhang"], cw.persons["zhao"], cw.diseases["高血压"]
    data = {"disease": htn.pk, "certified_on": _today()}
    assert _client(cw.users["t1"]).get(f"/care/persons/{zhao.pk}/cards/").status_code == 404
    doctor = _client(cw.users["doctor"])
    page = doctor.get(f"/care/persons/{zhang.pk}/cards/")
    assert page.status_code == 200 and "办理慢病卡</button>" not in page.content.decode()
    assert doctor.post(f"/care/persons/{zhang.pk}/cards/", data).status_code == 403
    assert not ChronicCard.objects.exists()


# --- health records --------------------------------------------------------------------------------


def test_health_record_is_opened_once(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    client = _client(cw.users["doctor"])
    url = f"/care/persons/{zhang.pk}/record/"
    assert "此人还没有健康档案" in client.get(url).content.decode()
    response = client.post(url, {"opened_on": "1900-01-01", "record_no": "DA-1"})
    assert response.status_code == 400
    assert f"建档日期：{services.ERR_DATE_BEFORE_BIRTH}" in response.content.decode()
    assert client.post(url, {"opened_on": _today(), "record_no": "DA-1"}).status_code == 302
    record = HealthRecord.objects.get(person=zhang)
    assert record.record_no == "DA-1"
    body = client.get(url).content.decode()
    assert "DA-1" in body and "建立健康档案</button>" not in body


def test_health_records_are_scoped_and_role_checked(cw: CareWorld) -> None:
    zhang, zhao = cw.persons["zhang"], cw.persons["zhao"]
    assert (
        _client(cw.users["doctor"])
        .post(f"/care/persons/{zhao.pk}/record/", {"opened_on": _today()})
        .status_code
        == 404
    )
    assert (
        _client(cw.users["inspector"])
        .post(f"/care/persons/{zhang.pk}/record/", {"opened_on": _today()})
        .status_code
        == 403
    )
    assert not HealthRecord.objects.exists()


def test_person_page_links_to_the_service_pages(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    body = _client(cw.users["doctor"]).get(f"/care/persons/{zhang.pk}/").content.decode()
    for path in ("checkups/", "deliveries/", "cards/", "record/"):
        assert f"/care/persons/{zhang.pk}/{path}" in body
    assert f"/care/households/{zhang.household_id}/doctor/" in body


# --- teams -----------------------------------------------------------------------------------------


def test_township_creates_a_team_renames_it_and_manages_members(cw: CareWorld) -> None:
    client = _client(cw.users["t1"])
    assert "新建团队" in client.get("/care/teams/").content.decode()
    response = client.post("/care/teams/new/", {"township": cw.county["t1"].code, "name": "第1镇二队"})
    team = Team.objects.get(name="第1镇二队")
    assert response.status_code == 302 and response["Location"] == f"/care/teams/{team.pk}/"
    assert team.institution == cw.county["clinic"]
    dup = client.post("/care/teams/new/", {"township": cw.county["t1"].code, "name": "第1镇一队"})
    assert dup.status_code == 400 and f"团队名称：{services.ERR_TEAM_EXISTS}" in dup.content.decode()
    other = client.post("/care/teams/new/", {"township": cw.county["t2"].code, "name": "越界队"})
    assert other.status_code == 400 and "乡镇：" in other.content.decode()
    assert not Team.objects.filter(name="越界队").exists()

    assert client.post(f"/care/teams/{team.pk}/", {"name": "第1镇三队"}).status_code == 302
    team.refresh_from_db()
    assert team.name == "第1镇三队"
    clash = client.post(f"/care/teams/{team.pk}/", {"name": "第1镇一队"})
    assert clash.status_code == 400 and f"团队名称：{services.ERR_TEAM_EXISTS}" in clash.content.decode()

    add = f"/care/teams/{team.pk}/members/"
    assert (
        client.post(add, {"name": "钱护士", "role": MemberRole.NURSE, "phone": "13900000003"}).status_code
        == 302
    )
    member = TeamMember.objects.get(team=team, name="钱护士")
    assert member.role == MemberRole.NURSE
    bad_role = client.post(add, {"name": "孙医生", "role": "boss"})
    assert bad_role.status_code == 400 and "团队角色：" in bad_role.content.decode()
    dup_member = client.post(add, {"name": "钱护士", "role": MemberRole.DOCTOR})
    assert (
        dup_member.status_code == 400 and f"姓名：{services.ERR_MEMBER_EXISTS}" in dup_member.content.decode()
    )
    assert "钱护士" in client.get(f"/care/teams/{team.pk}/").content.decode()
    # A member who never served is removed; one who has a household keeps the history as 离岗.
    assert client.post(f"/care/teams/{team.pk}/members/{member.pk}/remove/").status_code == 302
    assert not TeamMember.objects.filter(pk=member.pk).exists()
    served = TeamMember.objects.get(name="村医甲")
    DoctorAssignment.objects.create(
        household=cw.persons["zhang"].household, member=served, start_on=timezone.localdate()
    )
    t1 = cw.teams["t1"]
    assert client.post(f"/care/teams/{t1.pk}/members/{served.pk}/remove/").status_code == 302
    served.refresh_from_db()
    assert served.active is False


def test_teams_of_another_township_are_404_and_doctors_cannot_edit(cw: CareWorld) -> None:
    team2 = services.team_create(user=cw.users["t2"], township=cw.county["t2"], name="第2镇一队")
    member2 = services.team_member_add(user=cw.users["t2"], team=team2, name="周医生")
    t1 = _client(cw.users["t1"])
    assert t1.get(f"/care/teams/{team2.pk}/").status_code == 404
    assert t1.post(f"/care/teams/{team2.pk}/", {"name": "改名"}).status_code == 404
    assert t1.post(f"/care/teams/{team2.pk}/members/", {"name": "混入", "role": "doctor"}).status_code == 404
    assert t1.post(f"/care/teams/{team2.pk}/members/{member2.pk}/remove/").status_code == 404
    # A member id of another team under one's own team is a 404 too.
    assert t1.post(f"/care/teams/{cw.teams['t1'].pk}/members/{member2.pk}/remove/").status_code == 404
    assert TeamMember.objects.filter(pk=member2.pk, active=True).exists()
    doctor = _client(cw.users["doctor"])
    assert "新建团队" not in doctor.get("/care/teams/").content.decode()
    assert doctor.get(f"/care/teams/{cw.teams['t1'].pk}/").status_code == 403
    assert (
        doctor.post("/care/teams/new/", {"township": cw.county["t1"].code, "name": "村医队"}).status_code
        == 403
    )
    assert not Team.objects.filter(name="村医队").exists()


# --- family doctors --------------------------------------------------------------------------------


def test_assign_and_reassign_a_household_family_doctor_with_history(cw: CareWorld) -> None:
    household = cw.persons["zhang"].household
    wang = TeamMember.objects.get(name="王医生")
    cunyi = TeamMember.objects.get(name="村医甲")
    client = _client(cw.users["t1"])
    url = f"/care/households/{household.pk}/doctor/"
    today = timezone.localdate()
    first = (today - timedelta(days=30)).isoformat()
    assert client.post(url, {"member": wang.pk, "start_on": first}).status_code == 302
    assert client.post(url, {"member": cunyi.pk, "start_on": _today()}).status_code == 302
    history = list(DoctorAssignment.objects.filter(household=household).order_by("start_on"))
    assert [(a.member.name, a.end_on) for a in history] == [
        ("王医生", today - timedelta(days=1)),
        ("村医甲", None),
    ]
    body = client.get(url).content.decode()
    assert "当前家庭医生：<strong>村医甲</strong>" in body
    table = body[body.index('id="assignment-history"') :]
    assert table.index("村医甲") < table.index("王医生")  # newest first in the history
    assert f"{today - timedelta(days=1):%Y-%m-%d}" in table and "至今" in table
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_HOUSEHOLD, object_id=str(household.pk)).exists()


def test_family_doctor_errors_scope_and_role(cw: CareWorld) -> None:
    household = cw.persons["zhang"].household
    other = Household.objects.create(household_no="SX-9001", village=cw.county["t2v1"])
    team2 = services.team_create(user=cw.users["t2"], township=cw.county["t2"], name="第2镇一队")
    member2 = services.team_member_add(user=cw.users["t2"], team=team2, name="周医生")
    wang = TeamMember.objects.get(name="王医生")
    client = _client(cw.users["t1"])
    url = f"/care/households/{household.pk}/doctor/"
    # A doctor of another township is not offered: the field is named.
    response = client.post(url, {"member": member2.pk, "start_on": _today()})
    assert response.status_code == 400 and "家庭医生：" in response.content.decode()
    response = client.post(url, {"member": wang.pk, "start_on": "not a date"})
    assert response.status_code == 400 and "起始日期：" in response.content.decode()
    assert client.get(f"/care/households/{other.pk}/doctor/").status_code == 404
    assert (
        client.post(
            f"/care/households/{other.pk}/doctor/", {"member": wang.pk, "start_on": _today()}
        ).status_code
        == 404
    )
    doctor = _client(cw.users["doctor"])
    assert doctor.get(url).status_code == 200
    assert doctor.post(url, {"member": wang.pk, "start_on": _today()}).status_code == 403
    assert not DoctorAssignment.objects.exists()
    assert not Contract.objects.exists()
