"""浏览器测试 The hospital window on a phone-sized screen: admit a patient under 先诊疗后付费,
discharge, read the slip (every layer, the person's share to the fen), download the PDF.

Playwright's sync API runs an event loop in this thread, so the ORM is touched only before the
browser starts and after it has finished (see test_login_import_search.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.core.idnumber import make_id_number, mask
from jkfp.registry.models import Person, Tag
from jkfp.settlement.models import Admission, AdmissionStatus, Claim

from .conftest import open_menu

SCREENSHOT = Path("/tmp/jkfp-settlement-slip.png")
# settlement.md §5 example 1: 脱贫 (poor), level-2 county hospital, 2020-03-01, 20000.00 of which 1000.00
# outside the catalogues → basic 14800.00, critical 0.00, aid 2940.00, supplementary 260.00, personal 2000.00.
EXPECTED = {"基本医保": "14800.00", "医疗救助": "2940.00", "补充医疗保险（兜底保障）": "260.00"}


@pytest.mark.browser
def test_window_admit_discharge_slip_and_pdf_on_a_phone(
    phone: Any, tmp_path: Path, county: dict[str, Any], make_user: Any
) -> None:
    from playwright.sync_api import expect

    from jkfp.settlement.services import policy_install_preset

    policy_install_preset(name="suixian-2020")
    number = make_id_number("421321", date(1958, 7, 9), 415)
    person = Person.objects.create(
        id_number=number, name="欧阳春花", sex="F", birth_date=date(1958, 7, 9), village=county["t1v1"]
    )
    Tag.objects.create(person=person, code="poor", start_on=date(2016, 1, 1), source="国家平台")
    make_user(Role.HOSPITAL, "421321", username="chuangkou", full_name="窗口收费员", institution_code="H001")

    with phone(accept_downloads=True) as tab:
        page = tab.page

        tab.log_in("chuangkou")
        open_menu(page)
        page.get_by_role("link", name="一站式结算").click()
        expect(page.get_by_role("heading", name="结算窗口 · 随县人民医院")).to_be_visible()

        # Admission under the deferred-payment agreement, no deposit.
        page.get_by_label("身份证号").fill(number)
        page.get_by_label("入院日期").fill("2020-02-20")
        page.get_by_label("签署先诊疗后付费协议").check()
        page.get_by_label("协议签署日期").fill("2020-02-20")
        page.get_by_label("免交押金（元）").fill("3000.00")
        page.get_by_role("button", name="登记入院").click()
        expect(page.get_by_text("已登记欧阳春花入院")).to_be_visible()
        row = page.get_by_role("row").filter(has_text="欧阳春花")
        expect(row).to_contain_text(mask(number))
        expect(row).not_to_contain_text(number)
        window_width = page.evaluate("document.documentElement.scrollWidth")

        # Discharge: enter the stay's amounts and settle.
        row.get_by_role("link", name="出院结算").click()
        page.get_by_label("结算号（住院号）").fill("ZY20200301-07")
        page.get_by_label("出院日期").fill("2020-03-01")
        page.get_by_label("医疗总费用（元）").fill("20000.00")
        page.get_by_label("其中目录外费用（元）").fill("1000.00")
        page.get_by_role("button", name="结算并出具结算单").click()
        expect(page.get_by_text("结算完成：个人负担 2000.00 元")).to_be_visible()

        # The slip: every layer, the person's share, the ratio, the masked ID.
        slip = page.locator("article.slip")
        expect(slip).to_contain_text("住院费用一站式结算单")
        expect(page.get_by_test_id("personal")).to_have_text("2000.00")
        for label, amount in EXPECTED.items():
            expect(slip.get_by_role("row", name=f"{label} {amount}", exact=True)).to_be_visible()
        expect(slip).to_contain_text("90.00%")
        expect(slip).to_contain_text(mask(number))
        expect(slip).not_to_contain_text(number)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        with page.expect_download() as info:
            page.get_by_role("link", name="下载 PDF").click()
        download = info.value
        pdf_path = tmp_path / download.suggested_filename
        download.save_as(pdf_path)

    assert tab.problems == []  # no CSP violation, no script error
    assert width <= 390 and window_width <= 390  # nothing wider than the phone
    assert download.suggested_filename == "slip-ZY20200301-07.pdf"
    assert pdf_path.read_bytes().startswith(b"%PDF-") and pdf_path.stat().st_size > 10_000
    claim = Claim.objects.get(claim_id="ZY20200301-07")
    current = claim.settlements.get(is_current=True)
    assert (current.basic, current.personal) == (Decimal("14800.00"), Decimal("2000.00"))
    assert Admission.objects.get().status == AdmissionStatus.DISCHARGED
    actions = set(AuditEvent.objects.filter(object_id="ZY20200301-07").values_list("action", flat=True))
    assert actions == {AuditAction.SETTLE, AuditAction.VIEW_SLIP, AuditAction.EXPORT}
