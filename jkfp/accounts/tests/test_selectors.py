"""审计日志查询 audit_events: scoped to the administrator's region, filtered."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.accounts.selectors import audit_events, user_by_username
from jkfp.accounts.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(county: Any, make_user: Any) -> dict[str, Any]:
    from jkfp.regions.models import Region, RegionLevel

    Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    return {
        "admin": make_user(Role.COUNTY_ADMIN, "421321"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "inspector": make_user(Role.INSPECTOR, "421321"),
        "other": make_user(Role.COUNTY_ADMIN, "421322"),
    }


def test_events_of_the_region_users_and_of_unknown_users_in_the_region(users: dict[str, Any]) -> None:
    mine = audit_record(user=users["t1"], action=AuditAction.VIEW_PERSON, object_id="1")
    theirs = audit_record(user=users["other"], action=AuditAction.VIEW_PERSON, object_id="2")
    anonymous_here = AuditEvent.objects.create(
        username="ghost", action=AuditAction.LOGIN_FAILED, region_code="421321001000"
    )
    AuditEvent.objects.create(username="nowhere", action=AuditAction.LOGIN_FAILED)
    assert set(audit_events(user=users["admin"])) == {mine, anonymous_here}
    assert set(audit_events(user=users["other"])) == {theirs}


@pytest.mark.parametrize("role", ["t1", "inspector"])
def test_nobody_but_a_county_admin_sees_events(users: dict[str, Any], role: str) -> None:
    audit_record(user=users["t1"], action=AuditAction.LOGIN)
    assert not audit_events(user=users[role]).exists()


def test_filters_and_inclusive_end_date(users: dict[str, Any]) -> None:
    t1 = users["t1"]
    today = timezone.localdate()
    view = audit_record(user=t1, action=AuditAction.VIEW_PERSON)
    export = audit_record(user=t1, action=AuditAction.EXPORT)
    inspector = users["inspector"]
    # Audit rows are insert-only: an old one is inserted with its time.
    old = AuditEvent.objects.create(
        user=inspector,
        username=inspector.username,
        action=AuditAction.EXPORT,
        at=timezone.now() - timedelta(days=3),
    )
    admin = users["admin"]
    assert list(audit_events(user=admin, username=t1.username)) == [export, view]
    assert list(audit_events(user=admin, action=AuditAction.EXPORT)) == [export, old]
    assert list(audit_events(user=admin, date_from=today, date_to=today)) == [export, view]
    assert list(audit_events(user=admin, date_to=today - timedelta(days=1))) == [old]
    assert not audit_events(user=admin, date_from=date(2000, 1, 1), date_to=date(2000, 1, 2)).exists()


def test_user_by_username_ignores_inactive_users(users: dict[str, Any]) -> None:
    assert user_by_username(username=users["t1"].username) == users["t1"]
    users["t1"].is_active = False
    users["t1"].save()
    assert user_by_username(username=users["t1"].username) is None
    assert user_by_username(username="nobody") is None
