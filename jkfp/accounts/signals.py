"""登录失败审计 Failed logins, wherever they happen (the login page, ``/admin/``, any ``authenticate``).

Django sends ``user_login_failed`` for every failed ``authenticate`` — a wrong password, an unknown
name, and an attempt refused by the login throttling (django-axes' backend refuses it, and sets
``request.axes_locked_out``). One receiver records each as ``LOGIN_FAILED``; the pages do not.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib.auth.signals import user_login_failed

from jkfp.accounts.models import AuditAction
from jkfp.accounts.selectors import user_by_username
from jkfp.accounts.services import audit_record

ADMIN_PREFIX = "/admin/"


def login_failed_audit(sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    """登录失败 Record a failed login: the user when the name is known, else the name as typed."""
    username = str(credentials.get("username") or "").strip()[:150]
    known = user_by_username(username=username) if username else None
    locked = bool(getattr(request, "axes_locked_out", False))
    where = "后台登录" if request is not None and request.path.startswith(ADMIN_PREFIX) else "登录"
    audit_record(
        # An unknown name is recorded as typed, without a user.
        user=known or SimpleNamespace(username=username, is_authenticated=False),
        action=AuditAction.LOGIN_FAILED,
        object_type="user",
        object_id=username,
        detail=f"{where}：" + ("尝试次数过多，已锁定" if locked else "用户名或密码错误"),
        region_code=(known.region_id or "") if known else "",
        request=request,
    )


def connect() -> None:
    user_login_failed.connect(login_failed_audit, dispatch_uid="jkfp.accounts.login_failed_audit")
