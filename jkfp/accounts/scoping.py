"""角色与区划 Roles and region scoping: the one place that decides what a user may do and see
(domain.md §2).

Every selector that returns persons, households or anything hanging off them filters through
these functions; every service checks its roles with ``role_require`` and a person's region with
``scope_require``; every page picks regions with ``region_choices``/``region_get``. A user with no
region sees nothing; a superuser is not exempt (the admin site is for catalogues and accounts, not
for browsing people).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from jkfp.regions.models import Region, RegionLevel, code_range, prefix_range

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


def region_narrow(queryset: QuerySet[M], region: str | None, field: str = "village_id") -> QuerySet[M]:
    """区划筛选 Narrow ``queryset`` (already scoped to the user's region) to the page's ``region``
    parameter — a township, village or any region code — through the region-code ``field``: an empty
    parameter keeps the queryset, a code that is no region code gives nothing, and a region outside
    the user's scope gives nothing because the scope still applies."""
    region = (region or "").strip()
    if not region:
        return queryset
    bounds = code_range(region)
    if bounds is None:
        return queryset.none()
    lo, hi = bounds
    return queryset.filter(**{f"{field}__gte": lo, f"{field}__lt": hi})


def user_sees_code(user: Any, code: str | None) -> bool:
    """区划可见 True when the region ``code`` lies inside the user's region."""
    prefix = user_prefix(user)
    return prefix is not None and code is not None and code.startswith(prefix)


ERR_ROLE = "您的角色无权进行此操作"
ERR_OUT_OF_SCOPE = "该人员不在您的管辖范围内"


def role_require(user: Any, roles: Collection[str], message: str = ERR_ROLE, *, system: bool = False) -> None:
    """限定角色 ``PermissionDenied(message)`` unless the user's role is among ``roles``.

    ``user=None`` is the system acting without an account (the command line, an API token already
    bound to its institution): allowed only where the caller says so (``system=True``), denied
    otherwise.
    """
    if user is None and system:
        return
    if getattr(user, "role", None) not in roles:
        raise PermissionDenied(message)


def scope_require(user: Any, code: str | None, message: str = ERR_OUT_OF_SCOPE) -> None:
    """限定区划 ``PermissionDenied(message)`` unless the region ``code`` lies inside the user's region."""
    if not user_sees_code(user, code):
        raise PermissionDenied(message)


NOT_FOUND_REGION = "区划不存在或不在您的管辖范围内"


# The levels a region picker offers below the user's own: a county or lower user picks townships and
# villages (as always); a city user its counties and their townships; a province user its cities and
# counties (a province's villages, tens of thousands, are reached by drilling down, not by a picker).
_PICKER_LEVELS: dict[str, tuple[str, str]] = {
    RegionLevel.PROVINCE: (RegionLevel.CITY, RegionLevel.COUNTY),
    RegionLevel.CITY: (RegionLevel.COUNTY, RegionLevel.TOWNSHIP),
}


def region_choices(*, user: Any) -> list[tuple[str, str]]:
    """可选区划 ``(code, label)`` of the regions a user picks from on every page: for a county or lower
    user the townships and villages of their region (village labels indented under their township's
    name); for a city user its counties and townships, for a province user its cities and counties."""
    region: Region | None = getattr(user, "region", None)
    levels = _PICKER_LEVELS.get(
        region.level if region is not None else "", (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
    )
    regions = scope(
        Region.objects.filter(level__in=levels).select_related("parent"),
        user,
        "code",
    ).order_by("code")
    return [
        (
            r.code,
            r.name if r.level == levels[0] else f"\u3000{r.parent.name if r.parent else ''} {r.name}",
        )
        for r in regions
    ]


def region_get(*, user: Any, code: str | None) -> Region:
    """区划 The region ``code`` — the user's own region when empty — when it lies inside the user's
    region; ``Http404`` when it is unknown or outside (a township user cannot ask for the county or
    another township)."""
    if user_prefix(user) is None:
        raise Http404(NOT_FOUND_REGION)
    code = (code or "").strip() or user.region_id
    region = Region.objects.filter(code=code).first()
    if region is None or not user_sees_code(user, region.prefix):
        raise Http404(NOT_FOUND_REGION)
    return region
