"""页面权限 The permission matrix (``jkfp.accounts.permissions``) enforced before every view.

``PermissionMatrixMiddleware`` looks up the resolved URL name: undeclared → 403 (fail closed);
anonymous → the login page (the API: 401 in its JSON shape); a role the entry does not allow, or an
inspector's change → 403 (the API: 403 in its JSON shape). Views therefore declare nothing
themselves; ``role_required`` remains for a view that checks a narrower role set than its URL.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from jkfp.accounts.http import no_store
from jkfp.accounts.permissions import access_for, allowed
from jkfp.accounts.scoping import ERR_ROLE, role_require

ERR_UNDECLARED = "该地址未在权限矩阵中声明，已拒绝 / this URL is not declared in the permission matrix"
ERR_READ_ONLY = "督查账号只读，不能修改 / the inspector's account is read-only"
ERR_NOT_LOGGED_IN = "登录已过期或尚未登录，请重新登录 / not logged in"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"


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
    """可核实 True when the matrix lets the user confirm or reject a verification (``web:person_verify``)."""
    return allowed(user, "web:person_verify", write=True)


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    body = {"code": code, "message": message, "errors": []}
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    no_store(response)  # an API answer is never stored, whoever asked
    return response


class PermissionMatrixMiddleware:
    """权限矩阵 Refuse every request the matrix does not allow, before the view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        match = request.resolver_match
        entry = access_for(match.view_name if match is not None else None)
        api = request.path_info.startswith(API_PREFIX)
        if entry is None:
            if api:
                return _api_error(403, "forbidden", ERR_UNDECLARED)
            raise PermissionDenied(ERR_UNDECLARED)
        if entry.public or entry.token:
            return None  # token routes: the API's own bearer check (401) decides
        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            if entry.admin_site:
                return None  # the admin site sends to its own login page
            if api:
                return _api_error(401, "unauthorized", ERR_NOT_LOGGED_IN)
            return redirect_to_login(request.get_full_path())
        write = request.method not in SAFE_METHODS
        if entry.allows(getattr(user, "role", None), write=write):
            return None
        message = ERR_READ_ONLY if entry.allows(getattr(user, "role", None)) else entry.refusal or ERR_ROLE
        if api:
            return _api_error(403, "forbidden", message)
        raise PermissionDenied(message)
