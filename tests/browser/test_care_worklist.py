"""浏览器测试 On a phone-sized screen a village doctor opens the work list, records a visit and sees
the next due date move (issue 5 "done when").

Playwright's sync API runs an event loop in this thread, so the ORM is used only before the browser
starts and after it has finished (as in test_login_import_search.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.care.bulk import schedules_sync
from jkfp.care.models import FollowUp, Schedule
from jkfp.care.rules import DEFAULT_RULES
from jkfp.core.idnumber import make_id_number
from jkfp.registry.models import Condition, Disease, Person
from jkfp.registry.services import disease_catalogue_load

from .conftest import open_menu

SCREENSHOT = Path("/tmp/jkfp-care-visit.png")


@pytest.mark.browser
def test_village_doctor_records_a_visit_on_a_phone(
    phone: Any, make_user: Any, county: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    disease_catalogue_load()
    today = timezone.localdate()
    person = Person.objects.create(
        id_number=make_id_number("421321", date(1958, 7, 9), 731),
        name="欧阳春花",
        sex="M",
        birth_date=date(1958, 7, 9),
        village=county["t1v1"],
    )
    htn = Disease.objects.get(name="高血压")
    Condition.objects.create(person=person, disease=htn, name="高血压")
    schedules_sync(today=today - timedelta(days=5))  # first visit was due 5 days ago
    make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code, username="cunyi", full_name="村医甲")
    old_due = today - timedelta(days=5)
    new_due = today + timedelta(days=DEFAULT_RULES["高血压"].interval_days)
    due_cell = f"#schedule-{htn.pk} .schedule-due"

    with phone() as tab:
        page = tab.page

        tab.log_in("cunyi")
        open_menu(page)
        page.get_by_role("link", name="签约随访").click()

        # The work list: the person is overdue by five days.
        expect(page.get_by_role("heading", name="随访工作清单")).to_be_visible()
        item = page.locator("#worklist a", has_text="欧阳春花")
        expect(item).to_contain_text("逾期5天")
        expect(item).to_contain_text(f"{old_due:%Y-%m-%d}")
        item.click()

        # One short form: the date is today, hypertension is ticked, the next date is shown as typed.
        expect(page.get_by_role("heading", name="欧阳春花")).to_be_visible()
        expect(page.locator(due_cell)).to_have_text(f"{old_due:%Y-%m-%d}")
        expect(page.get_by_label("随访日期")).to_have_value(today.isoformat())
        expect(page.get_by_label("高血压")).to_be_checked()
        page.get_by_text("门诊", exact=True).click()
        page.get_by_label("收缩压").fill("132")
        page.get_by_label("舒张压").fill("84")
        page.get_by_label("体重").fill("61.5")
        expect(page.locator("#preview")).to_contain_text(f"下次随访 {new_due:%Y-%m-%d}")
        page.get_by_role("button", name="保存随访").click()

        # Saved: the message and the schedule show the moved due date.
        expect(page.locator(".alert-success")).to_contain_text(f"下次随访 {new_due:%Y-%m-%d}")
        expect(page.locator(due_cell)).to_have_text(f"{new_due:%Y-%m-%d}")

        # Back on the work list the person is no longer overdue.
        open_menu(page)
        page.get_by_role("link", name="签约随访").click()
        expect(page.locator("#tab-overdue")).to_contain_text("0")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert tab.problems == []
    assert width <= 390
    visit = FollowUp.objects.get(person=person)
    assert (visit.kind, visit.systolic, visit.diastolic, visit.next_on) == ("clinic", 132, 84, new_due)
    schedule = Schedule.objects.get(person=person, disease=htn)
    assert schedule.due_on == new_due and schedule.last_classification == "controlled"
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSON, object_id=str(person.pk)).exists()
