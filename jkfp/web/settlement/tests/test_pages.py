"""一站式结算页面 Window (admission → discharge → slip), slip PDF, reversal, list (filters, scope,
queries), clearing (+ .xlsx) and the re-settlement report: roles, scope and audit on every page."""

from __future__ import annotations

import re
import zlib
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any

import openpyxl
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.settlement.models import Admission, AdmissionStatus, Claim, ClaimStatus, YearLedger
from jkfp.settlement.tests.factories import SettleWorld, submit
from jkfp.web.settlement.slip import slip_layout_text

pytestmark = pytest.mark.django_db

# settlement.md §5 example 1 (poor, level 2 in county, 20000.00 of which 1000.00 out of scope).
E1 = {
    "basic": "14800.00",
    "critical": "0.00",
    "aid": "2940.00",
    "supplementary": "260.00",
    "personal": "2000.00",
}


# The pages that name one claim take its key (claim ids are unique only per institution).
CLAIM_PAGES = frozenset({"slip", "slip_pdf", "reverse"})


def claim_pk(claim_id: str) -> int:
    """The key of the (only) claim with this id in the test's world."""
    return Claim.objects.get(claim_id=claim_id).pk


def url(name: str, *args: Any) -> str:
    """The page's path; a claim page's argument is the claim id, turned into the claim's key."""
    if name in CLAIM_PAGES:
        args = tuple(claim_pk(a) for a in args)
    return reverse(f"settlement:{name}", args=args)


def html_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def close(response: Any) -> None:
    """Close a file download without the request_finished handler closing the test's connection."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def admit(client: Any, sw: SettleWorld, person: str = "poor1", **changes: Any) -> Any:
    data = {
        "id_number": sw.persons[person].id_number,
        "admitted_on": "2020-02-20",
        "deferred_payment": "on",
        "agreement_signed_on": "2020-02-20",
        "deposit_waived_amount": "3000.00",
    }
    data.update(changes)
    return client.post(url("window"), {k: v for k, v in data.items() if v is not None})


# --- window ---------------------------------------------------------------------------------------


def test_window_admission_discharge_and_slip(sw: SettleWorld, login: Any) -> None:
    client = login(sw.users["hosp"])
    response = admit(client, sw)
    assert response.status_code == 302
    admission = Admission.objects.get()
    assert (admission.institution_id, admission.deferred_payment) == ("H001", True)
    assert admission.deposit_waived_amount == Decimal("3000.00")
    page = html_of(client.get(url("window")))
    assert "张三" in page and mask(sw.persons["poor1"].id_number) in page
    assert sw.persons["poor1"].id_number not in page

    response = client.post(
        url("discharge", admission.pk),
        {
            "claim_id": "ZY-0001",
            "discharged_on": "2020-03-01",
            "total_amount": "20000.00",
            "out_of_scope_amount": "1000.00",
        },
    )
    assert response.status_code == 302 and response["Location"] == url("slip", "ZY-0001")
    claim = Claim.objects.get(claim_id="ZY-0001")
    assert claim.source == "window" and claim.admission_id == admission.pk
    assert Admission.objects.get().status == AdmissionStatus.DISCHARGED
    slip = html_of(client.get(url("slip", "ZY-0001")))
    for amount in E1.values():
        assert amount in slip
    assert "90.00%" in slip and "免交押金 3000.00 元" in slip and "计算过程" in slip
    assert mask(sw.persons["poor1"].id_number) in slip and sw.persons["poor1"].id_number not in slip
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_SLIP, object_id="ZY-0001").count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SETTLE, object_id="ZY-0001").count() == 1
    # The patient left: no longer in the window's list, and a second discharge is refused.
    assert "张三" not in html_of(client.get(url("window")))
    again = client.post(url("discharge", admission.pk), {"claim_id": "ZY-0002"})
    assert again.status_code == 400 and "已出院结算" in again.content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "421321198001010000"}, "身份证号：身份证号不合法"),
        ({"agreement_signed_on": ""}, "协议签署日期：签署先诊疗后付费协议时必须填写协议签署日期"),
        (
            {"deferred_payment": None, "agreement_signed_on": ""},
            "免交押金（元）：未签署先诊疗后付费协议时不能免交押金",
        ),
        ({"admitted_on": "2999-01-01"}, "入院日期：入院日期不能晚于今天"),
        ({"deposit_waived_amount": "12.345"}, "免交押金（元）："),
    ],
)
def test_window_admission_errors_name_the_field(
    sw: SettleWorld, login: Any, changes: Any, message: str
) -> None:
    response = admit(login(sw.users["hosp"]), sw, **changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Admission.objects.exists()


def test_window_person_outside_the_register_is_refused(sw: SettleWorld, login: Any) -> None:
    from jkfp.core.idnumber import make_id_number

    stranger = make_id_number("421321", date(1970, 1, 1), 77)
    response = admit(login(sw.users["hosp"]), sw, id_number=stranger)
    assert response.status_code == 400 and "人员库中没有此人" in response.content.decode()


def test_discharge_errors_name_the_field(sw: SettleWorld, login: Any) -> None:
    client = login(sw.users["hosp"])
    admit(client, sw)
    admission = Admission.objects.get()
    response = client.post(
        url("discharge", admission.pk),
        {
            "claim_id": "ZY-1",
            "discharged_on": "2020-02-19",
            "total_amount": "100.00",
            "out_of_scope_amount": "200.00",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "出院日期：出院日期不能早于入院日期" in page
    assert "其中目录外费用（元）：目录外费用不能大于医疗总费用" in page
    assert not Claim.objects.exists()


def test_window_roles_and_institution_scope(sw: SettleWorld, login: Any) -> None:
    for who in ("admin", "fund", "t1"):
        assert login(sw.users[who]).get(url("window")).status_code == 403
    admit(login(sw.users["hosp"]), sw)
    admission = Admission.objects.get()
    # The clinic's window cannot discharge (or even see) H001's patient.
    assert login(sw.users["clinic"]).get(url("discharge", admission.pk)).status_code == 404
    assert "张三" not in html_of(login(sw.users["clinic"]).get(url("window")))


# --- slip, PDF, reversal -------------------------------------------------------------------------


def _settled(sw: SettleWorld) -> None:
    submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    submit(sw, "E2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)
    submit(sw, "E3", "poor2", "clinic1", date(2020, 5, 10), "8000.00", "800.00")


def test_slip_is_scoped(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    assert login(sw.users["clinic"]).get(url("slip", "E1")).status_code == 404
    assert login(sw.users["clinic"]).get(url("slip_pdf", "E1")).status_code == 404
    assert login(sw.users["t1"]).get(url("slip", "E1")).status_code == 403
    assert "14800.00" in html_of(login(sw.users["fund"]).get(url("slip", "E1")))
    assert "27660.00" in html_of(login(sw.users["admin"]).get(url("slip", "E2")))


def test_two_hospitals_same_claim_id_each_have_their_own_slip(sw: SettleWorld, login: Any) -> None:
    """Claim ids are each institution's own: the county sees both "E1"s, each slip at its own key;
    each hospital reaches only its own."""
    submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    submit(sw, "E1", "poor2", "clinic1", date(2020, 5, 10), "8000.00", "800.00")
    ours, theirs = (Claim.objects.get(claim_id="E1", institution_id=code) for code in ("H001", "H002"))
    page = html_of(login(sw.users["fund"]).get(url("list")))
    assert set(re.findall(r'href="/settlement/claims/(\d+)/"', page)) == {str(ours.pk), str(theirs.pk)}
    slips = [reverse("settlement:slip", args=[c.pk]) for c in (ours, theirs)]
    assert "14800.00" in html_of(login(sw.users["admin"]).get(slips[0]))
    assert "6300.00" in html_of(login(sw.users["admin"]).get(slips[1]))
    assert "14800.00" in html_of(login(sw.users["hosp"]).get(slips[0]))
    assert login(sw.users["hosp"]).get(slips[1]).status_code == 404
    assert login(sw.users["clinic"]).get(slips[0]).status_code == 404


def _pdf_streams(pdf: bytes) -> bytes:
    """Every FlateDecode stream of the PDF, inflated (where font names and text maps live)."""
    out = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            out.append(zlib.decompressobj().decompress(pdf[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join(out)


def test_slip_pdf_embeds_the_cjk_font_and_is_audited(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    response = login(sw.users["hosp"]).get(url("slip_pdf", "E1"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert 'filename="slip-E1.pdf"' in response["Content-Disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert b"NotoSansCJK" in _pdf_streams(pdf)  # the subset of Noto Sans CJK SC is embedded
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id="E1").count() == 1
    close(response)


def test_slip_pdf_lays_out_every_layer_and_the_personal_share(sw: SettleWorld, rf: Any) -> None:
    from jkfp.web.settlement.views import _slip_context

    _settled(sw)
    request = rf.get("/")
    request.user = sw.users["hosp"]
    text = "\n".join(slip_layout_text(_slip_context(request, claim_pk("E1"))))
    for label in ("基本医保", "大病保险", "医疗救助", "补充医疗保险", "个人负担（本次应付）", "实际报销比例"):
        assert label in text
    for amount in E1.values():
        assert amount in text
    assert "张三" in text and mask(sw.persons["poor1"].id_number) in text
    assert sw.persons["poor1"].id_number not in text


def test_reversal_from_the_slip(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    client = login(sw.users["hosp"])
    refused = client.post(url("reverse", "E1"), {"reason": ""}, follow=True)
    assert "冲销原因" in refused.content.decode()
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.SETTLED
    response = client.post(url("reverse", "E1"), {"reason": "费用录入错误"})
    assert response.status_code == 302
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.REVERSED
    assert AuditEvent.objects.filter(action=AuditAction.REVERSE, object_id="E1").count() == 1
    # The later claim E2 is now the year's first: the ledger holds only its amounts.
    ledger = YearLedger.objects.get(person=sw.persons["poor1"], year=2020)
    e2 = Claim.objects.get(claim_id="E2").settlements.get(is_current=True)
    assert ledger.personal_ytd == e2.personal and ledger.claim_count == 1
    slip = html_of(client.get(url("slip", "E1")))
    assert "本结算已冲销" in slip and "费用录入错误" in slip and "冲销本结算" not in slip


def test_inspector_reads_slips_but_cannot_reverse(sw: SettleWorld, login: Any, make_user: Any) -> None:
    _settled(sw)
    client = login(make_user("inspector", "421321"))
    page = html_of(client.get(url("slip", "E1")))
    assert "14800.00" in page and "冲销本结算" not in page
    assert client.post(url("reverse", "E1"), {"reason": "x"}).status_code == 403
    assert client.get(url("window")).status_code == 403
    assert client.get(url("resettle")).status_code == 403
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.SETTLED
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_SLIP, username="inspector_421321").count() == 1


def test_reversal_roles_and_scope(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    assert login(sw.users["fund"]).post(url("reverse", "E1"), {"reason": "x"}).status_code == 403
    assert login(sw.users["clinic"]).post(url("reverse", "E1"), {"reason": "x"}).status_code == 404
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.SETTLED


# --- list ----------------------------------------------------------------------------------------


def listed(page: str) -> set[str]:
    """The claim ids the list page links to (its links name the claims by key)."""
    keys = [int(k) for k in re.findall(r'href="/settlement/claims/(\d+)/"', page)]
    return set(Claim.objects.filter(pk__in=keys).values_list("claim_id", flat=True))


def test_list_scope_and_filters(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    assert listed(html_of(login(sw.users["hosp"]).get(url("list")))) == {"E1"}
    client = login(sw.users["fund"])
    page = html_of(client.get(url("list")))
    assert listed(page) == {"E1", "E2", "E3"} and "共 3 笔" in page
    assert sw.persons["poor1"].id_number not in page
    assert listed(html_of(client.get(url("list"), {"institution": "H002"}))) == {"E3"}
    assert listed(html_of(client.get(url("list"), {"date_from": "2020-05-01", "date_to": "2020-05-31"}))) == {
        "E3"
    }
    assert listed(html_of(client.get(url("list"), {"date_from": "2020-05-11"}))) == {"E2"}
    page = html_of(client.get(url("list"), {"category": "ordinary"}))
    assert "共 0 笔" in page and listed(page) == set()
    assert listed(html_of(client.get(url("list"), {"q": "E2"}))) == {"E2"}
    login(sw.users["hosp"]).post(url("reverse", "E1"), {"reason": "错误"})
    page = html_of(login(sw.users["fund"]).get(url("list"), {"status": "reversed"}))
    assert listed(page) == {"E1"} and "已冲销" in page
    assert listed(html_of(client.get(url("list")))) == {"E2", "E3"}
    bad = html_of(client.get(url("list"), {"date_from": "2020-06-01", "date_to": "2020-05-01"}))
    assert "结束日期不能早于开始日期" in bad and listed(bad) == set()


def test_list_queries_do_not_grow_with_rows(sw: SettleWorld, login: Any) -> None:
    client = login(sw.users["fund"])
    submit(sw, "Q0", "poor2", "clinic1", date(2020, 1, 5), "100.00", "0.00")
    with CaptureQueriesContext(connection) as few:
        html_of(client.get(url("list")))
    for i in range(1, 30):
        person = "poor1" if i % 2 else "plain"
        submit(sw, f"Q{i}", person, "county2", date(2020, 1, 1 + i % 27), "100.00", "0.00")
    with CaptureQueriesContext(connection) as many:
        assert "共 30 笔" in html_of(client.get(url("list")))
    assert len(many) == len(few)


# --- clearing and re-settlement -----------------------------------------------------------------


def test_clearing_page_and_export(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    client = login(sw.users["fund"])
    page = html_of(client.get(url("clearing"), {"month": "2020-03"}))
    assert "随县人民医院" in page and "14800.00" in page and "2940.00" in page
    response = client.get(url("clearing_export"), {"month": "2020-03"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(BytesIO(b"".join(response.streaming_content)), read_only=True)
    cells = [str(c) for row in book.active.iter_rows(values_only=True) for c in row if c is not None]
    assert "随县人民医院" in cells and any(c in ("14800", "14800.00", "14800.0") for c in cells)
    close(response)
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_type="clearing_statement").exists()
    # The clinic's window sees only its own institution.
    page = html_of(login(sw.users["clinic"]).get(url("clearing"), {"month": "2020-03"}))
    assert "随县人民医院" not in page
    bad = html_of(client.get(url("clearing"), {"month": "2020-13"}))
    assert "月份应为 YYYY-MM" in bad


def test_resettle_report_is_for_county_and_fund(sw: SettleWorld, login: Any) -> None:
    from jkfp.settlement.services import policy_install_preset

    _settled(sw)
    policy_install_preset(name="transition-2024", as_name="trial-2020", year=2020, title="测算用")
    assert login(sw.users["hosp"]).get(url("resettle")).status_code == 403
    client = login(sw.users["admin"])
    page = html_of(client.get(url("resettle"), {"year": "2020", "policy": "trial-2020"}))
    assert "各基金合计" in page and "个人负担增加的人员" in page
    assert sw.persons["poor1"].id_number not in page
    fund_page = html_of(
        login(sw.users["fund"]).get(url("resettle"), {"year": "2020", "policy": "trial-2020"})
    )
    assert "各基金合计" in fund_page
    # A dry run writes nothing.
    assert Claim.objects.get(claim_id="E1").settlements.count() == 1


def test_nav_item_for_window_and_fund(sw: SettleWorld, login: Any) -> None:
    assert 'href="/settlement/window/"' in html_of(login(sw.users["hosp"]).get("/"))
    assert 'href="/settlement/"' in html_of(login(sw.users["fund"]).get("/"))
    assert login(sw.users["t1"]).get(url("list")).status_code == 403
    assert 'href="/settlement/' not in html_of(login(sw.users["t1"]).get("/"))
