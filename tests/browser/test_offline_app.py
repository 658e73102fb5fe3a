"""村医离线应用 The installable phone app with no signal (issue 20), in Debian Chromium on a phone screen
with service workers, against a real gunicorn server that the tests stop and start again.

1. Log in and sync (Chromium finds the app installable); offline, reload: the work list comes from
   the phone's copy with its 数据截至 time (1,000 persons in scope, timed with the CPU throttled
   4×); three visits and a drug delivery recorded offline; the page closed and opened again
   offline: the outbox still holds the four; online: they go by themselves, the server holds
   exactly those four and the schedules moved. Logging out (in the app, on the site) wipes the copy.
2. Two tabs send the same outbox at the same moment: nothing doubled. The server is killed in the
   middle of a sync and started again: the sync completes, nothing lost or doubled. A visit that
   someone else recorded the same day comes back as 待处理 and is corrected and sent again; a visit
   for a person who died in the meantime comes back as 待处理 with the reason, and is deleted. The
   county administrator revokes the phone: its next sync wipes it.

The server runs on the test database (PostgreSQL) or a file copy of it (SQLite), as in
``jkfp/api/tests/test_reliability.py``. "In the middle of a sync" is made certain by holding the
database's write lock while the phone's requests arrive, so they wait inside the server when it
is killed. Screenshots go to ``$JKFP_SCREENSHOT_DIR`` when set (``docs/offline/`` is made so).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.utils import timezone

from benchmarks.loadtest import SERVER_SECRET_KEY, Database, Server
from jkfp.care.rules import DEFAULT_RULES
from jkfp.care.services import ERR_DEAD, ERR_VISIT_EXISTS

from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_VIEWPORT, Tab, open_menu
from .offline_seed import seed

# The server checks passwords with its own hashers (Argon2): the users get real hashes.
pytestmark = [pytest.mark.browser, pytest.mark.argon2, pytest.mark.django_db(transaction=True)]

SYNCED = re.compile("^已同步")
# The budget of issue 20 (performance.md): the work list of 1,000 persons offline in < 1 s on a
# mid-range phone (CPU throttled 4×). The test fails above LOOSE × the budget (this 2-core machine is
# shared with other runs); benchmarks/bench_offline.py reports the measured time.
RENDER_BUDGET_MS = 1000
LOOSE = 2.5


@contextmanager
def field_server(tmp_path: Path, persons: int, settings: Any) -> Iterator[tuple[Server, Database, list[Any]]]:
    """The seeded database, published to a gunicorn server on a free port (killed at the end)."""
    settings.SECRET_KEY = SERVER_SECRET_KEY
    first = seed(persons)
    db = Database(tmp_path)
    db.publish()
    server = Server(database_url=db.url, home=tmp_path / "server", workers=1, threads=4)
    server.start(ready_path="/m/")
    try:
        yield server, db, first
    finally:
        server.kill()


@contextmanager
def phone_context() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", service_workers="allow")
        finally:
            browser.close()


@contextmanager
def writes_held(db: Database) -> Iterator[None]:
    """Hold the database's write lock: the server's requests wait inside it (SQLite ``BEGIN
    IMMEDIATE``; PostgreSQL: the device table locked against writes)."""
    if db.file is not None:
        conn = sqlite3.connect(db.file, timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(db.url.replace("postgres://", "postgresql://", 1)) as pg:
        pg.execute("LOCK TABLE offline_device IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    target = Path(os.environ.get("JKFP_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"))


def open_app(context: Any, server: Server, fragment: str = "") -> Tab:
    page = context.new_page()
    tab = Tab(page=page, base_url=f"http://127.0.0.1:{server.port}")
    page.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.problems.append(str(e)))
    page.goto(f"{tab.base_url}/m/{fragment}")
    return tab


def record_visit(tab: Tab, person_id: int, systolic: str, diastolic: str) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.evaluate(f"location.hash = '#/p/{person_id}/visit'")
    page.get_by_label("收缩压").fill(systolic)
    page.get_by_label("舒张压").fill(diastolic)
    expect(page.locator("#preview")).to_contain_text("下次随访")
    page.get_by_role("button", name="保存随访").click()
    expect(page.locator("#flash")).to_contain_text("待上传")


def test_offline_work_list_outbox_and_sync(tmp_path: Path, settings: Any) -> None:
    from playwright.sync_api import expect

    today = timezone.localdate()
    with field_server(tmp_path, 1000, settings) as (server, db, first), phone_context() as context:
        tab = open_app(context, server)
        page = tab.page
        expect(page.locator("#app")).to_contain_text("登录")  # nothing on the phone yet
        expect(page.locator("#login-link")).to_be_visible()  # the app asked the server: not logged in
        tab.log_in("cunyi", path="/login/?next=/m/")
        expect(page.locator("#sync-status")).to_have_text(SYNCED, timeout=30000)
        tab.problems.clear()  # before the login the app's first call was answered 401, as it should be
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        # 添加到主屏幕: Chromium (as Android Chrome) finds nothing missing for installing the app.
        # (Playwright's contexts are incognito ones, which Chromium never installs: that one is ignored.)
        installable = context.new_cdp_session(page).send("Page.getInstallabilityErrors")
        assert [e for e in installable["installabilityErrors"] if e["errorId"] != "in-incognito"] == []
        overdue = db.rows("SELECT count(DISTINCT person_id) FROM care_schedule")[0][0]
        expect(page.locator("#tab-overdue")).to_contain_text(f"已逾期 {overdue}")
        shot(page, tmp_path, "worklist")

        # No signal: the app and the work list come from the phone (timed, CPU 4× slower).
        context.set_offline(True)
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.reload()
        expect(page.locator("#worklist a").first).to_be_visible()
        render_ms = page.evaluate("window.jkfpWorklistShown")
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        print(f"offline work list, 1000 persons, CPU 4x: {render_ms:.0f} ms")
        assert render_ms < RENDER_BUDGET_MS * LOOSE
        expect(page.locator("#as-of")).to_have_text(re.compile(r"^数据截至 \d{4}-\d\d-\d\d \d\d:\d\d$"))
        expect(page.locator("#sync-status")).to_contain_text(re.compile("离线|同步中断"))

        # Three visits and one delivery, offline; the first through the work list as a doctor would.
        page.locator("#worklist a", has_text=first[0][1]).first.click()
        expect(page.locator("#person-name")).to_have_text(first[0][1])
        expect(page.locator("#as-of")).to_contain_text("数据截至")
        shot(page, tmp_path, "person")
        page.get_by_role("link", name="随访", exact=True).click()
        page.get_by_label("收缩压").fill("132")
        page.get_by_label("舒张压").fill("84")
        expect(page.locator("#preview")).to_contain_text("高血压：控制满意")
        shot(page, tmp_path, "visit")
        page.get_by_role("button", name="保存随访").click()
        expect(page.locator("#flash")).to_contain_text("待上传")
        record_visit(tab, first[1][0], "150", "96")
        record_visit(tab, first[2][0], "128", "80")
        page.evaluate(f"location.hash = '#/p/{first[3][0]}/delivery'")
        page.get_by_label("药品").fill("硝苯地平缓释片 10mg×60片")
        page.get_by_label("用药天数（不超过3个月）").fill("30")
        page.get_by_role("button", name="保存送药").click()
        expect(page.locator("#flash")).to_contain_text("待上传")
        expect(page.locator("#outbox-count")).to_have_text("4")
        page.close()

        # Closed and opened again, still offline: the outbox holds the four.
        tab = open_app(context, server, "#/outbox")
        page = tab.page
        expect(page.locator("#outbox-pending .outbox-entry")).to_have_count(4)
        expect(page.locator("#as-of")).to_contain_text("数据截至")
        shot(page, tmp_path, "outbox-offline")

        # Signal again: the entries go by themselves.
        context.set_offline(False)
        expect(page.locator("#sync-status")).to_have_text(SYNCED, timeout=30000)
        expect(page.locator("#outbox-sent .outbox-entry")).to_have_count(4)
        expect(page.locator("#outbox-pending .outbox-entry")).to_have_count(0)
        shot(page, tmp_path, "outbox-synced")

        # Logging out wipes the phone's copy: in the app, and on the site's pages.
        page.get_by_role("button", name="退出").click()
        # The logout first empties the phone's copy (up to 1.5 s), then posts: patient on a loaded CI machine.
        expect(page.get_by_role("heading", name="登录健康扶贫管理系统")).to_be_visible(timeout=20000)
        page.goto(f"{tab.base_url}/m/")
        expect(page.locator("#app")).to_contain_text("手机上还没有数据")
        expect(page.locator("#as-of")).to_have_text("尚未同步")
        tab.log_in("cunyi", path="/login/?next=/m/")
        expect(page.locator("#sync-status")).to_have_text(SYNCED, timeout=30000)
        page.goto(f"{tab.base_url}/care/")
        open_menu(page)
        page.get_by_role("button", name="退出").click()
        # The logout first empties the phone's copy (up to 1.5 s), then posts: patient on a loaded CI machine.
        expect(page.get_by_role("heading", name="登录健康扶贫管理系统")).to_be_visible(timeout=20000)
        page.goto(f"{tab.base_url}/m/")
        expect(page.locator("#app")).to_contain_text("手机上还没有数据")
        expect(page.locator("#outbox-count")).to_have_text("")
        problems = [p for p in tab.problems if "401" not in p]  # after the logout: not logged in

    assert problems == []
    visits = db.rows(
        "SELECT person_id, visited_on, systolic, diastolic FROM care_followup ORDER BY person_id"
    )
    assert [(v[0], str(v[1]), v[2], v[3]) for v in visits] == [
        (first[0][0], today.isoformat(), 132, 84),
        (first[1][0], today.isoformat(), 150, 96),
        (first[2][0], today.isoformat(), 128, 80),
    ]
    assert db.rows("SELECT person_id, supply_days FROM care_drugdelivery") == [(first[3][0], 30)]
    assert db.rows("SELECT status, count(*), sum(received_count) FROM offline_syncentry GROUP BY status") == [
        ("accepted", 4, 4)
    ]
    interval = DEFAULT_RULES["高血压"].interval_days
    moved = {
        row[0]: str(row[1])
        for row in db.rows(
            "SELECT s.person_id, s.due_on FROM care_schedule s JOIN registry_disease d ON d.id = s.disease_id "
            "WHERE d.name = %s AND s.person_id IN (%s, %s, %s)",
            ("高血压", first[0][0], first[1][0], first[2][0]),
        )
    }
    assert moved == {
        first[0][0]: (today + timedelta(days=interval)).isoformat(),  # controlled: routine
        first[1][0]: (today + timedelta(days=14)).isoformat(),  # first uncontrolled: revisit in 14 days
        first[2][0]: (today + timedelta(days=interval)).isoformat(),
    }


def test_two_tabs_a_stopped_server_and_a_refused_visit(tmp_path: Path, settings: Any) -> None:
    from playwright.sync_api import expect

    today = timezone.localdate()
    yesterday = today - timedelta(days=1)

    with field_server(tmp_path, 12, settings) as (server, db, first), phone_context() as context:
        tab = open_app(context, server)
        page = tab.page
        tab.log_in("cunyi", path="/login/?next=/m/")
        expect(page.locator("#sync-status")).to_have_text(SYNCED, timeout=30000)
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        # Offline: a visit, a delivery, and a visit for a person who dies before the phone syncs.
        context.set_offline(True)
        record_visit(tab, first[0][0], "130", "80")
        page.evaluate(f"location.hash = '#/p/{first[1][0]}/delivery'")
        page.get_by_label("药品").fill("二甲双胍 0.5g×60片")
        page.get_by_role("button", name="保存送药").click()
        expect(page.locator("#flash")).to_contain_text("待上传")
        record_visit(tab, first[4][0], "135", "85")
        db.rows(
            "UPDATE registry_person SET living_status = 'dead', death_on = %s WHERE id = %s",
            (timezone.localdate().isoformat(), first[4][0]),
        )
        other = open_app(context, server, "#/outbox")
        expect(other.page.locator("#outbox-pending .outbox-entry")).to_have_count(3)

        # Two tabs send the same outbox at once: both requests wait in the server, then both run.
        with writes_held(db):
            context.set_offline(False)
            expect(page.locator("#sync-status")).to_contain_text("正在上传")
            expect(other.page.locator("#sync-status")).to_contain_text("正在上传")
            time.sleep(1.0)
        for t in (tab, other):
            expect(t.page.locator("#sync-status")).to_have_text("已同步；有 1 条待处理", timeout=30000)
        sent_twice = db.rows("SELECT sum(received_count), count(*) FROM offline_syncentry")[0]

        # The server stops in the middle of a sync and starts again: the phone finishes by itself.
        context.set_offline(True)
        record_visit(tab, first[1][0], "142", "88")
        page.evaluate(f"location.hash = '#/p/{first[2][0]}/checkup'")
        page.get_by_label("血压（mmHg）").fill("128/82")
        page.get_by_label("体检结论").fill("未见异常")
        page.get_by_role("button", name="保存体检").click()
        expect(page.locator("#flash")).to_contain_text("待上传")
        other.page.close()
        with writes_held(db):
            context.set_offline(False)
            expect(page.locator("#sync-status")).to_contain_text("正在上传")
            time.sleep(1.0)
            server.kill()
        expect(page.locator("#sync-status")).to_contain_text("同步中断")
        db.wait_until_idle()
        server.start(ready_path="/m/")
        expect(page.locator("#sync-status")).to_have_text("已同步；有 1 条待处理", timeout=40000)

        # A visit someone else recorded on the server the same day: refused; corrected and sent again.
        context.set_offline(True)
        record_visit(tab, first[3][0], "138", "86")
        admin_id = db.rows("SELECT id FROM accounts_user WHERE username = 'xian'")[0][0]
        db.rows(
            "INSERT INTO care_followup (person_id, visited_on, kind, medication, adverse_reaction, "
            "new_complication, unstable, source, recorded_by_id, created_at) "
            "VALUES (%s, %s, 'phone', '', %s, %s, %s, 'manual', %s, %s)",
            (first[3][0], today.isoformat(), False, False, False, admin_id, timezone.now().isoformat()),
        )
        context.set_offline(False)
        expect(page.locator("#sync-status")).to_have_text("已同步；有 2 条待处理", timeout=30000)
        page.evaluate("location.hash = '#/outbox'")
        refused = page.locator("#outbox-refused .outbox-entry")
        expect(refused).to_have_count(2)
        expect(refused.filter(has_text=first[4][1]).locator(".refusal")).to_have_text(f"人员：{ERR_DEAD}")
        duplicate = refused.filter(has_text=first[3][1])
        expect(duplicate.locator(".refusal")).to_have_text(f"随访日期：{ERR_VISIT_EXISTS}（xian已登记）")
        shot(page, tmp_path, "outbox-refused")
        duplicate.get_by_role("link", name="修改后重新上传").click()
        expect(page.locator(".alert-danger")).to_contain_text(ERR_VISIT_EXISTS)
        expect(page.get_by_label("收缩压")).to_have_value("138")
        page.get_by_label("随访日期").fill(yesterday.isoformat())
        page.get_by_role("button", name="保存随访").click()
        expect(page.locator("#sync-status")).to_have_text("已同步；有 1 条待处理", timeout=30000)

        # The visit of the person who died: 待处理 with the reason; the doctor deletes it.
        page.evaluate("location.hash = '#/outbox'")
        refused = page.locator("#outbox-refused .outbox-entry")
        expect(refused).to_have_count(1)
        expect(refused).to_contain_text(first[4][1])
        page.on("dialog", lambda dialog: dialog.accept())
        refused.get_by_role("button", name="删除").click()
        expect(page.locator("#outbox-refused .outbox-entry")).to_have_count(0)
        expect(page.locator("#outbox-sent .outbox-entry")).to_have_count(5)

        # The county administrator revokes the phone; its next sync wipes the phone's copy.
        desk = context.browser.new_context(viewport={"width": 1280, "height": 640}, locale="zh-CN")
        admin = Tab(page=desk.new_page(), base_url=tab.base_url)
        admin.log_in("xian", path="/offline/devices/")
        row = admin.page.locator("#devices tbody tr", has_text="村医甲")
        expect(row).to_contain_text("已接收 5 · 退回 2")
        row.get_by_label("吊销原因").fill("手机丢失")
        shot(admin.page, tmp_path, "devices")
        row.get_by_role("button", name="吊销").click()
        expect(admin.page.locator(".alert-success")).to_contain_text("已吊销")
        page.get_by_role("button", name="同步").click()
        expect(page.locator("#flash")).to_contain_text("此手机已被县卫健局吊销")
        expect(page.locator("#as-of")).to_have_text("尚未同步")
        expect(page.locator("#outbox-count")).to_have_text("")
        problems = [p for p in tab.problems if not re.search("Failed to fetch|ERR_|401", p)]

    assert problems == []
    # Both tabs' requests reached the server and were answered from the same rows.
    assert sent_twice == (6, 3)
    visits = db.rows(
        "SELECT person_id, visited_on, systolic FROM care_followup ORDER BY person_id, visited_on"
    )
    assert [(v[0], str(v[1]), v[2]) for v in visits] == [
        (first[0][0], today.isoformat(), 130),
        (first[1][0], today.isoformat(), 142),
        (first[3][0], yesterday.isoformat(), 138),  # corrected and sent again
        (first[3][0], today.isoformat(), None),  # the other's visit, kept
    ]
    assert db.rows("SELECT person_id FROM care_drugdelivery") == [(first[1][0],)]
    assert db.rows("SELECT person_id, conclusion FROM care_checkup") == [(first[2][0], "未见异常")]
    codes = db.rows("SELECT person_id, status, code FROM offline_syncentry ORDER BY id")
    assert sorted(codes) == sorted(
        [
            (first[0][0], "accepted", ""),
            (first[1][0], "accepted", ""),
            (first[4][0], "refused", "dead"),
            (first[1][0], "accepted", ""),
            (first[2][0], "accepted", ""),
            (first[3][0], "refused", "duplicate"),
            (first[3][0], "accepted", ""),
        ]
    )
