"""浏览器测试 In headless Chromium on a phone-sized screen: log in, import a roster, find the person.

Playwright's sync API runs an event loop in this thread, so Django's async-safety check would
refuse the ORM here; the test only touches the database before the browser starts and after it
has finished, and the live server runs the requests in its own thread.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.core.idnumber import make_id_number, mask
from jkfp.registry.models import ImportRun, ImportStatus, Person
from jkfp.registry.services import disease_catalogue_load

from .conftest import open_menu

SCREENSHOT = Path("/tmp/jkfp-person.png")


@pytest.fixture
def roster(tmp_path: Path, county: dict[str, Any]) -> tuple[Path, str]:
    """A two-person roster of 第1镇1村 and the ID number of the person the test looks for."""
    wanted = make_id_number("421321", date(1956, 4, 18), 731)
    other = make_id_number("421321", date(1959, 9, 2), 742)
    village = county["t1v1"].code
    path = tmp_path / "国家平台2021.csv"
    path.write_text(
        "身份证号,姓名,村代码,户编号,与户主关系,人员类别,患病情况,联系电话\n"
        f"{wanted},欧阳春花,{village},SX-0001,户主,脱贫、低保,脑卒中、高血压,13900001111\n"
        f"{other},欧阳大山,{village},SX-0001,配偶,脱贫,,\n",
        encoding="utf-8",
    )
    return path, wanted


@pytest.mark.browser
def test_login_import_and_find_a_person_on_a_phone(
    live_server: Any, phone: Any, settings: Any, tmp_path: Path, make_user: Any, roster: tuple[Path, str]
) -> None:
    from playwright.sync_api import expect

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.IMPORT_DIR = tmp_path / "imports"
    disease_catalogue_load()
    make_user(Role.COUNTY_ADMIN, "421321", username="xian_admin", full_name="县管理员")
    roster_path, wanted = roster
    persons_before = Person.objects.count()

    with phone() as tab:
        page = tab.page

        # Log in.
        page.goto(f"{live_server.url}/")
        expect(page).to_have_url(f"{live_server.url}/login/?next=/")
        tab.log_in("xian_admin", path=None)
        expect(page.get_by_role("heading", name="您好，县管理员")).to_be_visible()

        # The navigation is collapsed on a phone: open it, go to the import page.
        menu = page.get_by_role("link", name="导入名单", exact=True)
        expect(menu).to_be_hidden()
        open_menu(page)
        menu.click()
        page.get_by_label("来源名单").fill("国家平台")
        page.get_by_label("名单年度").fill("2021")
        expect(page.locator("#id_preview")).to_be_checked()  # 先预览 is the default
        page.get_by_label("名单文件").set_input_files(str(roster_path))
        page.get_by_role("button", name="上传并导入").click()

        # The preview comes first: counts, mapped columns and the rows as they will be imported; nothing written.
        preview = page.locator("#import-preview")
        expect(preview).to_contain_text("预览（尚未写入）", timeout=15000)
        expect(preview.locator(".summary-grid > div").nth(1)).to_contain_text("有效2")
        expect(preview.locator(".summary-grid > div").nth(3)).to_contain_text("新增2")
        expect(page.locator("#preview-rows")).to_contain_text("欧阳春花")
        expect(page.locator("#preview-rows")).to_contain_text("欧阳大山")
        assert Person.objects.count() == persons_before, "the preview wrote persons"
        page.get_by_role("button", name="确认导入").click()
        summary = page.locator("#import-summary")
        expect(summary).to_contain_text("导入完成", timeout=15000)
        expect(summary).to_contain_text("新增人员")

        # Search the person by name (htmx swaps the results in) and open the person page.
        open_menu(page)
        page.get_by_role("link", name="人员查询").click()
        page.get_by_label("姓名或身份证号").fill("欧阳春")
        page.get_by_role("button", name="查询").click()
        result = page.get_by_role("link", name="欧阳春花")
        expect(result).to_be_visible()
        expect(page.locator("#results")).to_contain_text(mask(wanted))
        expect(page.locator("#results")).not_to_contain_text(wanted)
        result.click()
        expect(page.get_by_role("heading", name="欧阳春花")).to_be_visible()
        expect(page.locator("#id-number")).to_contain_text(mask(wanted))
        expect(page.get_by_role("cell", name="高血压", exact=True)).to_be_visible()
        page.get_by_role("button", name="显示完整身份证号").click()
        expect(page.locator("#id-number")).to_have_text(wanted)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert tab.problems == []  # no CSP violation, no script error
    assert width <= 390  # nothing wider than the phone: wide tables scroll inside their box
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE and run.summary["created"] == 2
    person = Person.objects.get(id_number=wanted)
    actions = set(
        AuditEvent.objects.filter(object_type="person", object_id=str(person.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == {AuditAction.VIEW_PERSON, AuditAction.REVEAL_ID}
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, username="xian_admin").count() == 1
    assert SCREENSHOT.stat().st_size > 10_000
