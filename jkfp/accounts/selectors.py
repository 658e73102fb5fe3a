"""账号与审计查询 Account and audit-log reads, scoped to the user's region."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jkfp.accounts.models import ADMIN_ROLES, AuditAction, AuditEvent, InstitutionToken, User
from jkfp.accounts.scoping import code_q, user_prefix
from jkfp.regions.models import Institution


def audit_events(
    *,
    user: Any,
    username: str = "",
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """审计日志 Audit events of the users of an administrator's region (county, city or province),
    newest first.

    An event belongs to the region of the user who caused it; an event without a user (a failed
    login under an unknown name) belongs to its recorded region code. Anyone but an administrator
    (``ADMIN_ROLES``) sees nothing. ``date_to`` is inclusive (a whole local day).
    """
    if getattr(user, "role", None) not in ADMIN_ROLES or user_prefix(user) is None:
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.filter(
        code_q(user, "user__region_id") | (Q(user__isnull=True) & code_q(user, "region_code"))
    )
    if username:
        qs = qs.filter(username=username.strip())
    if action:
        qs = qs.filter(action=action)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz))
    return qs.select_related("user").order_by("-at", "-id")


@dataclass(frozen=True)
class DenialAlert:
    """拒绝访问告警 One account with more denied accesses in the last hour than ``AUDIT_DENIAL_ALERT``."""

    username: str
    denials: int
    limit: int


def audit_denial_alerts(*, user: Any, now: datetime | None = None) -> list[DenialAlert]:
    """拒绝访问告警 The accounts of the administrator's region (or user-less probes of it) that got more
    than ``settings.AUDIT_DENIAL_ALERT`` denied accesses (403/404) within the last hour, most first."""
    limit = int(settings.AUDIT_DENIAL_ALERT)
    since = (now or timezone.now()) - timedelta(hours=1)
    rows = (
        audit_events(user=user)
        .filter(action=AuditAction.DENIED, at__gte=since)
        .order_by()
        .values("username")
        .annotate(denials=Count("id"))
        .filter(denials__gt=limit)
        .order_by("-denials", "username")
    )
    return [DenialAlert(username=r["username"], denials=r["denials"], limit=limit) for r in rows]


def users_of_region(*, user: Any) -> QuerySet[User]:
    """本区划用户 The accounts bound inside an administrator's region — a city administrator's: every
    county's of the city (anyone but an administrator: none)."""
    if getattr(user, "role", None) not in ADMIN_ROLES or user_prefix(user) is None:
        return User.objects.none()
    return User.objects.filter(code_q(user, "region_id")).select_related("region").order_by("username")


def user_of_region(*, user: Any, pk: int) -> User | None:
    """本区划的一个用户 One account of the administrator's region, or None (outside it: not found)."""
    return users_of_region(user=user).filter(pk=pk).first()


def user_by_username(*, username: str) -> User | None:
    """按用户名查用户 The active user with this user name, or None (for auditing failed logins)."""
    return User.objects.filter(username=username, is_active=True).select_related("region").first()


# Every API token starts with this, so a stray password or session key is refused without a lookup.
API_KEY_LEAD = "jkfp_"


def token_digest(token: str) -> str:
    """令牌摘要 The SHA-256 hex digest stored in place of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def institution_token_for(*, token: str) -> InstitutionToken | None:
    """有效令牌 The valid, unrevoked API token row (with its institution), or None (one indexed lookup)."""
    if not token.startswith(API_KEY_LEAD):
        return None
    return (
        InstitutionToken.objects.select_related("institution")
        .filter(token_hash=token_digest(token), revoked_at__isnull=True)
        .first()
    )


def institution_for_token(*, token: str) -> Institution | None:
    """令牌所属机构 The institution of a valid, unrevoked API token, or None."""
    row = institution_token_for(token=token)
    return row.institution if row is not None else None
