"""审计日志页 Audit log page: county admin only, scoped to the region's users, filters, query counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.accounts.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def neighbour(county: Any, make_user: Any) -> Any:
    """An administrator of another county, with one event of their own."""
    from jkfp.regions.models import Region, RegionLevel

    Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    user = make_user(Role.COUNTY_ADMIN, "421322")
    audit_record(user=user, action=AuditAction.LOGIN, object_id=user.username, region_code="421322")
    return user


def test_admin_sees_events_of_the_county_users_only(
    client: Client, world: Any, login: Any, neighbour: Any
) -> None:
    t1, t2 = world.users["t1"], world.users["t2"]
    login(t1).get(reverse("web:person_detail", args=[world.persons["zhang"].pk]))
    login(t2).get(reverse("web:person_detail", args=[world.persons["zhao"].pk]))
    client.post(reverse("web:logout"))
    client.post(reverse("web:login"), {"username": "stranger", "password": "x" * 10})
    html = login(world.users["admin"]).get(reverse("web:audit_log")).content.decode()
    assert t1.username in html and t2.username in html
    assert "查看人员" in html
    assert neighbour.username not in html
    # A failed login under an unknown name belongs to no region: the neighbour does not see it either.
    assert "stranger" not in html
    html = login(neighbour).get(reverse("web:audit_log")).content.decode()
    assert neighbour.username in html and t1.username not in html


def test_filters_by_user_action_and_date(client: Client, world: Any, login: Any) -> None:
    t1 = world.users["t1"]
    login(t1).get(reverse("web:person_detail", args=[world.persons["zhang"].pk]))
    login(t1).post(reverse("web:person_reveal", args=[world.persons["zhang"].pk]))
    # Audit rows are insert-only: an old one is inserted with its time.
    AuditEvent.objects.create(
        user=t1,
        username=t1.username,
        action=AuditAction.EXPORT,
        detail="旧导出",
        at=timezone.now() - timedelta(days=10),
    )
    client = login(world.users["admin"])
    url = reverse("web:audit_log")
    html = client.get(url, {"username": t1.username, "action": AuditAction.REVEAL_ID}).content.decode()
    assert "共 1 条" in html and "显示完整身份证号" in html
    today = timezone.localdate().isoformat()
    html = client.get(url, {"username": t1.username, "date_from": today, "date_to": today}).content.decode()
    assert "共 2 条" in html and "旧导出" not in html
    earlier = (timezone.localdate() - timedelta(days=10)).isoformat()
    html = client.get(url, {"date_to": earlier}).content.decode()
    assert "共 1 条" in html and "旧导出" in html
    html = client.get(url, {"date_from": "not-a-date"}).content.decode()
    assert "起始日期" in html and "输入一个有效的日期" in html


def test_audit_page_is_paginated_with_constant_queries(
    client: Client, world: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    t1 = world.users["t1"]
    AuditEvent.objects.bulk_create(
        AuditEvent(user=t1, username=t1.username, action=AuditAction.VIEW_PERSON, object_id=str(i))
        for i in range(120)
    )
    client = login(world.users["admin"])
    with django_assert_max_num_queries(6):  # the page and the denial alerts
        html = client.get(reverse("web:audit_log"), {"page": "2"}).content.decode()
    assert "共 120 条" in html and "第 2 / 3 页" in html


@pytest.mark.parametrize("role", ["t1", "inspector", "doctor"])
def test_only_the_county_admin_sees_the_audit_log(client: Client, world: Any, login: Any, role: str) -> None:
    assert login(world.users[role]).get(reverse("web:audit_log")).status_code == 403
