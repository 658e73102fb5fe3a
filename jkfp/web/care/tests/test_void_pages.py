"""作废 pages: the void form on the visit, check, delivery and card lists, and the POST-only action.

Success for each kind, the reason required (字段名：原因), inspector 403, another region 404, an entry of
another person 404, GET 405, the audit holds the deleted values.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.care import services
from jkfp.care.models import Checkup, ChronicCard, DrugDelivery, FollowUp, Schedule
from jkfp.care.tests.conftest import CareWorld

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _entries(w: CareWorld, person: str = "zhang") -> dict[str, Any]:
    """One entry of each kind for ``person``, by the URL kind."""
    today = timezone.localdate()
    p = w.persons[person]
    recorder = w.users["doctor"] if person != "zhao" else w.users["doctor2"]
    manager = w.users["t1"] if person != "zhao" else w.users["t2"]
    return {
        "visits": services.followup_record(
            user=recorder,
            person=p,
            visited_on=today - 20 * DAY,
            kind="clinic",
            disease_ids=[w.diseases["高血压"].pk],
            systolic=182,
            diastolic=96,
        ),
        "checkups": services.checkup_record(
            user=recorder, person=p, checked_on=today - 10 * DAY, items={"心电图": "正常"}, conclusion="正常"
        ),
        "deliveries": services.drug_delivery_record(
            user=recorder, person=p, delivered_on=today - 5 * DAY, drugs="硝苯地平", supply_days=30
        ),
        "cards": services.chronic_card_issue(
            user=manager, person=p, disease=w.diseases["高血压"], certified_on=today - 30 * DAY
        ),
    }


PAGES: dict[str, tuple[str, Any, str, str]] = {
    "visits": ("", FollowUp, "followup", "doctor"),
    "checkups": ("checkups/", Checkup, "checkup", "doctor"),
    "deliveries": ("deliveries/", DrugDelivery, "drug_delivery", "doctor"),
    "cards": ("cards/", ChronicCard, "chronic_card", "t1"),
}


def _void_url(person: Any, kind: str, entry: Any) -> str:
    return f"/care/persons/{person.pk}/{kind}/{entry.pk}/void/"


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_void_each_kind_from_its_page(cw: CareWorld, kind: str) -> None:
    zhang = cw.persons["zhang"]
    entry = _entries(cw)[kind]
    suffix, model, object_type, who = PAGES[kind]
    page_url = f"/care/persons/{zhang.pk}/{suffix}"
    client = _client(cw.users[who])
    page = client.get(page_url).content.decode()
    assert _void_url(zhang, kind, entry) in page and "确认作废" in page
    assert "请先“作废”" in page  # edit = void, then record again
    response = client.post(_void_url(zhang, kind, entry), {"reason": "  录入错误，重新登记 "})
    assert response.status_code == 302 and response["Location"] == page_url
    assert not model.objects.filter(pk=entry.pk).exists()
    assert any(
        m.startswith(f"已作废{zhang.name}") and "如需更正，请重新登记" in m for m in _messages(response)
    )
    details = AuditEvent.objects.filter(
        action=AuditAction.CHANGE, object_type=object_type, object_id=str(entry.pk)
    ).values_list("detail", flat=True)
    values = services.void_audit_values(list(details))
    assert values["reason"] == "录入错误，重新登记" and values["id"] == entry.pk
    assert values["fields"]["person_id"] == zhang.pk
    after = client.get(page_url).content.decode()
    assert _void_url(zhang, kind, entry) not in after


def test_voiding_a_wrong_visit_moves_the_schedule_back(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    htn = cw.diseases["高血压"]
    before = Schedule.objects.get(person=zhang, disease=htn)
    visit = _entries(cw)["visits"]
    wrong = Schedule.objects.get(person=zhang, disease=htn)
    assert (wrong.reason, wrong.last_classification) == ("revisit", "uncontrolled")
    response = _client(cw.users["doctor"]).post(_void_url(zhang, "visits", visit), {"reason": "血压录错"})
    assert response.status_code == 302
    now = Schedule.objects.get(person=zhang, disease=htn)
    assert (now.last_visit_on, now.last_classification, now.reason) == (None, "", before.reason)


@pytest.mark.parametrize("reason", ["", "错", "错" * 201])
def test_reason_is_required(cw: CareWorld, reason: str) -> None:
    zhang = cw.persons["zhang"]
    delivery = _entries(cw)["deliveries"]
    response = _client(cw.users["doctor"]).post(_void_url(zhang, "deliveries", delivery), {"reason": reason})
    assert response.status_code == 302 and response["Location"] == f"/care/persons/{zhang.pk}/deliveries/"
    assert _messages(response) == [f"作废原因：{services.ERR_VOID_REASON}"]
    assert DrugDelivery.objects.filter(pk=delivery.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE).exists()


def test_inspector_gets_403_and_no_void_form(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    entries = _entries(cw)
    client = _client(cw.users["inspector"])
    for kind, entry in entries.items():
        page = client.get(f"/care/persons/{zhang.pk}/{PAGES[kind][0]}").content.decode()
        assert "确认作废" not in page
        assert client.post(_void_url(zhang, kind, entry), {"reason": "录入错误"}).status_code == 403
    assert all(type(e).objects.filter(pk=e.pk).exists() for e in entries.values())


def test_village_doctor_cannot_void_a_card_as_they_cannot_issue_one(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    card = _entries(cw)["cards"]
    client = _client(cw.users["doctor"])
    assert "确认作废" not in client.get(f"/care/persons/{zhang.pk}/cards/").content.decode()
    assert client.post(_void_url(zhang, "cards", card), {"reason": "录入错误"}).status_code == 403
    assert ChronicCard.objects.filter(pk=card.pk).exists()


@pytest.mark.parametrize("who", ["doctor2", "t2"])
def test_other_region_gets_404(cw: CareWorld, who: str) -> None:
    zhang = cw.persons["zhang"]
    entries = _entries(cw)
    client = _client(cw.users[who])
    for kind, entry in entries.items():
        assert client.post(_void_url(zhang, kind, entry), {"reason": "录入错误"}).status_code in (
            (403,) if kind == "cards" and who == "doctor2" else (404,)
        )
    assert all(type(e).objects.filter(pk=e.pk).exists() for e in entries.values())


def test_entry_of_another_person_gets_404(cw: CareWorld) -> None:
    li = cw.persons["li"]
    entries = _entries(cw)
    _entries(cw, "li")
    for kind, entry in entries.items():
        client = _client(cw.users[PAGES[kind][3]])
        # 李四 is in the same village: the person is visible, the entry is not his.
        assert client.post(_void_url(li, kind, entry), {"reason": "录入错误"}).status_code == 404
    assert all(type(e).objects.filter(pk=e.pk).exists() for e in entries.values())


def test_unknown_kind_or_entry_gets_404(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    visit = _entries(cw)["visits"]
    client = _client(cw.users["doctor"])
    assert (
        client.post(
            f"/care/persons/{zhang.pk}/contracts/{visit.pk}/void/", {"reason": "录入错误"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/care/persons/{zhang.pk}/visits/999999/void/", {"reason": "录入错误"}).status_code
        == 404
    )
    assert (
        client.post(f"/care/persons/999999/visits/{visit.pk}/void/", {"reason": "录入错误"}).status_code
        == 404
    )
    assert FollowUp.objects.filter(pk=visit.pk).exists()


def test_get_is_405(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    entries = _entries(cw)
    for kind, entry in entries.items():
        client = _client(cw.users[PAGES[kind][3]])
        assert client.get(_void_url(zhang, kind, entry)).status_code == 405
    assert all(type(e).objects.filter(pk=e.pk).exists() for e in entries.values())
