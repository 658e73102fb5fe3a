"""账号页面 Password pages: change one's own password; a county administrator resets a user's.

A user whose password was reset (``must_change_password``) is sent to the change page from every
other page until the password is changed (``PasswordChangeRequiredMiddleware``). Password rules are
Django's validators (settings.AUTH_PASSWORD_VALIDATORS), whose messages Django translates to Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.selectors import user_of_region, users_of_region
from jkfp.accounts.services import user_password_change, user_password_reset, user_unlock
from jkfp.accounts.throttle import lock_state, locked_usernames

# Paths a user who must change the password may still reach.
OPEN_PREFIXES = ("/static/", "/healthz", "/api/")


def password_change(request: AuthedRequest) -> HttpResponse:
    """修改密码 The user's own password: the old one, then the new one twice."""
    user = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user_password_change(user=user, password=form.cleaned_data["new_password1"], request=request)
        update_session_auth_hash(request, user)
        messages.success(request, "密码已修改。")
        return redirect("web:home")
    status = 400 if form.errors else 200
    return render(request, "web/accounts/password_change.html", {"form": form}, status=status)


def user_list(request: AuthedRequest) -> HttpResponse:
    """用户管理 The accounts of the administrator's region, with the password-reset and unlock actions."""
    users = list(users_of_region(user=request.user))
    locked = locked_usernames([u.username for u in users])
    return render(request, "web/accounts/users.html", {"users": users, "locked": locked})


@require_POST
def user_unlock_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """解除登录锁定 Clear an account's failed logins so it can log in again at once (audited)."""
    target = user_of_region(user=request.user, pk=pk)
    if target is None:
        raise Http404("没有这个用户")
    try:
        user_unlock(admin=request.user, user=target, request=request)
    except PermissionDenied as exc:
        raise Http404(str(exc)) from exc
    messages.success(request, f"已解除 {target.username} 的登录锁定，该用户现在可以登录。")
    return redirect("web:user_list")


def login_locked(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """登录已锁定 django-axes' lockout answer (429): says truthfully whether the account (from every
    address) or this address (for every account) is locked, for how long, and who can unlock it."""
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")[:150]
    state = lock_state(
        username, getattr(request, "axes_ip_address", "") or request.META.get("REMOTE_ADDR", "")
    )
    return render(request, "web/accounts/locked.html", {"lock": state}, status=429)


def user_password_reset_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """重置密码 Give a user of the region a temporary password; they must change it at the next login."""
    target = user_of_region(user=request.user, pk=pk)
    if target is None:
        raise Http404("没有这个用户")
    form = SetPasswordForm(target, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_password_reset(
                admin=request.user,
                user=target,
                password=form.cleaned_data["new_password1"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        except PermissionDenied as exc:
            raise Http404(str(exc)) from exc
        else:
            messages.success(request, f"已重置 {target.username} 的密码；该用户下次登录时须修改密码。")
            return redirect("web:user_list")
    status = 400 if form.errors else 200
    return render(
        request, "web/accounts/password_reset.html", {"form": form, "target": target}, status=status
    )


class PasswordChangeRequiredMiddleware:
    """须修改密码 Send a user whose password was reset to the change page until it is changed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user: Any = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not request.path_info.startswith(OPEN_PREFIXES)
        ):
            allowed = {reverse("web:password_change"), reverse("web:logout")}
            if request.path_info not in allowed:
                messages.warning(request, "管理员已重置您的密码，请先设置新密码。")
                return redirect("web:password_change")
        return self.get_response(request)
