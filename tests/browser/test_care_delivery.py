"""浏览器测试 On a phone-sized screen a village doctor goes from a person's care page to 送药, is refused
four months' supply with the field named, then records three months and sees it listed.

The ORM is used only before the browser starts and after it has finished (see test_care_worklist.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.care.models import DrugDelivery
from jkfp.care.services import ERR_SUPPLY_DAYS
from jkfp.core.idnumber import make_id_number
from jkfp.registry.models import Person

SCREENSHOT = Path("/tmp/jkfp-care-delivery.png")


@pytest.mark.browser
def test_village_doctor_records_a_drug_delivery_on_a_phone(
    live_server: Any, phone: Any, make_user: Any, county: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    today = timezone.localdate()
    person = Person.objects.create(
        id_number=make_id_number("421321", date(1950, 3, 3), 733),
        name="司马秋菊",
        sex="M",
        birth_date=date(1950, 3, 3),
        village=county["t1v1"],
    )
    make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code, username="cunyi", full_name="村医甲")

    with phone() as tab:
        page = tab.page

        tab.log_in("cunyi")
        page.goto(f"{live_server.url}/care/persons/{person.pk}/")
        expect(page.get_by_role("heading", name="司马秋菊")).to_be_visible()
        page.locator("#person-care-nav").get_by_role("link", name="送药").click()

        expect(page.get_by_role("heading", name="司马秋菊 · 送药")).to_be_visible()
        expect(page.get_by_label("送药日期")).to_have_value(today.isoformat())
        page.get_by_label("药品").fill("硝苯地平缓释片 30mg×120片")
        page.get_by_label("用药天数").fill("120")
        page.get_by_role("button", name="保存送药").click()

        # Refused, naming the field; what was typed stays.
        expect(page.locator("#form-errors")).to_contain_text(f"用药天数：{ERR_SUPPLY_DAYS}")
        expect(page.get_by_label("药品")).to_have_value("硝苯地平缓释片 30mg×120片")
        page.get_by_label("药品").fill("硝苯地平缓释片 30mg×90片")
        page.get_by_label("用药天数").fill("90")
        page.get_by_role("button", name="保存送药").click()

        expect(page.locator(".alert-success")).to_contain_text("已登记司马秋菊的送药（90天）")
        expect(page.locator("#service-rows")).to_contain_text("硝苯地平缓释片 30mg×90片")
        expect(page.locator("#service-rows")).to_contain_text("90天")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The refused form is answered with 400 (the browser logs it); nothing else may go wrong.
    refused = [p for p in tab.problems if "status of 400" in p]
    assert len(refused) == 1 and [p for p in tab.problems if p not in refused] == []
    assert width <= 390
    delivery = DrugDelivery.objects.get(person=person)
    assert (delivery.supply_days, delivery.delivered_on, delivery.drugs) == (
        90,
        today,
        "硝苯地平缓释片 30mg×90片",
    )
