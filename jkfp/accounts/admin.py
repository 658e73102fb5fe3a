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
from jkfp.accounts.scoping import scope
from jkfp.accounts.services import user_binding_check
from jkfp.regions.models import Institution, Region


class RegionScopedAdmin(admin.ModelAdmin):
    """按区划过滤的后台 A ModelAdmin whose rows are limited to the staff user's region.

    ``region_field`` names the region-code field of the model. Superusers are not exempt:
    scoping is a rule of the programme, not of the software role.
    """

    region_field = "region_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope(super().get_queryset(request), request.user, self.region_field)


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
                    user_binding_check(admin=editor, role=role, region=region)
                except ValidationError as error:
                    raise forms.ValidationError(error.messages) from error
            return data

        return type("ScopedUserForm", (base,), {"clean": clean})


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin):
    region_field = "code"
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Only a superuser changes a region's code, level or parent: they decide what it contains."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if getattr(request.user, "is_superuser", False) or obj is None:
            return fields
        return (*fields, "code", "level", "parent")


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    """Institutions are shared reference data (out-of-county hospitals have no region in the county)."""

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
