"""签约服务后台 Admin for county-edited care settings: follow-up rules, service packages, teams.

Contracts, visits, checks, deliveries and cards are NOT here: they are person data, and every read
of a person must be scoped and audited (the web pages do that).
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jkfp.accounts.admin import DeploymentCatalogueAdmin, RegionScopedAdmin
from jkfp.accounts.models import User
from jkfp.accounts.scoping import scope
from jkfp.care.models import FollowUpRule, ServicePackage, Team, TeamMember
from jkfp.regions.models import Institution, RegionLevel


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(RegionScopedAdmin):
    region_field = "county_id"
    region_fk = "county"
    region_levels = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
    list_display = (
        "disease",
        "county",
        "visits_per_year",
        "face_to_face",
        "measure",
        "revisit_days",
        "referral_days",
        "referral_after",
        "due_window_days",
        "escalate_after_days",
    )
    list_filter = ("county", "measure")
    list_select_related = ("disease", "county")


@admin.register(ServicePackage)
class ServicePackageAdmin(DeploymentCatalogueAdmin):
    """服务包 One catalogue for the whole deployment (no region): every county's contracts name these
    packages, so an administrator reads them and only a superuser adds, changes or deletes one."""

    list_display = ("name",)
    search_fields = ("name",)


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 1
    fields = ("name", "role", "phone", "user", "active")
    raw_id_fields = ("user",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A member's account is one of the editor's region."""
        if db_field.name == "user" and not getattr(request.user, "is_superuser", False):
            kwargs["queryset"] = scope(User.objects.all(), request.user, "region_id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Team)
class TeamAdmin(RegionScopedAdmin):
    """Teams of the user's region only (a county administrator sees their county's townships); the
    township and the health centre of a team are chosen inside the editor's region."""

    region_field = "township_id"
    region_fk = "township"
    region_levels = (RegionLevel.TOWNSHIP,)
    list_display = ("name", "township", "institution")
    list_filter = ("township",)
    search_fields = ("name",)
    list_select_related = ("township", "institution")
    raw_id_fields = ("township", "institution")
    inlines = (TeamMemberInline,)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "institution" and not getattr(request.user, "is_superuser", False):
            kwargs["queryset"] = scope(Institution.objects.all(), request.user, "region_id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
