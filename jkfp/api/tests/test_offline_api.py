"""村医离线接口 The sync API of the phone app: scope, idempotency by UUID, every refusal reason, devices.

Every response is checked against the committed OpenAPI document.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from benchmarks.loadtest import SERVER_SECRET_KEY, Database, Server
from jkfp.api.tests.conftest import DEVICE, Field
from jkfp.api.tests.schema_check import assert_matches_schema
from jkfp.care import services as care
from jkfp.care.models import DrugDelivery, FollowUp, Schedule
from jkfp.care.rules import DEFAULT_RULES
from jkfp.offline.models import Device, RefusalCode, SyncEntry
from jkfp.offline.services import (
    ERR_DEVICE_OTHER_USER,
    ERR_DEVICE_REVOKED,
    ERR_OUT_OF_SCOPE,
    ERR_ROLE_FIELD,
    ERR_UUID_CONFLICT,
    device_revoke,
)
from jkfp.registry.models import LivingStatus

pytestmark = pytest.mark.django_db

SCOPE = f"/api/v1/offline/scope?device_id={DEVICE}"
SYNC = "/api/v1/offline/sync"
DEVICE_B = "0b0d9d4e-3c1e-4f7a-8d2b-5e6f7a8b9c0d"


def _visit(person: Any, fw: Field, *, on: Any = None, **data: Any) -> dict[str, Any]:
    body = {
        "visited_on": (on or timezone.localdate()).isoformat(),
        "kind": "home",
        "disease_ids": [fw.diseases["高血压"].pk],
        "systolic": 132,
        "diastolic": 84,
        **data,
    }
    return {"uuid": str(uuid.uuid4()), "kind": "visit", "person_id": person.pk, "data": body}


def _post(client: Client, entries: list[dict[str, Any]], device: str = DEVICE) -> Any:
    response = client.post(
        SYNC, json.dumps({"device_id": device, "entries": entries}), content_type="application/json"
    )
    assert_matches_schema(response, "post", "/api/v1/offline/sync")
    return response


def _result(client: Client, entry: dict[str, Any], device: str = DEVICE) -> dict[str, Any]:
    response = _post(client, [entry], device)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == 1 and results[0]["uuid"] == entry["uuid"]
    return dict(results[0])


def test_scope_holds_the_doctors_village_masked_with_rules(
    fw: Field, phone_client: Callable[..., Client]
) -> None:
    client = phone_client(fw.users["doctor"])
    response = client.get(SCOPE)
    assert_matches_schema(response, "get", "/api/v1/offline/scope")
    assert response.status_code == 200
    data = response.json()
    names = sorted(p["name"] for p in data["persons"])
    assert names == ["张三", "李四"]  # 王五 lives in another village, 赵六 in another township
    text = json.dumps(data, ensure_ascii=False)
    for person in fw.persons.values():
        assert person.id_number not in text  # ID numbers stay masked on the phone
    zhang = next(p for p in data["persons"] if p["name"] == "张三")
    assert (
        zhang["id_masked"]
        == fw.persons["zhang"].id_number[:6] + "********" + fw.persons["zhang"].id_number[-4:]
    )
    assert {c["name"] for c in zhang["conditions"]} == {"高血压", "2型糖尿病"}
    due = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert {s["due_on"] for s in zhang["schedules"]} == {due}
    htn = str(fw.diseases["高血压"].pk)
    rule = data["rules"]["rules"][htn]
    assert (rule["visits_per_year"], rule["interval_days"], rule["measure"]) == (
        4,
        DEFAULT_RULES["高血压"].interval_days,
        "bp",
    )
    assert data["rules"]["bp_limit"] == [140, 90] and data["rules"]["glucose_limit"] == "7.0"
    assert data["as_of"] and data["today"] == timezone.localdate().isoformat()
    assert Device.objects.get(device_id=DEVICE).user == fw.users["doctor"]
    assert client.get(SCOPE, HTTP_ACCEPT_ENCODING="gzip")["Content-Encoding"] == "gzip"


def test_only_logged_in_village_doctors_with_csrf(fw: Field, phone_client: Callable[..., Client]) -> None:
    anonymous = Client()
    response = anonymous.get(SCOPE)
    assert response.status_code == 401 and "登录" in response.json()["message"]
    township = phone_client(fw.users["township"])
    response = township.get(SCOPE)
    assert response.status_code == 403 and response.json()["message"] == ERR_ROLE_FIELD
    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.force_login(fw.users["doctor"])
    response = no_csrf.post(
        SYNC, json.dumps({"device_id": DEVICE, "entries": []}), content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["code"] == "csrf"
    assert not FollowUp.objects.exists()
    # The CSRF cookie is HttpOnly: the app asks the API for the token, and a write with it passes.
    assert anonymous.get("/api/v1/offline/csrf").status_code == 401
    token = no_csrf.get("/api/v1/offline/csrf").json()["csrf_token"]
    response = no_csrf.post(
        SYNC,
        json.dumps({"device_id": DEVICE, "entries": []}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200 and response.json() == {"results": []}


def test_a_visit_is_recorded_once_however_often_it_is_sent(
    fw: Field, phone_client: Callable[..., Client]
) -> None:
    client = phone_client(fw.users["doctor"])
    entry = _visit(fw.persons["zhang"], fw)
    first = _result(client, entry)
    again = _result(client, entry)
    assert first["status"] == "accepted" and first == again
    visit = FollowUp.objects.get(person=fw.persons["zhang"])
    assert first["object_id"] == visit.pk
    expected = timezone.localdate() + timedelta(days=DEFAULT_RULES["高血压"].interval_days)
    assert first["next_on"] == expected.isoformat()
    assert Schedule.objects.get(person=fw.persons["zhang"], disease=fw.diseases["高血压"]).due_on == expected
    row = SyncEntry.objects.get(uuid=entry["uuid"])
    assert row.device is not None
    assert (row.status, row.received_count, row.user, row.device.device_id) == (
        "accepted",
        2,
        fw.users["doctor"],
        uuid.UUID(DEVICE),
    )


def test_a_partial_sync_resumes_where_it_stopped(fw: Field, phone_client: Callable[..., Client]) -> None:
    """The phone lost the answer to its first batch: it sends everything again, nothing is doubled."""
    client = phone_client(fw.users["doctor"])
    visit = _visit(fw.persons["zhang"], fw)
    delivery = {
        "uuid": str(uuid.uuid4()),
        "kind": "delivery",
        "person_id": fw.persons["li"].pk,
        "data": {
            "delivered_on": timezone.localdate().isoformat(),
            "drugs": "硝苯地平缓释片 30片",
            "supply_days": 30,
        },
    }
    _post(client, [visit])
    response = _post(client, [visit, delivery])
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]
    assert FollowUp.objects.count() == 1 and DrugDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_of_one_uuid_write_once(fw: Field, tmp_path: Path, settings: Any) -> None:
    """Six connections send the same two entries at the same moment to a real gunicorn server (two
    tabs, retries after a lost answer): each entry is written once, every sender gets the same
    results. (A real server because SQLite's in-memory test database cannot be shared by threads.)"""
    entries = [
        _visit(fw.persons["zhang"], fw),
        {
            "uuid": str(uuid.uuid4()),
            "kind": "delivery",
            "person_id": fw.persons["li"].pk,
            "data": {
                "delivered_on": timezone.localdate().isoformat(),
                "drugs": "二甲双胍 60片",
                "supply_days": 30,
            },
        },
    ]
    settings.SECRET_KEY = SERVER_SECRET_KEY  # the session must be valid for the server
    login = Client()
    login.force_login(fw.users["doctor"])
    session = login.cookies["sessionid"].value
    csrf = "a" * 32
    db = Database(tmp_path)
    db.publish()
    server = Server(database_url=db.url, home=tmp_path / "server", workers=2, threads=4).start(
        ready_path="/m/"
    )
    body = json.dumps({"device_id": DEVICE, "entries": entries}).encode()
    senders = 6
    barrier = threading.Barrier(senders)
    answers: list[Any] = [None] * senders

    def send(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=20)
            conn.request(
                "POST",
                SYNC,
                body,
                {
                    "Content-Type": "application/json",
                    "Cookie": f"sessionid={session}; csrftoken={csrf}",
                    "X-CSRFToken": csrf,
                    "Referer": f"http://127.0.0.1:{server.port}/m/",
                },
            )
            response = conn.getresponse()
            answers[i] = (response.status, json.loads(response.read()))
        finally:
            conn.close()

    try:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
    finally:
        server.kill()
    assert all(a is not None and a[0] == 200 for a in answers), answers
    assert all(a[1] == answers[0][1] for a in answers)
    assert [r["status"] for r in answers[0][1]["results"]] == ["accepted", "accepted"]
    assert db.rows("SELECT count(*) FROM care_followup")[0][0] == 1
    assert db.rows("SELECT count(*) FROM care_drugdelivery")[0][0] == 1
    assert db.rows("SELECT count(*), sum(received_count) FROM offline_syncentry")[0] == (2, 2 * senders)


def test_every_refusal_reason(fw: Field, phone_client: Callable[..., Client]) -> None:
    client = phone_client(fw.users["doctor"])
    other = phone_client(fw.users["doctor_b"])
    today = timezone.localdate()
    # Moved out of the doctor's scope (or a guessed id): the same message, nothing revealed.
    moved = _result(client, _visit(fw.persons["wang"], fw))
    unknown = _result(client, {**_visit(fw.persons["zhang"], fw), "person_id": 999999})
    assert (moved["code"], moved["message"]) == (RefusalCode.OUT_OF_SCOPE, f"人员：{ERR_OUT_OF_SCOPE}")
    assert (unknown["code"], unknown["message"]) == (moved["code"], moved["message"])
    # Died in the meantime.
    fw.persons["li"].living_status = LivingStatus.DEAD
    fw.persons["li"].save()
    dead = _result(client, _visit(fw.persons["li"], fw))
    assert (dead["status"], dead["code"]) == ("refused", RefusalCode.DEAD)
    assert care.ERR_DEAD in dead["message"]
    # A visit on the same day already recorded by someone else: refused, theirs is kept.
    assert (
        _result(other, _visit(fw.persons["zhang"], fw, systolic=150, diastolic=95), DEVICE_B)["status"]
        == "accepted"
    )
    duplicate = _result(client, _visit(fw.persons["zhang"], fw))
    assert duplicate["code"] == RefusalCode.DUPLICATE
    assert duplicate["message"] == f"随访日期：{care.ERR_VISIT_EXISTS}（村医乙已登记）"
    assert FollowUp.objects.get(person=fw.persons["zhang"]).systolic == 150
    # A rule failure, named by field; an unreadable entry too.
    rule = _result(
        client, _visit(fw.persons["zhang"], fw, on=today - timedelta(days=1), systolic=80, diastolic=90)
    )
    assert rule["code"] == RefusalCode.INVALID and rule["errors"] == [
        {"field": "systolic", "message": "收缩压：收缩压必须高于舒张压"}
    ]
    future = _result(client, _visit(fw.persons["zhang"], fw, on=today + timedelta(days=1)))
    assert future["code"] == RefusalCode.INVALID and future["errors"][0]["field"] == "visited_on"
    unreadable = _result(client, _visit(fw.persons["zhang"], fw, visited_on="昨天"))
    assert unreadable["code"] == RefusalCode.INVALID and unreadable["errors"][0]["field"] == "visited_on"
    too_long = {
        "uuid": str(uuid.uuid4()),
        "kind": "delivery",
        "person_id": fw.persons["zhang"].pk,
        "data": {"delivered_on": today.isoformat(), "drugs": "二甲双胍", "supply_days": 120},
    }
    supply = _result(client, too_long)
    assert supply["code"] == RefusalCode.INVALID and care.ERR_SUPPLY_DAYS in supply["message"]
    # A check of a day the server already holds is not overwritten by an older phone entry.
    care.checkup_record(
        user=fw.users["doctor_b"], person=fw.persons["zhang"], checked_on=today, conclusion="正常"
    )
    checkup = {
        "uuid": str(uuid.uuid4()),
        "kind": "checkup",
        "person_id": fw.persons["zhang"].pk,
        "data": {
            "checked_on": today.isoformat(),
            "items": {"血压（mmHg）": "150/95"},
            "conclusion": "高血压",
        },
    }
    assert _result(client, checkup)["code"] == RefusalCode.DUPLICATE
    assert fw.persons["zhang"].checkups.get().conclusion == "正常"
    # Another account re-using a UUID gets a conflict, not the first account's result.
    conflict = _result(other, {**too_long}, DEVICE_B)
    assert (conflict["code"], conflict["message"]) == (RefusalCode.UUID_CONFLICT, ERR_UUID_CONFLICT)
    refused = SyncEntry.objects.filter(status="refused").values_list("code", flat=True)
    assert set(refused) == {"out_of_scope", "dead", "duplicate", "invalid"}


def test_a_device_belongs_to_one_account(fw: Field, phone_client: Callable[..., Client]) -> None:
    assert phone_client(fw.users["doctor"]).get(SCOPE).status_code == 200
    response = phone_client(fw.users["doctor_b"]).get(SCOPE)
    assert response.status_code == 403 and response.json()["message"] == ERR_DEVICE_OTHER_USER


def test_a_revoked_device_is_wiped_at_its_next_sync(fw: Field, phone_client: Callable[..., Client]) -> None:
    client = phone_client(fw.users["doctor"])
    assert client.get(SCOPE).status_code == 200
    device = Device.objects.get(device_id=DEVICE)
    status = Client().get(f"/api/v1/offline/devices/{DEVICE}")
    assert_matches_schema(status, "get", "/api/v1/offline/devices/{device_id}")
    assert status.json() == {"status": "unknown"}
    with pytest.raises(Exception, match="县卫健局"):
        device_revoke(user=fw.users["township"], device=device, reason="手机丢失")
    device_revoke(user=fw.users["admin"], device=device, reason="手机丢失")
    # The session the phone used is gone: the phone asks about its device and wipes itself.
    assert client.get(SCOPE).status_code == 401
    assert Client().get(f"/api/v1/offline/devices/{DEVICE}").json() == {"status": "revoked"}
    again = phone_client(fw.users["doctor"]).get(SCOPE)
    assert again.status_code == 410
    assert again.json() == {"code": "device_revoked", "message": ERR_DEVICE_REVOKED, "errors": []}
    response = _post(phone_client(fw.users["doctor"]), [_visit(fw.persons["zhang"], fw)])
    assert response.status_code == 410 and not FollowUp.objects.exists()
