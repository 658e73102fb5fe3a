"""区划范围 Region scoping: the one place that decides what a user may see (domain.md §2).

Every selector that returns persons, households or anything hanging off them filters through
these functions. A user with no region sees nothing; a superuser is not exempt (the admin site is
for catalogues and accounts, not for browsing people).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from jkfp.regions.models import Region, prefix_range

M = TypeVar("M", bound=Model)


def user_prefix(user: Any) -> str | None:
    """用户区划前缀 The region-code prefix the user is bound to, or None (sees nothing)."""
    region: Region | None = getattr(user, "region", None)
    if region is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return region.prefix


def code_q(user: Any, field: str) -> Q:
    """区划条件 A Q object keeping rows whose region-code ``field`` lies in the user's region."""
    prefix = user_prefix(user)
    if prefix is None:
        return Q(pk__in=[])
    lo, hi = prefix_range(prefix)
    return Q(**{f"{field}__gte": lo, f"{field}__lt": hi})


def scope(queryset: QuerySet[M], user: Any, field: str = "village_id") -> QuerySet[M]:
    """按区划过滤 Filter ``queryset`` to the user's region through the region-code ``field``."""
    return queryset.filter(code_q(user, field))


def user_sees_code(user: Any, code: str | None) -> bool:
    """区划可见 True when the region ``code`` lies inside the user's region."""
    prefix = user_prefix(user)
    return prefix is not None and code is not None and code.startswith(prefix)
