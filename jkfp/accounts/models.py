"""用户、角色与审计日志 Users bound to a region, and the audit log (domain.md §2)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from jkfp.regions.models import Institution, Region


class Role(models.TextChoices):
    """角色 The roles of domain.md §2."""

    COUNTY_ADMIN = "county_admin", "县卫健局管理员"
    TOWNSHIP = "township", "乡镇卫生院"
    VILLAGE_DOCTOR = "village_doctor", "村医"
    HOSPITAL = "hospital", "定点医疗机构结算窗口"
    FUND = "fund", "医保局·民政"
    INSPECTOR = "inspector", "督查（只读）"
    # Above the county (issue 21): read everything in their city or province; the administrators also
    # manage users, policies and catalogues; none of them enters care or settlement.
    CITY_ADMIN = "city_admin", "市卫健委管理员"
    PROVINCE_ADMIN = "province_admin", "省卫健委管理员"
    CITY_INSPECTOR = "city_inspector", "市督查（只读）"
    PROVINCE_INSPECTOR = "province_inspector", "省督查（只读）"


# 只读角色 Read-only everywhere (any change refused), every read audited.
READ_ONLY_ROLES = frozenset({Role.INSPECTOR, Role.CITY_INSPECTOR, Role.PROVINCE_INSPECTOR})
# 管理员 The administrators of a region: users, policies and catalogues of their county, city or province.
ADMIN_ROLES = frozenset({Role.COUNTY_ADMIN, Role.CITY_ADMIN, Role.PROVINCE_ADMIN})
# 县以上角色 Roles bound above a county: they read and manage, they never enter care or settlement.
UPPER_ROLES = frozenset({Role.CITY_ADMIN, Role.PROVINCE_ADMIN, Role.CITY_INSPECTOR, Role.PROVINCE_INSPECTOR})


class User(AbstractUser):
    """用户 A person who logs in; every user is bound to one region."""

    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.INSPECTOR)
    region = models.ForeignKey(
        Region, verbose_name="所属区划", null=True, on_delete=models.PROTECT, related_name="users"
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name="所属机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    full_name = models.CharField("姓名", max_length=50, blank=True)
    # Set when an administrator resets the password: every page asks for a new one until it is changed.
    must_change_password = models.BooleanField("下次登录须修改密码", default=False)

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def is_read_only(self) -> bool:
        return self.role in READ_ONLY_ROLES


class AuditAction(models.TextChoices):
    """审计动作 What was done."""

    VIEW_PERSON = "view_person", "查看人员"
    VIEW_HOUSEHOLD = "view_household", "查看户"
    REVEAL_ID = "reveal_id", "显示完整身份证号"
    EXPORT = "export", "导出"
    IMPORT = "import", "导入"
    CONFIRM = "confirm", "核实核准"
    LOGIN = "login", "登录"
    LOGIN_FAILED = "login_failed", "登录失败"
    SETTLE = "settle", "结算"
    REVERSE = "reverse", "冲销"
    RESETTLE = "resettle", "重新结算"
    POLICY = "policy", "政策变更"
    TOKEN = "token", "接口令牌"
    VIEW_SLIP = "view_slip", "查看结算单"
    CHANGE = "change", "修改记录"
    PASSWORD_CHANGE = "password_change", "修改密码"
    PASSWORD_RESET = "password_reset", "重置密码"
    UNLOCK = "unlock", "解除登录锁定"
    SEARCH = "search", "查询筛选"
    DENIED = "denied", "拒绝访问"
    API_READ = "api_read", "接口查询"
    SUBMIT = "submit", "网页提交"


ERR_AUDIT_IMMUTABLE = "审计日志不可修改或删除 / audit events cannot be changed or deleted"


class AuditImmutableError(Exception):
    """审计日志不可改 Raised on any attempt to change or delete an audit event through the application."""

    def __init__(self) -> None:
        super().__init__(ERR_AUDIT_IMMUTABLE)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Audit rows are only ever inserted: ``update()`` and ``delete()`` refuse (PostgreSQL also has a
    trigger, migration 0006, for whatever bypasses the ORM)."""

    def update(self, **kwargs: Any) -> int:
        raise AuditImmutableError

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError


class AuditEvent(models.Model):
    """审计日志 Who did what, when, from where. Insert-only: ``save`` of a stored row, ``delete`` and the
    queryset's ``update``/``delete`` refuse; on PostgreSQL a trigger refuses UPDATE and DELETE too."""

    at = models.DateTimeField("时间", default=timezone.now, db_index=True)
    user = models.ForeignKey(
        User, verbose_name="用户", null=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    username = models.CharField("用户名", max_length=150, blank=True)
    action = models.CharField("动作", max_length=20, choices=AuditAction.choices)
    object_type = models.CharField("对象类型", max_length=40, blank=True)
    object_id = models.CharField("对象", max_length=64, blank=True)
    detail = models.CharField("说明", max_length=500, blank=True)
    region_code = models.CharField("区划", max_length=12, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField("来源地址", null=True, blank=True)
    user_agent = models.CharField("浏览器", max_length=300, blank=True)
    # The operating-system account of a command-line (or background) action: outside a web request.
    os_user = models.CharField("操作系统用户", max_length=100, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.get_action_display()} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError


class InstitutionToken(models.Model):
    """接口令牌 A hospital's API token (``Authorization: Bearer …``); only its SHA-256 hash is stored.

    The token is shown once, when it is created (``jkfp token create``); a lost token is replaced by a
    new one and the old one revoked. SHA-256 (not a slow password hash) is enough because the token
    is 256 random bits, and it keeps the per-request check to one indexed lookup.
    """

    institution = models.ForeignKey(
        Institution, verbose_name="医疗机构", on_delete=models.PROTECT, related_name="api_tokens"
    )
    token_hash = models.CharField("令牌摘要", max_length=64, unique=True)
    prefix = models.CharField("令牌前缀", max_length=12)
    label = models.CharField("用途说明", max_length=100, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    created_by = models.CharField("创建人", max_length=150, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = "接口令牌"
        verbose_name_plural = "接口令牌"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.prefix}…"
