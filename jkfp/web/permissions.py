"""页面权限 Role checks for pages: anonymous users go to the login page, wrong roles get 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import role_require

VERIFY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
ADMIN_ROLES = frozenset({Role.COUNTY_ADMIN})


def role_required(*roles: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """限定角色 Allow only users whose role is among ``roles`` (403 otherwise, login page if anonymous)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            role_require(request.user, roles)
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def can_verify(user: Any) -> bool:
    """可核实 True for the roles allowed to confirm or reject a verification."""
    return getattr(user, "role", None) in VERIFY_ROLES
