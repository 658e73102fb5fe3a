"""用户与区划后台 Admin for accounts, regions and institutions, limited to the staff user's region.

Regions and institutions are registered here rather than in ``regions`` because the scoping rule
lives in ``accounts`` (the layers go one way: accounts → regions).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from jkfp.accounts.models import AuditEvent, User
from jkfp.accounts.scoping import scope, user_sees_code
from jkfp.accounts.services import user_binding_check
from jkfp.regions.models import Institution, Region


class DeploymentCatalogueAdmin(admin.ModelAdmin):
    """全部署目录 A catalogue with no region, one for the whole deployment (service packages, the disease
    catalogue): an administrator reads it, only a superuser adds, changes or deletes a row — a county
    changing one would change what every other county's contracts offer or which diseases every county
    treats (a region's own additions and removals go through its rule tables, e.g. ``CatalogueEntry``).
    Accounts hold no change or delete permission on them (``accounts.services.LIMITED_ADMIN_MODELS``)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


class RegionScopedAdmin(admin.ModelAdmin):
    """按区划过滤的后台 A ModelAdmin whose rows are limited to the staff user's region.

    ``region_field`` names the region-code field of the model. Superusers are not exempt:
    scoping is a rule of the programme, not of the software role.
    """

    region_field = "region_id"
    # 区划外键 For institutions and rule tables: the ForeignKey to Region a row belongs to (may be
    # empty: deployment-wide). Its choices are limited to the staff user's region and required; rows
    # without a region are shown to everyone but changed or deleted by a superuser only.
    region_fk: str | None = None
    # 可选级别 The levels the region of a row may have (None: any): a rule is set for a province,
    # city or county — never a township or village; a team belongs to a township. Superusers too.
    region_levels: tuple[str, ...] | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        scoped = scope(queryset, request.user, self.region_field)
        if self.region_fk is None:
            return scoped
        return scoped | queryset.filter(**{f"{self.region_fk}__isnull": True})

    def _deployment_row(self, request: HttpRequest, obj: Any) -> bool:
        """A row without a region, which only a superuser may change."""
        return (
            self.region_fk is not None
            and obj is not None
            and getattr(obj, f"{self.region_fk}_id") is None
            and not getattr(request.user, "is_superuser", False)
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not self._deployment_row(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not self._deployment_row(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name != self.region_fk:
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        superuser = getattr(request.user, "is_superuser", False)
        regions = Region.objects.all() if superuser else scope(Region.objects.all(), request.user, "code")
        if self.region_levels is not None:
            regions = regions.filter(level__in=self.region_levels)
        kwargs["queryset"] = regions
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not superuser:
            field.required = True
        return field


@admin.register(User)
class UserAdmin(RegionScopedAdmin, BaseUserAdmin):
    region_field = "region_id"
    list_display = ("username", "full_name", "role", "region", "institution", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "full_name")
    raw_id_fields = ("region", "institution")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("健康扶贫", {"fields": ("full_name", "role", "region", "institution")}),
    )
    # Only a superuser grants superuser, staff or model permissions: an administrator would otherwise
    # lift an account (their own included) past the permission matrix.
    PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if getattr(request.user, "is_superuser", False) or obj is None:
            return fields
        return fields + self.PRIVILEGE_FIELDS

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The change form checks the role and region against the editing administrator's region
        (``services.user_binding_check``): a county administrator cannot make a city account."""
        base: Any = super().get_form(request, obj, change=change, **kwargs)
        editor = request.user

        def clean(form: Any) -> dict[str, Any]:
            data: dict[str, Any] = base.clean(form)
            role, region = data.get("role"), data.get("region")
            if role and region is not None and not getattr(editor, "is_superuser", False):
                try:
                    user_binding_check(
                        admin=editor, role=role, region=region, institution=data.get("institution")
                    )
                except ValidationError as error:
                    raise forms.ValidationError(error.messages) from error
            return data

        return type("ScopedUserForm", (base,), {"clean": clean})


ERR_REGION_OUTSIDE = "只能在本人管辖区划之下新增区划 / you add regions below your own region only"
ERR_REGION_PARENT = "区划代码须在上级区划之下 / the code must lie below its parent region"


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin):
    """Regions of the staff user's region. An administrator adds a region only below its own (a
    county's new township or village between two ``jkfp import-regions``: the parent and the code
    inside the county, the code below the parent); only a superuser adds a region anywhere or
    changes a code, level or parent."""

    region_field = "code"
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent" and not getattr(request.user, "is_superuser", False):
            kwargs["queryset"] = scope(Region.objects.all(), request.user, "code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base: Any = super().get_form(request, obj, change=change, **kwargs)
        editor = request.user
        if obj is not None or getattr(editor, "is_superuser", False):
            return base

        def clean(form: Any) -> dict[str, Any]:
            data: dict[str, Any] = base.clean(form)
            code, parent = (data.get("code") or "").strip(), data.get("parent")
            own = getattr(editor, "region_id", None)
            if code and (not user_sees_code(editor, code) or code == own):
                form.add_error("code", ERR_REGION_OUTSIDE)
            elif parent is None:
                form.add_error("parent", ERR_REGION_OUTSIDE)
            elif code and (code == parent.code or not parent.contains_code(code)):
                form.add_error("code", ERR_REGION_PARENT)
            return data

        return type("ScopedRegionForm", (base,), {"clean": clean})

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Only a superuser changes a region's code, level or parent: they decide what it contains."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if getattr(request.user, "is_superuser", False) or obj is None:
            return fields
        return (*fields, "code", "level", "parent")


@admin.register(Institution)
class InstitutionAdmin(RegionScopedAdmin):
    """Institutions of the staff user's region; those outside the tree (no region) are shown to all
    but changed by a superuser only."""

    region_fk = "region"

    list_display = (
        "code",
        "name",
        "kind",
        "government_run",
        "standardised",
        "standardised_on",
        "level",
        "region",
    )
    list_filter = ("kind", "government_run", "standardised", "level", "in_county")
    search_fields = ("code", "name")
    raw_id_fields = ("region", "served_villages")


@admin.register(AuditEvent)
class AuditEventAdmin(RegionScopedAdmin):
    """审计日志（只读） Audit events can be read, never added, changed or deleted (the model refuses too)."""

    region_field = "region_code"
    list_display = ("at", "username", "action", "object_type", "object_id", "ip_address", "os_user")
    list_filter = ("action",)
    search_fields = ("username", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
