"""大病救治页面 Pages: scope on every page and export, roles (403 for inspectors' POSTs), audit, queries."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

import openpyxl
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.treatment import services
from jkfp.treatment.models import CaseFollowUp, MajorDiseaseCase, Referral, ReferralStatus
from jkfp.treatment.tests.factories import make_case, make_person
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db


LEDGER = "/treatment/ledger.xlsx"


def _get(client: Client, name: str, *args: Any, **params: str) -> Any:
    return client.get(reverse(f"treatment:{name}", args=args), params)


def _html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _close(response: Any) -> None:
    """Close a file download the way the test client does: without the request_finished handler that
    would close the test's database connection (its transaction is open)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _referral(tw: Any, county: Any, person: str = "zhang") -> Referral:
    return Referral.objects.create(
        person=tw.persons[person],
        case=tw.cases[person],
        from_institution=county["clinic"],
        to_institution=county["hospital"],
        referred_on=date(2024, 5, 1),
        reason=f"{tw.persons[person].name}转院",
    )


# --- scope ---------------------------------------------------------------------------------------


def test_case_list_is_scoped(tw: Any, login: Any) -> None:
    html = _html(_get(login(tw.users["t1"]), "case_list"))
    assert "张三" in html and "王五" in html and "赵六" not in html
    assert mask(tw.persons["zhang"].id_number) in html and tw.persons["zhang"].id_number not in html
    html = _html(_get(login(tw.users["admin"]), "case_list"))
    assert "张三" in html and "赵六" in html and "共 3 例" in html
    html = _html(_get(login(tw.users["doctor"]), "case_list"))
    assert "张三" in html and "王五" not in html and "赵六" not in html


def test_case_list_filters(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["admin"])
    html = _html(_get(client, "case_list", status="untreated"))
    assert "张三" in html and "王五" not in html and "透析治疗中" in html
    html = _html(_get(client, "case_list", disease=str(tw.diseases["脑卒中"].pk)))
    assert "赵六" in html and "张三" not in html
    html = _html(_get(client, "case_list", region=county["t1v2"].code))
    assert "王五" in html and "张三" not in html and f"?region={county['t1v2'].code}" in html


def test_case_list_region_of_another_township_is_not_a_choice(tw: Any, county: Any, login: Any) -> None:
    response = _get(login(tw.users["t1"]), "case_list", region=county["t2"].code)
    html = response.content.decode()
    assert response.status_code == 200 and "赵六" not in html and f'value="{county["t2"].code}"' not in html


def test_case_page_outside_scope_is_404(tw: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    assert _get(client, "case_detail", tw.cases["zhao"].pk).status_code == 404
    assert _get(client, "case_detail", 999999).status_code == 404
    client = login(tw.users["doctor"])
    assert _get(client, "case_detail", tw.cases["wang"].pk).status_code == 404


def test_posts_outside_scope_are_404_and_change_nothing(tw: Any, login: Any, county: Any) -> None:
    client = login(tw.users["t1"])
    zhao = tw.cases["zhao"]
    referral = _referral(tw, county, "zhao")
    assert (
        client.post(reverse("treatment:case_status", args=[zhao.pk]), {"status": "treated"}).status_code
        == 404
    )
    assert (
        client.post(
            reverse("treatment:case_followup", args=[zhao.pk]), {"visited_on": "2024-05-01", "note": "x"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("treatment:referral_decide", args=[referral.pk]), {"decision": "approved"}
        ).status_code
        == 404
    )
    assert _get(client, "referral_create", case=str(zhao.pk)).status_code == 404
    assert MajorDiseaseCase.objects.get(pk=zhao.pk).status == "in_treatment"
    assert not CaseFollowUp.objects.exists()
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.PENDING


def test_referral_list_is_scoped(tw: Any, county: Any, login: Any) -> None:
    _referral(tw, county, "zhang")
    _referral(tw, county, "zhao")
    html = _html(_get(login(tw.users["t1"]), "referral_list"))
    assert "张三转院" in html and "赵六转院" not in html
    html = _html(_get(login(tw.users["t2"]), "referral_list"))
    assert "赵六转院" in html and "张三转院" not in html
    html = _html(_get(login(tw.users["admin"]), "referral_list", status="pending"))
    assert "张三转院" in html and "赵六转院" in html


def test_ledger_export_is_scoped_and_audited(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    sheet = openpyxl.load_workbook(BytesIO(background_export(client, LEDGER))).active
    names = {row[3] for row in sheet.iter_rows(min_row=2, values_only=True) if isinstance(row[0], int)}
    assert names == {"张三", "王五"}
    event = AuditEvent.objects.get(action=AuditAction.EXPORT, detail__startswith="下载后台导出：")
    assert (event.user, event.object_type, event.region_code) == (
        tw.users["t1"],
        "export_run",
        tw.users["t1"].region_id,
    )
    assert "2例" in event.detail
    # Another township, or the whole county, is a 404 and no export is queued.
    for code in (county["t2"].code, county["t2v1"].code, "421321"):
        assert client.post(f"{LEDGER}?region={code}").status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT).count() == 2  # queued, downloaded


# --- roles ---------------------------------------------------------------------------------------


def test_inspector_reads_but_every_post_is_403(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["inspector"])
    case = tw.cases["zhang"]
    html = _html(_get(client, "case_detail", case.pk))
    assert "张三" in html and "修改救治状态" not in html and "登记回访" not in html
    assert _get(client, "case_list").status_code == 200
    assert _get(client, "referral_list").status_code == 200
    assert background_export(client, LEDGER)[:2] == b"PK"
    referral = _referral(tw, county)
    for name, args, data in (
        ("case_status", [case.pk], {"status": "treated"}),
        ("case_followup", [case.pk], {"visited_on": "2024-05-01", "note": "x"}),
        ("referral_decide", [referral.pk], {"decision": "approved"}),
        ("referral_create", [], {"id_number": tw.persons["zhang"].id_number}),
    ):
        assert client.post(reverse(f"treatment:{name}", args=args), data).status_code == 403, name
    assert _get(client, "referral_create").status_code == 403
    assert MajorDiseaseCase.objects.get(pk=case.pk).status == "untreated"
    assert not CaseFollowUp.objects.exists()


def test_hospital_window_has_no_treatment_pages(tw: Any, login: Any) -> None:
    client = login(tw.users["hospital"])
    assert _get(client, "case_list").status_code == 403
    assert client.post(LEDGER).status_code == 403


def test_anonymous_goes_to_login(client: Client, tw: Any) -> None:
    response = client.get(reverse("treatment:case_list"))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]


def test_village_doctor_adds_followups_but_cannot_change_status(tw: Any, login: Any) -> None:
    client = login(tw.users["doctor"])
    case = tw.cases["zhang"]
    html = _html(_get(client, "case_detail", case.pk))
    assert "登记回访" in html and "修改救治状态" not in html
    response = client.post(
        reverse("treatment:case_followup", args=[case.pk]),
        {"visited_on": "2024-05-01", "note": "按时透析"},
        follow=True,
    )
    assert "回访已登记" in _html(response) and "按时透析" in response.content.decode()
    assert CaseFollowUp.objects.get().user == tw.users["doctor"]
    assert (
        client.post(reverse("treatment:case_status", args=[case.pk]), {"status": "treated"}).status_code
        == 403
    )


# --- writes --------------------------------------------------------------------------------------


def test_status_form_refuses_untreated_without_reason(tw: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    case = tw.cases["wang"]
    response = client.post(
        reverse("treatment:case_status", args=[case.pk]), {"status": "untreated"}, follow=True
    )
    assert f"未救治原因：{services.ERR_UNTREATED_REASON}" in _html(response)
    assert MajorDiseaseCase.objects.get(pk=case.pk).status == "treated"
    response = client.post(
        reverse("treatment:case_status", args=[case.pk]),
        {"status": "untreated", "untreated_reason": "refused", "reason_note": ""},
        follow=True,
    )
    assert "救治状态已改为“未救治”" in _html(response)
    assert MajorDiseaseCase.objects.get(pk=case.pk).untreated_reason == "refused"


def test_case_page_is_audited_and_shows_followups_and_referrals(tw: Any, county: Any, login: Any) -> None:
    case = tw.cases["zhang"]
    CaseFollowUp.objects.create(case=case, visited_on=date(2024, 4, 2), note="情况稳定")
    _referral(tw, county)
    html = _html(_get(login(tw.users["t1"]), "case_detail", case.pk))
    assert "情况稳定" in html and "张三转院" in html and "尚无关联的住院结算" in html
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PERSON)
    assert (event.object_type, event.object_id, event.region_code) == (
        "major_disease_case",
        str(case.pk),
        tw.persons["zhang"].village_id,
    )


def test_referral_from_case_page_and_approval(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    case = tw.cases["zhang"]
    html = _html(_get(client, "referral_create", case=str(case.pk)))
    assert "张三" in html and 'name="id_number"' not in html
    response = client.post(
        reverse("treatment:referral_create") + f"?case={case.pk}",
        {
            "from_institution": "H002",
            "to_institution": "H001",
            "referred_on": "2024-05-01",
            "reason": "上级医院透析",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "treatment:case_detail", args=[case.pk]
    )
    referral = Referral.objects.get()
    assert (referral.person, referral.case, referral.status) == (tw.persons["zhang"], case, "pending")
    response = client.post(
        reverse("treatment:referral_decide", args=[referral.pk]),
        {"decision": "approved", "note": "同意"},
        follow=True,
    )
    assert "转诊已批准" in _html(response)
    referral.refresh_from_db()
    assert (referral.status, referral.approved_by) == ("approved", tw.users["t1"])


def test_referral_by_id_number_only_inside_scope(tw: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    data = {
        "from_institution": "H002",
        "to_institution": "H001",
        "referred_on": "2024-05-01",
        "reason": "转院",
    }
    response = client.post(
        reverse("treatment:referral_create"), {**data, "id_number": tw.persons["zhao"].id_number}
    )
    assert response.status_code == 400 and "在您的管辖范围内没有找到此人" in response.content.decode()
    response = client.post(reverse("treatment:referral_create"), {**data, "id_number": "123"})
    assert response.status_code == 400 and "身份证号不合法" in response.content.decode()
    response = client.post(
        reverse("treatment:referral_create"),
        {**data, "to_institution": "H002", "id_number": tw.persons["wang"].id_number},
    )
    assert response.status_code == 400 and services.ERR_REFERRAL_SAME in response.content.decode()
    assert not Referral.objects.exists()
    response = client.post(
        reverse("treatment:referral_create"), {**data, "id_number": tw.persons["wang"].id_number}
    )
    assert response.status_code == 302
    assert Referral.objects.get().person == tw.persons["wang"]


# --- queries -------------------------------------------------------------------------------------


def _queries(client: Client, name: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse(f"treatment:{name}")).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_do_not_grow_queries_with_rows(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["admin"])
    _referral(tw, county)
    few_cases, few_referrals = _queries(client, "case_list"), _queries(client, "referral_list")
    for i in range(30):
        person = make_person((county["t1v1"], county["t2v2"])[i % 2], f"甲{i}", 200 + i)
        case = make_case(person, tw.diseases["白内障"], ("treated", "untreated")[i % 2])
        Referral.objects.create(
            person=person,
            case=case,
            from_institution=county["clinic"],
            to_institution=county["hospital"],
            referred_on=date(2024, 5, 1),
            reason="转院",
        )
    assert _queries(client, "case_list") == few_cases
    assert _queries(client, "referral_list") == few_referrals
    assert few_cases <= 8


# --- 登记病例 and the change history -------------------------------------------------------------


def _case_post(tw: Any, **extra: str) -> dict[str, str]:
    data = {
        "id_number": tw.persons["wang"].id_number,
        "disease": str(tw.diseases["胃癌"].pk),
        "diagnosed_on": "2024-04-02",
        "diagnosis_institution": "H001",
        "diagnosis_hospital_name": "",
        "designated_institution": "",
        "status": "in_treatment",
        "untreated_reason": "",
        "reason_note": "",
    }
    data.update(extra)
    return data


def test_case_create_page_registers_a_case_and_its_history_shows(tw: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    assert "登记大病救治" in _html(_get(client, "case_create"))
    response = client.post(reverse("treatment:case_create"), _case_post(tw))
    case = MajorDiseaseCase.objects.get(person=tw.persons["wang"], disease=tw.diseases["胃癌"])
    assert response.status_code == 302 and response["Location"] == reverse(
        "treatment:case_detail", args=[case.pk]
    )
    assert (case.status, case.diagnosed_on, case.diagnosis_institution_id, case.created_by) == (
        "in_treatment",
        date(2024, 4, 2),
        "H001",
        tw.users["t1"],
    )
    client.post(
        reverse("treatment:case_status", args=[case.pk]),
        {"status": "untreated", "untreated_reason": "awaiting_elective_surgery", "reason_note": ""},
    )
    html = _html(_get(client, "case_detail", case.pk))
    history = html.split('id="case-history"')[1]
    assert "登记" in history and "救治中" in history and "等待择期手术" in history
    assert history.index("等待择期手术") < history.index("登记")  # newest first


def test_case_create_page_names_the_field_of_each_error(tw: Any, county: Any, login: Any) -> None:
    client = login(tw.users["t1"])
    before = MajorDiseaseCase.objects.count()
    # 未救治 without a reason.
    html = client.post(reverse("treatment:case_create"), _case_post(tw, status="untreated")).content.decode()
    assert "未救治原因：" in html and "必须填写" in html
    # A valid ID of a person outside the user's township: not found, nothing about them shown.
    zhao = tw.persons["zhao"]
    response = client.post(reverse("treatment:case_create"), _case_post(tw, id_number=zhao.id_number))
    assert response.status_code == 400 and "没有找到此人" in response.content.decode()
    assert zhao.name not in response.content.decode()
    # An invalid check character.
    bad = tw.persons["wang"].id_number[:17] + ("0" if tw.persons["wang"].id_number[17] != "0" else "1")
    html = client.post(reverse("treatment:case_create"), _case_post(tw, id_number=bad)).content.decode()
    assert "身份证号不合法" in html
    # The same disease twice.
    html = client.post(
        reverse("treatment:case_create"), _case_post(tw, disease=str(tw.diseases["肺癌"].pk))
    ).content.decode()
    assert "已登记该病种" in html
    assert MajorDiseaseCase.objects.count() == before


@pytest.mark.parametrize("role", ["inspector", "doctor", "hospital"])
def test_case_create_page_is_refused_to_roles_that_do_not_edit(tw: Any, login: Any, role: str) -> None:
    client = login(tw.users[role])
    assert _get(client, "case_create").status_code == 403
    assert client.post(reverse("treatment:case_create"), _case_post(tw)).status_code == 403
    assert not MajorDiseaseCase.objects.filter(disease=tw.diseases["胃癌"]).exists()


# --- costs and payments from the linked settlements ----------------------------------------------


def test_ledger_and_case_page_show_the_linked_settlements_to_the_fen(
    tw: Any, county: Any, login: Any
) -> None:
    """settlement.md §5 examples 1 and 2 (suixian-2020, one registered-poor person, two stays) linked to
    a case diagnosed before both: the ledger's amounts, totals and ratio are those of the examples."""
    from decimal import Decimal

    from jkfp.regions.models import Institution
    from jkfp.registry.models import Tag
    from jkfp.settlement.services import claim_submit

    person = tw.persons["wang"]
    Tag.objects.create(person=person, code="poor", start_on=date(2020, 1, 1), source="测试名单")
    case = tw.cases["wang"]
    MajorDiseaseCase.objects.filter(pk=case.pk).update(diagnosed_on=date(2020, 1, 15))
    provincial = Institution.objects.create(code="H900", name="省人民医院", level="3", in_county=False)
    common = {"person": person, "user": None}
    claim_submit(
        claim_id="C1", institution=county["hospital"], admitted_on=date(2020, 2, 20),
        discharged_on=date(2020, 3, 1), total_amount="20000.00", out_of_scope_amount="1000.00", **common,
    )  # fmt: skip
    claim_submit(
        claim_id="C2", institution=provincial, admitted_on=date(2020, 5, 20), discharged_on=date(2020, 6, 1),
        total_amount="150000.00", out_of_scope_amount="12000.00", referred=True, **common,
    )  # fmt: skip
    data = background_export(login(tw.users["t1"]), LEDGER)
    sheet = openpyxl.load_workbook(BytesIO(data), data_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    by_name = {r[3]: dict(zip(header, r, strict=True)) for r in rows[1:] if isinstance(r[0], int)}
    wang, zhang = by_name["王五"], by_name["张三"]
    expected = {
        "结算次数": 2,
        "医疗总费用": "170000.00",
        "医院承担（目录外超比例）": "0.00",
        "基本医保": "110700.00",  # 14800.00 + 95900.00
        "大病保险": "27660.00",  # 0.00 + 27660.00
        "医疗救助": "13048.00",  # 2940.00 + 10108.00
        "补充保障": "13592.00",  # 260.00 + 13332.00
        "个人自付": "5000.00",  # 2000.00 + 3000.00
    }
    for title, value in expected.items():
        got = wang[title]
        assert (got if title == "结算次数" else Decimal(str(got)).quantize(Decimal("0.01"))) == (
            value if title == "结算次数" else Decimal(value)
        ), title
    assert abs(wang["实际报销比例"] - 165000 / 170000) < 1e-12
    # 张三's case has no settled claim: a zero count and no amounts at all.
    assert zhang["结算次数"] == 0 and zhang["医疗总费用"] is None and zhang["实际报销比例"] is None
    totals = next(r for r in rows if r[0] == "合计")
    total = dict(zip(header, totals, strict=True))
    assert Decimal(str(total["个人自付"])).quantize(Decimal("0.01")) == Decimal("5000.00")
    assert total["结算次数"] == 2
    assert abs(total["实际报销比例"] - 165000 / 170000) < 1e-12
    html = _html(_get(login(tw.users["t1"]), "case_detail", case.pk)).split('id="case-payments"')[1]
    assert "2 次住院结算" in html and "170000.00" in html and "个人自付 5000.00" in html
