"""登录限制 Throttling per account (from every address) and per address (for every account), on the
login page and on /admin/, with a truthful message and the county administrator's unlock."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Passw0rd!jkfp"
ADDRESSES = [f"10.0.{i}.{i + 1}" for i in range(6)]


def _post(url: str, username: str, password: str, address: str) -> Any:
    # A new client per attempt: no cookie or session ties the attempts together, only the account.
    return Client().post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_failures_from_five_addresses_lock_the_account_everywhere(world: Any) -> None:
    user = world.users["t1"]
    url = reverse("web:login")
    for address in ADDRESSES[:4]:
        response = _post(url, user.username, "wrong-password", address)
        assert response.status_code == 200, address  # the form again: not yet locked
    # The fifth failure, from a fifth address, locks the account.
    assert _post(url, user.username, "wrong-password", ADDRESSES[4]).status_code == 429
    # The right password from a sixth address: still locked, and the page says it is the account.
    response = _post(url, user.username, PASSWORD, ADDRESSES[5])
    assert response.status_code == 429
    html = response.content.decode()
    assert f"账号“{user.username}”已连续 5 次登录失败" in html
    assert "在任何电脑上都暂时不能登录" in html and "15 分钟" in html
    assert "该地址已锁定" not in html  # the address is not what is locked: the page does not say so
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()
    # Another account from one of those addresses logs in: only the account was locked.
    other = world.users["t2"]
    response = _post(url, other.username, PASSWORD, ADDRESSES[0])
    assert response.status_code == 302 and response["Location"] == reverse("web:home")


def test_admin_login_counts_against_the_same_account(world: Any) -> None:
    user = world.users["admin"]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_url = reverse("admin:login")
    for address in ADDRESSES[:3]:
        assert _post(admin_url, user.username, "wrong-password", address).status_code == 200
    assert _post(reverse("web:login"), user.username, "wrong-password", ADDRESSES[3]).status_code == 200
    assert _post(admin_url, user.username, "wrong-password", ADDRESSES[4]).status_code == 429
    response = _post(admin_url, user.username, PASSWORD, ADDRESSES[5])
    assert response.status_code == 429
    assert "已连续 5 次登录失败" in response.content.decode()
    assert _post(reverse("web:login"), user.username, PASSWORD, ADDRESSES[5]).status_code == 429


def test_one_address_trying_many_accounts_is_locked_for_every_account(world: Any, settings: Any) -> None:
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    url = reverse("web:login")
    address = "10.9.9.9"
    for i in range(7):
        assert _post(url, f"guess{i}", "wrong-password", address).status_code == 200
    assert _post(url, "guess7", "wrong-password", address).status_code == 429
    # A real account with its right password from that address: the address is locked.
    user = world.users["t1"]
    response = _post(url, user.username, PASSWORD, address)
    assert response.status_code == 429
    html = response.content.decode()
    assert "该地址已锁定 15 分钟" in html and "8 次登录失败" in html
    assert "已连续 5 次" not in html  # the account itself is not locked
    # The same account from another address logs in.
    assert _post(url, user.username, PASSWORD, "10.9.9.10").status_code == 302


def test_county_admin_unlocks_an_account_on_the_users_page(world: Any, login: Any) -> None:
    user = world.users["t1"]
    url = reverse("web:login")
    for address in ADDRESSES[:5]:
        _post(url, user.username, "wrong-password", address)
    assert _post(url, user.username, PASSWORD, ADDRESSES[5]).status_code == 429

    client = login(world.users["admin"])
    page = client.get(reverse("web:user_list")).content.decode()
    unlock_url = reverse("web:user_unlock", args=[user.pk])
    assert "登录已锁定" in page and unlock_url in page
    assert client.get(unlock_url).status_code == 405  # a change: POST only
    response = client.post(unlock_url, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302 and response["Location"] == reverse("web:user_list")
    event = AuditEvent.objects.get(action=AuditAction.UNLOCK)
    assert (event.user, event.object_id, event.ip_address) == (
        world.users["admin"],
        user.username,
        "10.1.1.1",
    )
    assert "登录已锁定" not in client.get(reverse("web:user_list")).content.decode()

    assert _post(url, user.username, PASSWORD, ADDRESSES[5]).status_code == 302


def test_only_the_county_admin_of_the_region_unlocks(world: Any, login: Any, make_user: Any) -> None:
    from jkfp.accounts.models import Role

    target = world.users["t2"]
    unlock_url = reverse("web:user_unlock", args=[target.pk])
    assert login(world.users["t1"]).post(unlock_url).status_code == 403
    # A county administrator of another county does not see the account at all.
    from jkfp.regions.models import Region, RegionLevel

    Region.objects.create(code="421302", name="曾都区", level=RegionLevel.COUNTY)
    stranger = make_user(Role.COUNTY_ADMIN, "421302", username="zengdu_admin")
    assert login(stranger).post(unlock_url).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.UNLOCK).exists()
