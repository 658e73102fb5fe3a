"""登录、退出、锁定与匿名访问 Login, logout, throttling and anonymous access."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Passw0rd!jkfp"


def _page_urls(world: Any) -> list[str]:
    person, household = world.persons["zhang"], world.households["h1"]
    return [
        reverse("web:home"),
        reverse("web:person_search") + "?q=张",
        reverse("web:person_detail", args=[person.pk]),
        reverse("web:household_detail", args=[household.pk]),
        reverse("web:reconciliation"),
        reverse("web:reconciliation_export"),
        reverse("web:import_page"),
        reverse("web:import_detail", args=[1]),
        reverse("web:import_errors", args=[1]),
        reverse("web:audit_log"),
    ]


def test_anonymous_is_sent_to_login_from_every_page(client: Client, world: Any) -> None:
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login") + "?next="), url
    for name in ("web:person_reveal", "web:person_verify"):
        response = client.post(reverse(name, args=[world.persons["zhang"].pk]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login"))
    assert not AuditEvent.objects.filter(action__in=[AuditAction.VIEW_PERSON, AuditAction.REVEAL_ID]).exists()


def test_login_page_is_chinese_and_phone_ready(client: Client) -> None:
    html = client.get(reverse("web:login")).content.decode()
    assert '<html lang="zh-hans">' in html
    assert 'name="viewport"' in html
    assert "登录健康扶贫管理系统" in html
    assert re.search(r"/static/vendor/bootstrap/css/bootstrap\.min\.[0-9a-f]{12}\.css", html)  # hashed
    assert "<style" not in html and " style=" not in html  # CSP: no inline styles
    assert "<script>" not in html  # CSP: no inline scripts


def test_successful_login_is_audited_and_lands_home(client: Client, world: Any) -> None:
    user = world.users["t1"]
    response = client.post(
        reverse("web:login"), {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    event = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert (event.user, event.username, event.ip_address) == (user, user.username, "10.1.2.3")
    home = client.get(reverse("web:home")).content.decode()
    assert user.username in home and "乡镇卫生院" in home and "第1镇" in home


def test_failed_login_is_audited_for_known_and_unknown_names(client: Client, world: Any) -> None:
    user = world.users["t1"]
    response = client.post(reverse("web:login"), {"username": user.username, "password": "wrong-password"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    client.post(reverse("web:login"), {"username": "nobody", "password": "wrong-password"})
    failed = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).order_by("id")
    assert [(e.user, e.username, e.region_code) for e in failed] == [
        (user, user.username, user.region_id),
        (None, "nobody", ""),
    ]


def test_five_failures_lock_the_account_with_a_chinese_page(client: Client, world: Any) -> None:
    user = world.users["admin"]
    for _ in range(5):
        client.post(reverse("web:login"), {"username": user.username, "password": "wrong-password"})
    response = client.post(reverse("web:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    html = response.content.decode()
    assert "登录尝试次数过多" in html and "15 分钟" in html
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, detail__contains="锁定").exists()
    # Still locked: the right password does not open a session.
    assert client.get(reverse("web:home")).status_code == 302


def test_logout_needs_post_and_ends_the_session(client: Client, world: Any, login: Any) -> None:
    login(world.users["t1"])
    assert client.get(reverse("web:home")).status_code == 200
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert client.get(reverse("web:home")).status_code == 302


def test_home_shows_admin_links_only_to_county_admin(client: Client, world: Any, login: Any) -> None:
    html = login(world.users["admin"]).get(reverse("web:home")).content.decode()
    assert reverse("web:import_page") in html and reverse("web:audit_log") in html
    html = login(world.users["inspector"]).get(reverse("web:home")).content.decode()
    assert reverse("web:import_page") not in html and reverse("web:audit_log") not in html
    assert "督查账号只读" in html
