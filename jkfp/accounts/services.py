"""用户与审计写操作 Account and audit services."""

from __future__ import annotations

import os
import pwd
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jkfp.accounts.models import ADMIN_ROLES, AuditAction, AuditEvent, InstitutionToken, Role, User
from jkfp.accounts.scoping import user_sees_code
from jkfp.accounts.selectors import API_KEY_LEAD, token_digest
from jkfp.core.bulkdb import insert_returning
from jkfp.regions.models import Institution, Region, RegionLevel, stored_code

# Which region level each role is bound to (domain.md §2).
ROLE_LEVELS: dict[str, set[str]] = {
    Role.COUNTY_ADMIN: {RegionLevel.COUNTY},
    Role.TOWNSHIP: {RegionLevel.TOWNSHIP},
    Role.VILLAGE_DOCTOR: {RegionLevel.VILLAGE, RegionLevel.TOWNSHIP},
    Role.HOSPITAL: {RegionLevel.COUNTY, RegionLevel.TOWNSHIP},
    Role.FUND: {RegionLevel.COUNTY},
    Role.INSPECTOR: {RegionLevel.COUNTY, RegionLevel.TOWNSHIP, RegionLevel.VILLAGE},
    Role.CITY_ADMIN: {RegionLevel.CITY},
    Role.PROVINCE_ADMIN: {RegionLevel.PROVINCE},
    Role.CITY_INSPECTOR: {RegionLevel.CITY},
    Role.PROVINCE_INSPECTOR: {RegionLevel.PROVINCE},
}


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    region_code: str,
    full_name: str = "",
    institution_code: str | None = None,
    admin: User | None = None,
) -> User:
    """创建用户 Create a user bound to a region (and an institution for a hospital window).

    ``admin``: the administrator creating it (None: the operator's command line), who may create
    accounts inside their own region only (``user_binding_check``).
    """
    region = Region.objects.filter(code=stored_code(region_code) or region_code).first()
    if region is None:
        raise ValidationError({"region": f"区划代码{region_code}不存在 / unknown region {region_code}"})
    institution = None
    if institution_code:
        institution = Institution.objects.filter(code=institution_code).first()
        if institution is None:
            raise ValidationError({"institution": f"机构代码{institution_code}不存在 / unknown institution"})
    user_binding_check(admin=admin, role=role, region=region, institution=institution)
    user = User(
        username=username,
        role=role,
        region=region,
        institution=institution,
        full_name=full_name,
        is_staff=role in ADMIN_ROLES,
    )
    user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        if role in ADMIN_ROLES:
            user.user_permissions.set(_admin_permissions(role))
    return user


ERR_BIND_OUTSIDE = (
    "只能在本人管辖区划内设置用户（县管理员不能设置市、省级用户） / an administrator binds users inside "
    "their own region only"
)
ERR_BIND_ROLE = "只有管理员可以设置用户 / only an administrator manages users"
ERR_BIND_INSTITUTION = "只能绑定本人管辖区划内的医疗机构 / an administrator binds users to institutions inside their own region only"


def user_binding_check(
    *, admin: User | None, role: str, region: Region, institution: Institution | None = None
) -> None:
    """用户绑定校验 ``ValidationError`` naming the field unless a user of ``role`` may be bound to
    ``region`` by ``admin``: the role fits the region's level (``ROLE_LEVELS``) and, when an
    administrator does it, the region lies inside the administrator's own (a county administrator
    cannot make a city user; a city administrator makes users in its counties), and so does the
    ``institution`` (its region, or for one outside the tree its 县外地区代码). ``admin=None`` is the
    operator's command line."""
    if role not in ROLE_LEVELS:
        raise ValidationError({"role": f"未知角色{role} / unknown role {role}"})
    if region.level not in ROLE_LEVELS[role]:
        raise ValidationError(
            {
                "region": f"角色“{Role(role).label}”不能绑定到{region.get_level_display()}级区划 / role {role} "
                f"cannot be bound to a {region.level}"
            }
        )
    if admin is None:
        return
    if admin.role not in ADMIN_ROLES:
        raise ValidationError({"role": ERR_BIND_ROLE})
    if not user_sees_code(admin, region.code):
        raise ValidationError({"region": ERR_BIND_OUTSIDE})
    if institution is not None and not user_sees_code(
        admin, institution.region_id or institution.outside_region_code
    ):
        raise ValidationError({"institution": ERR_BIND_INSTITUTION})


ERR_RESET_ROLE = "只有管理员可以重置密码 / only an administrator may reset passwords"
ERR_RESET_REGION = "该用户不在您的区划内 / the user is outside your region"
ERR_RESET_SELF = "请在“修改密码”页修改自己的密码 / change your own password on the password page"


def user_password_change(*, user: User, password: str, request: Any = None) -> User:
    """修改密码 The user sets a new password (validated by the caller's form); the reset flag is cleared."""
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    audit_record(
        user=user,
        action=AuditAction.PASSWORD_CHANGE,
        object_type="user",
        object_id=user.username,
        region_code=user.region_id or "",
        request=request,
    )
    return user


def user_password_reset(*, admin: User, user: User, password: str, request: Any = None) -> User:
    """重置密码 An administrator (county, city, province) gives a user of their region a temporary
    password; the user must change it at the next login. Audited; refused outside the region."""
    if admin.role not in ADMIN_ROLES:
        raise PermissionDenied(ERR_RESET_ROLE)
    if user.pk == admin.pk:
        raise ValidationError({"password": ERR_RESET_SELF})
    if not user_sees_code(admin, user.region_id):
        raise PermissionDenied(ERR_RESET_REGION)
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    audit_record(
        user=admin,
        action=AuditAction.PASSWORD_RESET,
        object_type="user",
        object_id=user.username,
        detail=f"重置{user.username}的密码，下次登录须修改",
        region_code=user.region_id or "",
        request=request,
    )
    return user


ERR_UNLOCK_ROLE = "只有管理员可以解除登录锁定"
ERR_UNLOCK_REGION = "该用户不在您的管辖范围内"


def user_unlock(*, admin: User, user: User, request: Any = None) -> int:
    """解除登录锁定 An administrator clears the failed logins of an account of their region (from
    every address), so it can log in again at once. Audited; returns the failure records removed."""
    if admin.role not in ADMIN_ROLES:
        raise PermissionDenied(ERR_UNLOCK_ROLE)
    if not user_sees_code(admin, user.region_id):
        raise PermissionDenied(ERR_UNLOCK_REGION)
    removed = int(axes_reset(username=user.username))
    audit_record(
        user=admin,
        action=AuditAction.UNLOCK,
        object_type="user",
        object_id=user.username,
        detail=f"解除{user.username}的登录锁定（清除{removed}条失败记录）",
        region_code=user.region_id or "",
        request=request,
    )
    return removed


# What a county administrator may edit in the admin site: catalogues, regions, institutions, users.
COUNTY_ADMIN_MODELS = (
    ("registry", "disease"),
    ("registry", "catalogueentry"),
    ("regions", "region"),
    ("regions", "institution"),
    ("accounts", "user"),
    ("treatment", "designatedhospital"),
    ("monitoring", "alertrule"),
    ("monitoring", "monitoringparameter"),
    ("care", "followuprule"),
    ("care", "servicepackage"),
    ("care", "team"),
    ("care", "teammember"),
    ("indicators", "premiumrule"),
    ("capacity", "capacitystandard"),
)


# A city or province administrator: users, policies and catalogues — not a county's care teams.
UPPER_ADMIN_MODELS = tuple(
    m for m in COUNTY_ADMIN_MODELS if m not in (("care", "team"), ("care", "teammember"))
)


# Deployment-wide catalogues whose rows only a superuser changes or deletes
# (``accounts.admin.DeploymentCatalogueAdmin``; migration ``accounts 0008`` for accounts made before):
# the actions an administrator keeps — reading, and for the disease catalogue adding a disease, which
# enters the administrator's own region's catalogue only (``registry.admin.DiseaseAdmin``).
LIMITED_ADMIN_MODELS = {("care", "servicepackage"): ("view",), ("registry", "disease"): ("view", "add")}


def _admin_permissions(role: str) -> list[Permission]:
    query = Q()
    for app_label, model in COUNTY_ADMIN_MODELS if role == Role.COUNTY_ADMIN else UPPER_ADMIN_MODELS:
        model_q = Q(content_type__app_label=app_label, content_type__model=model)
        if (app_label, model) in LIMITED_ADMIN_MODELS:
            model_q &= Q(codename__in=[f"{a}_{model}" for a in LIMITED_ADMIN_MODELS[app_label, model]])
        query |= model_q
    return list(Permission.objects.filter(query))


@dataclass
class AuditContext:
    """审计上下文 The web request being served (its client's address and browser) and how many audit
    rows it has written so far. Set by ``jkfp.accounts.middleware.AuditMiddleware`` around every
    request, so that a service deep below a view records IP and user agent without being passed the
    request; outside a request (command line, worker) there is none and the OS user is recorded."""

    ip: str | None
    agent: str
    recorded: int = 0


_audit_context: ContextVar[AuditContext | None] = ContextVar("jkfp_audit_context", default=None)


def _client(request: Any) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    meta = getattr(request, "META", {})
    return meta.get("REMOTE_ADDR") or None, (meta.get("HTTP_USER_AGENT") or "")[:300]


@contextmanager
def audit_context(request: Any) -> Iterator[AuditContext]:
    """审计上下文 Within this block every ``audit_record`` carries ``request``'s address and browser."""
    ip, agent = _client(request)
    context = AuditContext(ip=ip, agent=agent)
    token = _audit_context.set(context)
    try:
        yield context
    finally:
        _audit_context.reset(token)


@cache
def os_user() -> str:
    """操作系统用户 The account this process runs as (and the one behind ``sudo``, when there is one)."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = os.environ.get("USER") or os.environ.get("LOGNAME") or f"uid{uid}"
    sudo = os.environ.get("SUDO_USER", "")
    return f"{name}（sudo {sudo}）" if sudo and sudo != name else name


OS_USER_LEAD = "系统用户:"


def audit_record(
    *,
    user: Any,
    action: str,
    object_type: str = "",
    object_id: str = "",
    detail: str = "",
    region_code: str = "",
    request: Any = None,
) -> AuditEvent:
    """记审计 Record who did what, when and from where (views, reveals, exports, imports, writes).

    The address and browser come from ``request`` or else from the web request being served
    (``audit_context``); outside a web request the operating-system user is recorded (``os_user``),
    and an action without a user is recorded under ``系统用户:<name>``.
    """
    context = _audit_context.get()
    if request is not None:
        ip, agent = _client(request)
    elif context is not None:
        ip, agent = context.ip, context.agent
    else:
        ip, agent = None, ""
    system = "" if context is not None or request is not None else os_user()
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    username = getattr(user, "username", "") or ""
    if not username and system:
        username = OS_USER_LEAD + system
    event = AuditEvent(
        user=user if authenticated else None,
        username=username[:150],
        action=AuditAction(action),
        object_type=object_type,
        object_id=str(object_id)[:64],
        detail=detail[:500],
        region_code=region_code,
        ip_address=ip,
        user_agent=agent,
        os_user=system[:100],
    )
    insert_returning(event)  # one INSERT without ORM query building (on the API's hot path)
    if context is not None:
        context.recorded += 1
    return event


# --- 接口令牌 (issue 4 §5) -------------------------------------------------------------------------

ERR_UNKNOWN_INSTITUTION = "机构代码{code}不存在 / unknown institution {code}"


def institution_token_create(
    *, institution_code: str, user: Any = None, label: str = ""
) -> tuple[InstitutionToken, str]:
    """创建接口令牌 Create an API token for an institution; returns the row and the token (shown once).

    Only the token's digest is stored; the creation is audited (AuditAction.TOKEN).
    """
    institution = Institution.objects.filter(code=institution_code).first()
    if institution is None:
        raise ValidationError({"institution": ERR_UNKNOWN_INSTITUTION.format(code=institution_code)})
    token = API_KEY_LEAD + secrets.token_urlsafe(32)
    row = InstitutionToken(
        institution=institution,
        token_hash=token_digest(token),
        prefix=token[: len(API_KEY_LEAD) + 4],
        label=label,
        created_by=getattr(user, "username", "") or OS_USER_LEAD + os_user(),
    )
    row.full_clean()
    with transaction.atomic():
        row.save()
        audit_record(
            user=user,
            action=AuditAction.TOKEN,
            object_type="institution_token",
            object_id=str(row.pk),
            detail=f"创建接口令牌 {institution.name}（{institution.code}） {row.prefix}… {label}".strip(),
            region_code=institution.region_id or "",
        )
    return row, token


ERR_UNKNOWN_TOKEN = "令牌编号{token_id}不存在 / unknown token id {token_id}"  # noqa: S105 (a message, not a secret)
ERR_TOKEN_REVOKED = "令牌编号{token_id}已于{when}吊销 / token {token_id} was already revoked on {when}"  # noqa: S105 (a message, not a secret)


def institution_token_revoke(*, token_id: int, user: Any = None, reason: str = "") -> InstitutionToken:
    """吊销接口令牌 Revoke an API token: from now on it gets 401; the revocation is audited.

    A revoked token stays in the table (its prefix and dates are the record of what was issued).
    """
    with transaction.atomic():
        row = (
            InstitutionToken.objects.select_for_update()
            .select_related("institution")
            .filter(pk=token_id)
            .first()
        )
        if row is None:
            raise ValidationError({"token": ERR_UNKNOWN_TOKEN.format(token_id=token_id)})
        if row.revoked_at is not None:
            when = timezone.localtime(row.revoked_at).strftime("%Y-%m-%d %H:%M")
            raise ValidationError({"token": ERR_TOKEN_REVOKED.format(token_id=token_id, when=when)})
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        audit_record(
            user=user,
            action=AuditAction.TOKEN,
            object_type="institution_token",
            object_id=str(row.pk),
            detail=f"吊销接口令牌 {row.institution.name}（{row.institution.code}） {row.prefix}… {reason}".strip(),
            region_code=row.institution.region_id or "",
        )
    return row
