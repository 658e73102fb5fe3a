"""登录限制 Login throttling per account and per address (django-axes), and the unlock.

Failures are counted twice: per account (user name, whatever the address: four addresses do not
give four times the guesses) and per address (whatever the user name: one machine cannot try a
password on every account). An account locks after ``AXES_FAILURE_LIMIT`` failures, an address
after ``LOGIN_ADDRESS_FAILURE_LIMIT`` (higher: a township's computers may share one address), both
for ``AXES_COOLOFF_TIME`` hours, on the site's login page and on ``/admin/`` alike; a county
administrator unlocks an account on the users page (``accounts.services.user_unlock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def account_limit() -> int:
    """每个账号允许的连续失败次数 Failures that lock an account."""
    return int(settings.AXES_FAILURE_LIMIT)


def address_limit() -> int:
    """每个地址允许的失败次数 Failures from one address (any account) that lock the address."""
    return int(getattr(settings, "LOGIN_ADDRESS_FAILURE_LIMIT", 20))


def cooloff_minutes() -> int:
    """锁定时长（分钟） How long a lock lasts."""
    return round(float(settings.AXES_COOLOFF_TIME) * 60)


def _recent() -> Any:
    return AccessAttempt.objects.filter(
        attempt_time__gte=timezone.now() - timedelta(hours=float(settings.AXES_COOLOFF_TIME))
    )


def _sum(qs: Any) -> int:
    return int(qs.aggregate(n=Sum("failures_since_start"))["n"] or 0)


def account_failures(username: str) -> int:
    """账号失败次数 Recent failures of one user name, from every address."""
    return _sum(_recent().filter(username=username)) if username else 0


def address_failures(ip_address: str) -> int:
    """地址失败次数 Recent failures from one address, for every user name."""
    return _sum(_recent().filter(ip_address=ip_address)) if ip_address else 0


def locked_usernames(usernames: list[str]) -> set[str]:
    """已锁定账号 Which of ``usernames`` are locked now."""
    rows = (
        _recent()
        .filter(username__in=usernames)
        .values("username")
        .annotate(n=Sum("failures_since_start"))
        .filter(n__gte=account_limit())
    )
    return {row["username"] for row in rows}


@dataclass(frozen=True)
class LockState:
    """锁定情况 Whether the account, the address, or both are locked, with the limits."""

    username: str
    account_locked: bool
    address_locked: bool
    account_limit: int
    address_limit: int
    minutes: int


def lock_state(username: str, ip_address: str) -> LockState:
    """锁定情况 What is locked for this user name and address, for the locked page's message."""
    return LockState(
        username=username,
        account_locked=account_failures(username) >= account_limit(),
        address_locked=address_failures(ip_address) >= address_limit(),
        account_limit=account_limit(),
        address_limit=address_limit(),
        minutes=cooloff_minutes(),
    )


class LoginThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler with two limits (``AXES_LOCKOUT_PARAMETERS`` is
    ``["username", "ip_address"]``): the address's failures are scaled so that reaching
    ``address_limit()`` counts as reaching the account limit, axes' single threshold."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        by_account, by_address = (_sum(qs) for qs in self.get_user_attempts(request, credentials))
        # floor(a × A / L) ≥ A exactly when a ≥ L (A, L positive integers).
        return max(by_account, by_address * account_limit() // address_limit())
