"""浏览器测试 A monitoring case walked through the whole workflow on a phone-sized screen.

Alert (by a real scan over real settlements) → assign → home visit with a photo → propose →
county decision with the national system's reference → health measure → assisted → risk
eliminated. The database is touched only before the browser starts and after it has finished
(Playwright's sync API runs an event loop in this thread; the live server has its own).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.monitoring.models import CaseStatus, HealthMeasure, MonitoringCase, StepAttachment
from jkfp.monitoring.services import alert_scan
from jkfp.monitoring.tests.factories import make_person, pay, tag, zero_policy_text
from jkfp.settlement.services import policy_upload

SCREENSHOT = Path("/tmp/jkfp-monitoring-case.png")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.browser
def test_a_case_is_walked_through_the_whole_workflow_on_a_phone(
    phone: Any, settings: Any, tmp_path: Path, county: dict[str, Any], make_user: Any
) -> None:
    from playwright.sync_api import expect

    settings.VAR_DIR = tmp_path
    today = timezone.localdate()
    policy_upload(text=zero_policy_text(), fmt="toml")
    make_user(Role.COUNTY_ADMIN, "421321", username="xian_admin", full_name="县管理员")
    person = make_person(county["t1v1"], "欧阳秋菊")
    tag(person, "poor")
    pay(person, "5000.01", date(today.year, 1, 5), institution=county["hospital"])
    assert alert_scan(as_of=today).alerts_created == 1
    photo = tmp_path / "入户照片.png"
    photo.write_bytes(PNG)
    day = today.isoformat()

    with phone() as tab:
        page = tab.page

        tab.log_in("xian_admin", path="/login/?next=/monitoring/")
        expect(page.get_by_role("heading", name="预警队列")).to_be_visible()
        page.locator("#queue").get_by_text("欧阳秋菊").click()
        expect(page.get_by_role("heading", name=f"欧阳秋菊 · {today.year}年监测")).to_be_visible()
        expect(page.locator("#case-alerts")).to_contain_text("5000.01")

        def step(
            action: str,
            *,
            note: str = "",
            extra: dict[str, str] | None = None,
            upload: Path | None = None,
        ) -> None:
            form = page.locator("#step-form")
            form.get_by_label(action).check()
            expect(form.get_by_label("办理日期")).to_have_value(day)  # prefilled with today
            for label, value in (extra or {}).items():
                form.get_by_label(label).fill(value)
            if note:
                form.get_by_label("说明").fill(note)
            if upload is not None:
                form.get_by_label("附件（JPG/PNG/PDF，可多选）").set_input_files(str(upload))
            form.get_by_role("button", name="确认办理").click()

        # An illegal order is impossible from the page: only the next steps are offered.
        expect(page.locator("#step-form").get_by_label("提请认定")).to_have_count(0)
        step("分派核实", extra={"或填写责任人姓名": "李村医"})
        expect(page.locator("#case-status")).to_have_text("已分派")
        step("登记入户核实", note="入户核实：住院自付较多", upload=photo)
        expect(page.locator("#case-status")).to_have_text("已入户核实")
        expect(page.locator("#timeline")).to_contain_text("入户照片.png")
        step("提请认定", note="建议纳入监测对象")
        step("登记认定结果", extra={"国家监测系统编号": "FPJC-2026-000123"}, note="县级认定")
        expect(page.locator("#case-reference")).to_have_text("FPJC-2026-000123")

        # Assisted without a measure is refused with a clear message; record one, then retry.
        step("登记落实帮扶", note="落实帮扶")
        expect(page.get_by_role("alert").filter(has_text="请先登记至少一项健康帮扶措施")).to_be_visible()
        measure = page.locator("#measure-form")
        measure.get_by_label("措施类型").select_option(label="医疗救助")
        expect(measure.get_by_label("落实日期")).to_have_value(day)
        measure.get_by_label("金额（元）").fill("1200.00")
        measure.get_by_label("关联编号").fill("救助-001")
        measure.get_by_role("button", name="登记措施").click()
        expect(page.locator("#measures")).to_contain_text("医疗救助")
        step("登记落实帮扶", note="落实医疗救助")
        step("登记风险消除", note="家庭收支恢复正常")
        expect(page.locator("#case-status")).to_have_text("风险已消除")
        expect(page.locator("#timeline > li")).to_have_count(7)
        expect(page.get_by_text("监测已结束")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert tab.problems == []
    assert width <= 390
    case = MonitoringCase.objects.get(person=person)
    assert case.status == CaseStatus.RISK_ELIMINATED
    assert case.external_reference == "FPJC-2026-000123"
    assert list(case.steps.order_by("at", "id").values_list("to_status", flat=True)) == [
        "alerted",
        "assigned",
        "verified",
        "proposed",
        "identified",
        "assisted",
        "risk_eliminated",
    ]
    attachment = StepAttachment.objects.get()
    assert (tmp_path / attachment.stored_path).read_bytes() == PNG
    assert HealthMeasure.objects.get(case=case).reference == "救助-001"
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW_PERSON, object_type="monitoring_case", object_id=str(case.pk)
    ).exists()
