"""Passwords: a user changes their own; a county administrator resets one within the region and the
user must change it at the next login; Django's rules with Chinese messages; all audited."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent, Role, User
from jkfp.regions.models import Region, RegionLevel

PASSWORD = "Passw0rd!jkfp"
NEW = "Qiu-tian-2026-hao"


def _log_in(client: Client, user: User, password: str) -> Any:
    return client.post(reverse("web:login"), {"username": user.username, "password": password})


def test_a_user_changes_the_password_with_chinese_rules(client: Client, world: Any) -> None:
    user = world.users["doctor"]
    assert _log_in(client, user, PASSWORD).status_code == 302
    url = reverse("web:password_change")
    page = client.get(url).content.decode()
    assert "修改密码" in page and "旧密码" in page
    wrong = client.post(url, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 400 and "你的旧密码不正确" in wrong.content.decode()
    weak = client.post(
        url, {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    text = weak.content.decode()
    assert weak.status_code == 400 and "这个密码太常见了" in text and "密码只包含数字" in text
    done = client.post(url, {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("web:home")
    assert client.get(reverse("web:home")).status_code == 200, "the session survives the change"
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert AuditEvent.objects.filter(user=user, action=AuditAction.PASSWORD_CHANGE).count() == 1


def test_an_admin_reset_forces_a_change_at_the_next_login(client: Client, world: Any) -> None:
    admin, doctor = world.users["admin"], world.users["doctor"]
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    listing = client.get(reverse("web:user_list")).content.decode()
    assert doctor.username in listing and reverse("web:user_password_reset", args=[doctor.pk]) in listing
    url = reverse("web:user_password_reset", args=[doctor.pk])
    weak = client.post(url, {"new_password1": "abc", "new_password2": "abc"})
    assert weak.status_code == 400 and "密码太短，至少需要 8 个字符" in weak.content.decode()
    temporary = "Lin-shi-mi-ma-7"
    assert client.post(url, {"new_password1": temporary, "new_password2": temporary}).status_code == 302
    doctor.refresh_from_db()
    assert doctor.must_change_password and doctor.check_password(temporary)
    event = AuditEvent.objects.get(action=AuditAction.PASSWORD_RESET)
    assert (event.user, event.object_id) == (admin, doctor.username)

    phone = Client()
    assert _log_in(phone, doctor, temporary).status_code == 302
    for page in (reverse("web:home"), reverse("web:person_search"), reverse("care:worklist")):
        response = phone.get(page)
        assert response.status_code == 302 and response["Location"] == reverse("web:password_change"), page
    assert phone.get("/healthz").status_code in (200, 503), "the health check is never redirected"
    changed = phone.post(
        reverse("web:password_change"),
        {"old_password": temporary, "new_password1": NEW, "new_password2": NEW},
    )
    assert changed.status_code == 302
    assert phone.get(reverse("web:person_search")).status_code == 200
    doctor.refresh_from_db()
    assert not doctor.must_change_password


def test_a_reset_stays_within_the_admins_region(client: Client, world: Any, make_user: Any) -> None:
    other = Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    outsider = make_user(Role.INSPECTOR, other.code)
    client.force_login(world.users["admin"], backend="django.contrib.auth.backends.ModelBackend")
    assert outsider.username not in client.get(reverse("web:user_list")).content.decode()
    url = reverse("web:user_password_reset", args=[outsider.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"new_password1": NEW, "new_password2": NEW}).status_code == 404
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD) and not outsider.must_change_password

    client.force_login(world.users["t1"], backend="django.contrib.auth.backends.ModelBackend")
    doctor = world.users["doctor"]
    assert client.get(reverse("web:user_list")).status_code == 403
    target = reverse("web:user_password_reset", args=[doctor.pk])
    assert client.post(target, {"new_password1": NEW, "new_password2": NEW}).status_code == 403
    doctor.refresh_from_db()
    assert doctor.check_password(PASSWORD)
