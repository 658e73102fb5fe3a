"""页面权限 Role checks for pages: anonymous users go to the login page, wrong roles get 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import role_require

VERIFY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
ADMIN_ROLES = frozenset({Role.COUNTY_ADMIN})


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_required(*roles: str) -> Callable[[View], View]:
    """限定角色 Allow only users whose role is among ``roles`` (403 otherwise, login page if anonymous)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            role_require(request.user, roles)
            return view(request, *args, **kwargs)

        return cast(View, login_required(wrapped))

    return decorator


def can_verify(user: Any) -> bool:
    """可核实 True for the roles allowed to confirm or reject a verification."""
    return getattr(user, "role", None) in VERIFY_ROLES
