"""审计完整 Issue 17 §4: one test per hole found by the probes (searches, list filters, denied probes,
command-line actions, failed logins on /admin/), the denial alert, and audit rows that cannot be
changed or deleted (the application on both databases, a trigger on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from jkfp.accounts.admin import AuditEventAdmin
from jkfp.accounts.models import AuditAction, AuditEvent, AuditImmutableError, InstitutionToken
from jkfp.accounts.services import audit_record, os_user
from jkfp.core.idnumber import mask

pytestmark = pytest.mark.django_db

BROWSER: dict[str, Any] = {"REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "Mozilla/5.0 审计测试"}


def test_search_by_full_id_number_is_logged_masked(world: Any, login: Any) -> None:
    zhang = world.persons["zhang"]
    client = login(world.users["t1"])
    response = client.get(reverse("web:person_search"), {"q": zhang.id_number}, **BROWSER)
    assert response.status_code == 200 and "张三" in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.SEARCH)
    assert event.username == world.users["t1"].username and event.object_id == "web:person_search"
    assert event.detail == f"/persons/ q={mask(zhang.id_number)}"
    assert zhang.id_number not in event.detail
    assert (event.ip_address, event.user_agent) == ("10.1.2.3", "Mozilla/5.0 审计测试")


def test_list_filters_are_logged_with_their_query_and_paging_alone_is_not(world: Any, login: Any) -> None:
    client = login(world.users["admin"])
    assert client.get(reverse("web:reconciliation"), {"only_conflicts": "on"}).status_code == 200
    assert client.get(reverse("web:reconciliation"), {"page": "1"}).status_code == 200
    assert client.get(reverse("web:reconciliation")).status_code == 200
    events = list(AuditEvent.objects.filter(action=AuditAction.SEARCH))
    assert [(e.object_id, e.detail) for e in events] == [
        ("web:reconciliation", "/reconciliation/ only_conflicts=on")
    ]


def test_denied_probes_of_persons_and_households_are_logged(world: Any, login: Any) -> None:
    """Another township's person and household (404), a page of another role (403) on a person URL."""
    client = login(world.users["t1"])
    outside = world.persons["zhao"]
    assert client.get(reverse("web:person_detail", args=[outside.pk]), **BROWSER).status_code == 404
    assert client.post(reverse("web:person_reveal", args=[outside.pk])).status_code == 404
    assert client.get(reverse("web:household_detail", args=[world.households["h3"].pk])).status_code == 404
    assert client.get(reverse("web:person_detail", args=[999999])).status_code == 404
    doctor = login(world.users["doctor"])
    assert doctor.post(reverse("web:person_verify", args=[world.persons["zhang"].pk])).status_code == 403
    denied = list(AuditEvent.objects.filter(action=AuditAction.DENIED).order_by("id"))
    assert [(e.username, e.detail) for e in denied] == [
        (world.users["t1"].username, f"404 GET /persons/{outside.pk}/"),
        (world.users["t1"].username, f"404 POST /persons/{outside.pk}/reveal/"),
        (world.users["t1"].username, f"404 GET /households/{world.households['h3'].pk}/"),
        (world.users["t1"].username, "404 GET /persons/999999/"),
        (world.users["doctor"].username, f"403 POST /persons/{world.persons['zhang'].pk}/verify/"),
    ]
    assert denied[0].ip_address == "10.1.2.3" and denied[0].region_code == world.users["t1"].region_id
    # A 404 on an address that names no record is a typo, not a probe.
    assert client.get("/no-such-page/").status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() == 5


def test_tokens_created_and_revoked_on_the_command_line_name_the_os_user(county: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command("token", "create", "--institution", "H001", "--label", "HIS", stdout=out, stderr=err)
    row = InstitutionToken.objects.get()
    call_command("token", "revoke", str(row.pk), "--reason", "丢失", stdout=out, stderr=err)
    events = list(AuditEvent.objects.filter(action=AuditAction.TOKEN).order_by("id"))
    assert len(events) == 2
    for event in events:
        assert event.os_user == os_user() and event.os_user
        assert event.username == f"系统用户:{os_user()}"
        assert event.ip_address is None
    assert events[0].detail.startswith("创建接口令牌") and events[1].detail.startswith("吊销接口令牌")
    row.refresh_from_db()
    assert row.created_by == f"系统用户:{os_user()}"


def test_failed_logins_on_admin_are_audited(client: Client, world: Any) -> None:
    admin_user = world.users["admin"]
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": admin_user.username, "password": "wrong-password"},
        **BROWSER,
    )
    assert response.status_code == 200
    response = client.post("/admin/login/", {"username": "nobody", "password": "wrong-password"})
    assert response.status_code == 200
    events = list(AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).order_by("id"))
    assert [(e.username, e.user_id, e.detail) for e in events] == [
        (admin_user.username, admin_user.pk, "后台登录：用户名或密码错误"),
        ("nobody", None, "后台登录：用户名或密码错误"),
    ]
    assert (events[0].ip_address, events[0].user_agent) == ("10.1.2.3", "Mozilla/5.0 审计测试")
    # The site's own login page is audited by the same receiver, once per attempt.
    client.post(reverse("web:login"), {"username": admin_user.username, "password": "wrong-password"})
    assert (
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, detail="登录：用户名或密码错误").count()
        == 1
    )


@override_settings(AUDIT_DENIAL_ALERT=3)
def test_audit_page_alerts_on_too_many_denials_in_an_hour(world: Any, login: Any) -> None:
    t1, t2 = world.users["t1"], world.users["t2"]
    outside = world.persons["zhao"]
    client = login(t1)
    for _ in range(4):
        assert client.get(reverse("web:person_detail", args=[outside.pk])).status_code == 404
    # t2: three denials this hour (not more than the limit) and many two hours ago.
    for _ in range(3):
        audit_record(user=t2, action=AuditAction.DENIED, object_id="/persons/1/")
    for _ in range(10):
        AuditEvent.objects.create(
            user=t2, username=t2.username, action=AuditAction.DENIED, at=timezone.now() - timedelta(hours=2)
        )
    html = login(world.users["admin"]).get(reverse("web:audit_log")).content.decode()
    assert f"账号 <strong>{t1.username}</strong> 在最近一小时内被拒绝访问 4 次（超过 3 次）" in html
    assert f"账号 <strong>{t2.username}</strong>" not in html


def test_audit_rows_cannot_be_changed_or_deleted_through_the_application(world: Any, rf: Any) -> None:
    event = audit_record(user=world.users["t1"], action=AuditAction.VIEW_PERSON, detail="原文")
    event.detail = "改过"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(detail="改过")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).detail == "原文"
    model_admin = AuditEventAdmin(AuditEvent, admin.site)
    request = rf.get("/admin/accounts/auditevent/")
    request.user = world.users["admin"]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's (SQLite: the application refuses)"
)
def test_postgresql_refuses_raw_update_and_delete_of_audit_rows(world: Any) -> None:
    t1 = world.users["t1"]
    event = audit_record(user=t1, action=AuditAction.VIEW_PERSON, detail="原文")
    for statement in (
        "UPDATE accounts_auditevent SET detail = 'x' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="审计日志不可修改或删除"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).detail == "原文"
    # A deleted account's rows lose their user but keep its name: the one UPDATE the trigger allows.
    t1.delete()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert (kept.user_id, kept.username, kept.detail) == (None, t1.username, "原文")
