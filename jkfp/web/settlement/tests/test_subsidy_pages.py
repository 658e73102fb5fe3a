"""事后补助页面 Registering a stay settled elsewhere from its slip (§8 example 8 to the fen, with the
slip's PDF), the bank account (masked, revealed with audit), the batch pages (maker ≠ checker, bank
file, return file, re-batch), the ledger export; roles and scope."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.settlement import subsidies
from jkfp.settlement.models import BatchStatus, Claim, ClaimAttachment, Payment, PaymentBatch, PaymentStatus
from jkfp.settlement.tests.factories import SettleWorld, amounts
from jkfp.web.settlement.slip import slip_layout_text
from jkfp.web.settlement.tests.test_pages import CLAIM_PAGES, claim_pk, close, html_of
from jkfp.web.settlement.views import _slip_context

pytestmark = pytest.mark.django_db

EXAMPLE_8 = ("80000.00", "0.00", "44400.00", "15000.00", "10220.00", "5380.00", "5000.00")
PDF = b"%PDF-1.4\n% slip\n" + b"1" * 300


def url(name: str, *args: Any) -> str:
    if name in CLAIM_PAGES:
        args = tuple(claim_pk(a) for a in args)
    return reverse(f"settlement:{name}", args=args)


def _form(sw: SettleWorld, **changes: Any) -> dict[str, Any]:
    data = {
        "id_number": sw.persons["poor1"].id_number,
        "institution": "H900",
        "claim_id": "SZ-8",
        "admitted_on": "2020-07-20",
        "discharged_on": "2020-08-01",
        "total_amount": "80000.00",
        "out_of_scope_amount": "6000.00",
        "basic_paid_amount": "44400.00",
        "critical_paid_amount": "15000.00",
        "referred": "1",
        "attachment": SimpleUploadedFile("省医院结算单.pdf", PDF, content_type="application/pdf"),
    }
    data.update(changes)
    return data


def test_register_page_settles_example_8_and_shows_the_subsidy_slip(
    sw: SettleWorld, login: Callable[[Any], Any], settings: Any, tmp_path: Any, rf: Any
) -> None:
    settings.VAR_DIR = tmp_path
    client = login(sw.users["fund"])
    assert "就诊医院" in html_of(client.get(url("subsidy_register")))
    response = client.post(url("subsidy_register"), _form(sw))
    assert response.status_code == 302 and response["Location"] == url("slip", "SZ-8")
    claim = Claim.objects.get(claim_id="SZ-8")
    assert amounts(claim.settlements.get(is_current=True)) == EXAMPLE_8
    page = html_of(client.get(url("slip", "SZ-8")))
    assert "住院费用事后补助结算单" in page
    assert "医保已付（基本医保 44400.00 + 大病保险 15000.00）" in page
    assert '<td class="amount" data-testid="subsidy">15600.00</td>' in page
    assert mask(sw.persons["poor1"].id_number) in page and sw.persons["poor1"].id_number not in page
    pdf = client.get(url("slip_pdf", "SZ-8"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    request = rf.get("/")
    request.user = sw.users["fund"]
    text = "\n".join(slip_layout_text(_slip_context(request, claim_pk("SZ-8"))))
    for words in (
        "住院费用事后补助结算单",
        "县级补助（医疗救助 10220.00 + 兜底保障 5380.00）",
        "15600.00",
        "个人最终负担",
    ):
        assert words in text
    attachment = ClaimAttachment.objects.get(claim=claim)
    download = client.get(url("subsidy_attachment", attachment.pk))
    assert b"".join(download.streaming_content) == PDF
    close(download)
    assert (
        AuditEvent.objects.filter(object_type="claim_attachment", action=AuditAction.VIEW_PERSON).count() == 1
    )


def test_register_page_names_bad_fields_and_writes_nothing(
    sw: SettleWorld, login: Callable[[Any], Any]
) -> None:
    client = login(sw.users["admin"])
    response = client.post(url("subsidy_register"), _form(sw, basic_paid_amount="70000.00"))
    assert response.status_code == 400
    assert (
        "基本医保已付与大病保险已付之和超过目录内费用（医疗总费用 − 目录外费用 = 74000.00）"
        in response.content.decode()
    )
    bad_type = SimpleUploadedFile("slip.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client.post(url("subsidy_register"), _form(sw, attachment=bad_type))
    assert response.status_code == 400 and "附件“slip.pdf”类型不支持" in response.content.decode()
    assert not Claim.objects.exists()
    # the hospital window and township staff may not open it
    assert login(sw.users["hosp"]).get(url("subsidy_register")).status_code == 403
    assert login(sw.users["t1"]).get(url("subsidies")).status_code == 403


def test_bank_account_page_masks_and_reveals_with_audit(sw: SettleWorld, login: Callable[[Any], Any]) -> None:
    person = sw.persons["poor1"]
    client = login(sw.users["admin"])
    response = client.post(
        url("bank_account", person.pk),
        {"kind": "social_security", "account_no": "6217 0000 1111 2222", "bank_name": "农商银行"},
    )
    assert response.status_code == 302
    page = html_of(client.get(url("bank_account", person.pk)))
    assert "************2222" in page and "6217000011112222" not in page
    revealed = html_of(client.post(url("bank_account_reveal", person.pk)))
    assert "6217000011112222" in revealed
    event = AuditEvent.objects.get(action=AuditAction.REVEAL_ID, object_type="bank_account")
    assert event.object_id == str(person.pk)
    bad = client.post(url("bank_account", person.pk), {"kind": "social_security", "account_no": "12ab"})
    assert bad.status_code == 400 and subsidies.ERR_ACCOUNT_NO in bad.content.decode()


def test_batch_pages_maker_checker_bank_file_return_and_rebatch(
    sw: SettleWorld, login: Callable[[Any], Any], settings: Any, tmp_path: Any
) -> None:
    settings.VAR_DIR = tmp_path
    admin, fund = sw.users["admin"], sw.users["fund"]
    login(fund).post(url("subsidy_register"), _form(sw))
    subsidies.bank_account_set(person=sw.persons["poor1"], account_no="6217000011112222", user=admin)
    client = login(admin)
    overview = html_of(client.get(url("subsidies")))
    assert "待发放补助（1笔）" in overview and "15600.00" in overview
    response = client.post(url("subsidy_batch_create"), {"claims": [claim_pk("SZ-8")], "note": "八月"})
    batch = PaymentBatch.objects.get()
    assert response["Location"] == url("subsidy_batch", batch.pk)
    page = html_of(client.get(url("subsidy_batch", batch.pk)))
    assert "本批次须由制单人以外的人员审批" in page and "审批通过" not in page
    client.post(url("subsidy_batch_approve", batch.pk))  # the maker: refused
    assert PaymentBatch.objects.get().status == BatchStatus.PENDING
    client = login(fund)
    assert "审批通过" in html_of(client.get(url("subsidy_batch", batch.pk)))
    client.post(url("subsidy_batch_approve", batch.pk))
    batch.refresh_from_db()
    assert (batch.status, batch.approved_by) == (BatchStatus.APPROVED, fund)
    download = client.get(url("subsidy_bank_file", batch.pk))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    close(download)
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["序号", "姓名", "身份证号", "银行账号", "金额"]
    assert rows[1] == [1, "张三", sw.persons["poor1"].id_number, "6217000011112222", 15600]
    csv = "身份证号,金额,结果,原因\n" + f"{sw.persons['poor1'].id_number},15600.00,失败,户名不符\n"
    upload = SimpleUploadedFile("回盘.csv", csv.encode("utf-8"), content_type="text/csv")
    client.post(url("subsidy_batch_return", batch.pk), {"file": upload})
    assert Payment.objects.get().status == PaymentStatus.FAILED
    page = html_of(client.get(url("subsidy_batch", batch.pk)))
    assert "户名不符" in page and "已回盘" in page
    # the failed subsidy is payable again
    assert "曾发放失败1次" in html_of(client.get(url("subsidies")))
    # the ledger export: per person and per batch, masked IDs
    ledger = client.get(url("subsidy_ledger"))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(ledger.streaming_content)))
    close(ledger)
    person_rows = [list(r) for r in book["按人"].iter_rows(values_only=True)]
    assert person_rows[1][1:5] == ["张三", mask(sw.persons["poor1"].id_number), "第1镇1村", "SZ-8"]
    assert person_rows[1][12:16] == [15600, 5000, 0, "发放失败"]
    assert [list(r)[:4] for r in book["按批次"].iter_rows(values_only=True)][1] == [
        batch.batch_no, "已回盘", 1, 15600
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_type="subsidy_ledger").count() == 1


def test_batch_pages_are_scoped(sw: SettleWorld, login: Callable[[Any], Any], make_user: Any) -> None:
    from jkfp.accounts.models import Role
    from jkfp.regions.models import Region, RegionLevel

    subsidies.elsewhere_register(
        user=sw.users["admin"], claim_id="SZ-1", person=sw.persons["poor1"], institution=sw.institutions["out3"],
        admitted_on=date(2020, 8, 1), discharged_on=date(2020, 8, 1), total_amount="80000.00",
        out_of_scope_amount="6000.00", basic_paid_amount=Decimal("44400.00"), critical_paid_amount="15000.00",
    )  # fmt: skip
    subsidies.bank_account_set(
        person=sw.persons["poor1"], account_no="6217000011112222", user=sw.users["admin"]
    )
    batch = subsidies.batch_create(user=sw.users["admin"], claims=[claim_pk("SZ-1")])
    Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    other = make_user(Role.FUND, "421322", username="fund-other")
    client = login(other)
    assert client.get(url("subsidy_batch", batch.pk)).status_code == 404
    assert client.get(url("bank_account", sw.persons["poor1"].pk)).status_code == 404
    assert "没有待发放的补助" in html_of(client.get(url("subsidies")))
