"""浏览器测试 The indicator dashboard on a phone-sized screen: charts drawn, a number drills down to as many persons.

Uses the hand-built county of ``jkfp.indicators.tests.factories`` (expected figures worked out there).
The database is only touched before the browser starts and after it has finished (see
test_login_import_search.py for why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.indicators import services
from jkfp.indicators.tests.factories import YEAR, build_world

from .conftest import open_menu

SCREENSHOT = Path("/tmp/jkfp-dashboard.png")


@pytest.mark.browser
def test_dashboard_on_a_phone(phone: Any, county: dict[str, Any], make_user: Any) -> None:
    from playwright.sync_api import expect

    world = build_world(county, make_user)
    services.snapshot_refresh(year=YEAR)
    username = world.users["admin"].username

    with phone() as tab:
        page = tab.page
        tab.log_in(username)

        # The navigation is collapsed on a phone: open it and go to the dashboard.
        open_menu(page)
        page.get_by_role("link", name="指标台账").click()
        expect(page.get_by_role("heading", name=f"随县 · {YEAR}年度指标")).to_be_visible()
        expect(page.locator("#as-of")).to_contain_text("数据截至")
        row = page.locator('tr[data-code="major_treatment_rate"]')
        expect(row).to_contain_text("66.67%")  # 2/3, worked out by hand in the factories
        expect(page.locator('tr[data-code="enrolment_rate"]')).to_contain_text("57.14%")  # 4/7 insured
        # ECharts draws into a canvas in both chart boxes.
        expect(page.locator("#chart-bars canvas")).to_have_count(1)
        expect(page.locator("#chart-trend canvas")).to_have_count(1)
        page.locator("#chart-indicator").select_option(label="县域内就诊率")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # The county's treatment numerator (2) opens the list of exactly those 2 cases.
        row.locator("td").nth(1).get_by_role("link").first.click()
        expect(page.locator("#drill-count")).to_contain_text("共 2 例")
        expect(page.get_by_role("cell", name="甲", exact=True)).to_be_visible()
        expect(page.get_by_role("cell", name="癸", exact=True)).to_be_visible()

    assert tab.problems == []  # no CSP violation, no script error
    assert width <= 390  # the wide table scrolls inside its box
    assert (
        AuditEvent.objects.filter(action=AuditAction.VIEW_PERSON, object_type="indicator_drill").count() == 1
    )
