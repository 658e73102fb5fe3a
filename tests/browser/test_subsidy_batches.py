"""浏览器测试 事后补助 on a phone-sized screen: the county administrator registers a stay at the
provincial hospital from its insurance slip (with the slip's PDF) — §8 example 8, the county pays
15600.00 — records the person's bank card and makes a payment batch; the fund office approves it
(the maker could not), downloads the bank file and imports the bank's return file (失败: the card is
frozen); the failed subsidy goes into a new batch, approved by the administrator and paid.

Playwright's sync API runs an event loop in this thread, so the ORM is touched only before the
browser starts and after it has finished (see test_login_import_search.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.core.idnumber import make_id_number, mask
from jkfp.regions.models import Institution
from jkfp.registry.models import Person, Tag
from jkfp.settlement.models import BatchStatus, Claim, Payment, PaymentBatch, PaymentStatus

from .conftest import open_menu

SCREENSHOT = Path("/tmp/jkfp-subsidy-batch.png")
PDF = b"%PDF-1.4\n% provincial hospital slip\n" + b"2" * 500


def _return_file(path: Path, id_number: str, result: str, reason: str) -> Path:
    path.write_text(f"身份证号,金额,结果,原因\n{id_number},15600.00,{result},{reason}\n", encoding="utf-8")
    return path


@pytest.mark.browser
def test_register_batch_approve_bank_file_return_and_rebatch_on_a_phone(
    phone: Any, settings: Any, tmp_path: Path, county: dict[str, Any], make_user: Any
) -> None:
    from playwright.sync_api import expect

    from jkfp.settlement.services import policy_install_preset

    settings.VAR_DIR = tmp_path
    policy_install_preset(name="suixian-2020")
    Institution.objects.create(code="P001", name="湖北省人民医院", level="3", in_county=False)
    number = make_id_number("421321", date(1961, 3, 4), 517)
    person = Person.objects.create(
        id_number=number, name="欧阳冬梅", sex="F", birth_date=date(1961, 3, 4), village=county["t1v1"]
    )
    Tag.objects.create(person=person, code="poor", start_on=date(2016, 1, 1), source="国家平台")
    make_user(Role.COUNTY_ADMIN, "421321", username="xian", full_name="县卫健局经办")
    make_user(Role.FUND, "421321", username="yibao", full_name="医保局复核")
    slip = tmp_path / "省医院结算单.pdf"
    slip.write_bytes(PDF)
    failed = _return_file(tmp_path / "回盘1.csv", number, "失败", "账户已冻结")
    paid = _return_file(tmp_path / "回盘2.csv", number, "成功", "")

    with phone(accept_downloads=True) as tab:
        page = tab.page

        def log_out() -> None:
            open_menu(page)
            page.get_by_role("button", name="退出").click()
            expect(page.get_by_label("用户名")).to_be_visible()

        tab.log_in("xian", path="/login/?next=/settlement/subsidies/")
        expect(page.get_by_role("heading", name="事后补助 · 打卡发放")).to_be_visible()
        page.get_by_role("link", name="登记统筹地已结算住院").click()
        page.get_by_label("身份证号").fill(number)
        page.get_by_label("就诊医院").select_option(label="湖北省人民医院（三级，县域外）")
        page.get_by_label("结算号（结算单号）").fill("HBSY-2020-0801")
        page.get_by_label("入院日期").fill("2020-07-20")
        page.get_by_label("出院日期").fill("2020-08-01")
        page.get_by_label("医疗总费用（元）").fill("80000.00")
        page.get_by_label("其中目录外费用（元）").fill("6000.00")
        page.get_by_label("基本医保已付（元）").fill("44400.00")
        page.get_by_label("大病保险已付（元）").fill("15000.00")
        page.get_by_label("转诊备案").select_option(label="已转诊备案")
        page.get_by_label("结算单照片或PDF").set_input_files(str(slip))
        page.get_by_role("button", name="保存并核算补助").click()
        expect(page.get_by_text("已登记并核算：县级补助 15600.00 元，个人负担 5000.00 元")).to_be_visible()
        expect(page.get_by_test_id("subsidy")).to_have_text("15600.00")
        expect(page.get_by_test_id("personal")).to_have_text("5000.00")
        expect(page.locator("article.slip")).to_contain_text("住院费用事后补助结算单")
        expect(page.locator("article.slip")).not_to_contain_text(number)
        expect(page.locator("article.slip")).to_contain_text(mask(number))
        slip_width = page.evaluate("document.documentElement.scrollWidth")

        # No bank card yet: the subsidy cannot be picked; record the card, then make the batch.
        page.get_by_role("link", name="事后补助").click()
        expect(page.get_by_text("待发放补助（1笔）")).to_be_visible()
        page.get_by_role("link", name="登记银行账号").click()
        page.get_by_label("账户类型").select_option(label="社保卡")
        page.get_by_label("银行账号").fill("6217 0000 1234 5678")
        page.get_by_label("开户银行").fill("随州农商银行")
        page.get_by_role("button", name="保存银行账号").click()
        expect(page.get_by_text("已登记欧阳冬梅的银行账号")).to_be_visible()
        row = page.get_by_role("row").filter(has_text="HBSY-2020-0801")
        expect(row).to_contain_text("************5678")
        expect(row).to_contain_text("15600.00")
        page.get_by_label("批次说明").fill("2020年8月省级医院住院补助")
        page.get_by_role("button", name="制作发放批次").click()
        expect(page.get_by_test_id("batch-status")).to_have_text("待审批")
        expect(page.get_by_text("本批次须由制单人以外的人员审批")).to_be_visible()
        expect(page.get_by_role("button", name="审批通过")).to_have_count(0)
        log_out()

        # The fund office approves, downloads the bank file and imports the return file (failed).
        tab.log_in("yibao", path="/login/?next=/settlement/subsidies/")
        page.get_by_role("row").filter(has_text="待审批").get_by_role("link").click()
        page.get_by_role("button", name="审批通过").click()
        expect(page.get_by_test_id("batch-status")).to_have_text("已审批待回盘")
        with page.expect_download() as info:
            page.get_by_role("link", name="导出银行发放文件").click()
        bank_file = tmp_path / "bank.xlsx"
        info.value.save_as(bank_file)
        page.get_by_label("银行回盘文件（.xlsx 或 .csv）").set_input_files(str(failed))
        page.get_by_role("button", name="导入回盘").click()
        expect(page.get_by_text("已导入回盘：成功0笔，失败1笔")).to_be_visible()
        expect(page.get_by_test_id("batch-status")).to_have_text("已回盘")
        expect(page.get_by_role("row").filter(has_text="HBSY-2020-0801")).to_contain_text("账户已冻结")
        # the same file again: nothing changes
        page.get_by_label("银行回盘文件（.xlsx 或 .csv）").set_input_files(str(failed))
        page.get_by_role("button", name="导入回盘").click()
        expect(page.get_by_text("已导入回盘：成功0笔，失败0笔，已回盘未变1笔")).to_be_visible()

        # Re-batch the failed subsidy after the card was replaced.
        page.get_by_role("link", name="事后补助").click()
        expect(page.get_by_text("曾发放失败1次")).to_be_visible()
        page.get_by_role("link", name="修改").click()
        page.get_by_label("银行账号").fill("6217000012349999")
        page.get_by_role("button", name="保存银行账号").click()
        page.get_by_role("button", name="制作发放批次").click()
        expect(page.get_by_test_id("batch-status")).to_have_text("待审批")
        log_out()

        tab.log_in("xian", path="/login/?next=/settlement/subsidies/")
        page.get_by_role("row").filter(has_text="待审批").get_by_role("link").click()
        page.get_by_role("button", name="审批通过").click()
        page.get_by_label("银行回盘文件（.xlsx 或 .csv）").set_input_files(str(paid))
        page.get_by_role("button", name="导入回盘").click()
        expect(page.get_by_text("已导入回盘：成功1笔，失败0笔")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert tab.problems == []
    assert width <= 390 and slip_width <= 390
    rows = [list(r) for r in openpyxl.load_workbook(bank_file).active.iter_rows(values_only=True)]
    assert rows[1] == [1, "欧阳冬梅", number, "6217000012345678", 15600]
    claim = Claim.objects.get(claim_id="HBSY-2020-0801")
    current = claim.settlements.get(is_current=True)
    assert (current.aid, current.supplementary, current.personal) == (
        Decimal("10220.00"), Decimal("5380.00"), Decimal("5000.00")
    )  # fmt: skip
    payments = list(Payment.objects.order_by("id").values_list("status", "account_no", "bank_reason"))
    assert payments == [
        (PaymentStatus.FAILED, "6217000012345678", "账户已冻结"),
        (PaymentStatus.PAID, "6217000012349999", ""),
    ]
    batches = list(PaymentBatch.objects.order_by("id"))
    assert [(b.status, b.created_by.username, b.approved_by and b.approved_by.username) for b in batches] == [
        (BatchStatus.RETURNED, "xian", "yibao"),
        (BatchStatus.RETURNED, "yibao", "xian"),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=batches[0].batch_no).exists()
