"""浏览器测试 On a phone-sized screen the county administrator finds a blank village among the village
tiles and turns it into a rectification item in one click (issue 16 "done when").

Uses the facilities world of ``jkfp.capacity.tests.conftest`` plus one village with neither a clinic nor a
covering centre. The database is touched only before the browser starts and after it has finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jkfp.capacity.tests.conftest import CapacityWorld, world
from jkfp.indicators.models import Rectification
from jkfp.regions.models import Region, RegionLevel

from .conftest import open_menu

__all__ = ["world"]
SCREENSHOT = Path("/tmp/jkfp-capacity.png")


@pytest.mark.browser
def test_blank_village_becomes_a_rectification_item_on_a_phone(
    phone: Any, world: CapacityWorld, make_user: Any
) -> None:
    from playwright.sync_api import expect

    Region.objects.create(
        code="421321001003", name="第1镇3村", level=RegionLevel.VILLAGE, parent=world.county["t1"]
    )
    make_user("county_admin", "421321", username="xianweijian")

    with phone() as tab:
        page = tab.page
        tab.log_in("xianweijian")
        open_menu(page)
        page.get_by_role("link", name="基层能力").click()
        expect(page.get_by_role("heading", name="随县 · 基层医疗卫生服务能力")).to_be_visible()
        tile = page.locator('.village-tile[data-status="blank"]')
        expect(tile).to_have_count(1)
        expect(tile).to_have_text("第1镇3村")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        tile.click()
        expect(page.locator("#village-status")).to_have_text("空白点")
        blank = page.locator('#village-blank-points li[data-subject="blank:village:421321001003"]')
        expect(blank).to_contain_text("无村卫生室服务本村")
        blank.get_by_role("button", name="转为整改").click()

        expect(page.get_by_role("heading", name="问题整改")).to_be_visible()
        expect(page.get_by_role("alert").first).to_contain_text("已转为整改事项")
        expect(
            page.get_by_role("cell", name="空白点（村）：第1镇3村（421321001003）", exact=False)
        ).to_be_visible()

        # Back on the overview the blank point shows its rectification instead of the button.
        page.goto(f"{tab.base_url}/capacity/")
        row = page.locator('#blank-table tr[data-subject="blank:village:421321001003"]')
        expect(row).to_contain_text("整改中")
        expect(row.get_by_role("button", name="转为整改")).to_have_count(0)

    assert tab.problems == []  # no CSP violation, no script error
    assert width <= 390  # the page fits the phone
    item = Rectification.objects.get(subject="blank:village:421321001003")
    assert (item.region_code, item.owner, item.status) == ("421321001003", "第1镇卫生院", "open")
