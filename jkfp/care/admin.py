"""签约服务后台 Admin for county-edited care settings: follow-up rules, service packages, teams.

Contracts, visits, checks, deliveries and cards are NOT here: they are person data, and every read
of a person must be scoped and audited (the web pages do that).
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from jkfp.accounts.admin import RegionScopedAdmin
from jkfp.accounts.scoping import scope
from jkfp.care.models import FollowUpRule, ServicePackage, Team, TeamMember


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(RegionScopedAdmin):
    region_field = "county_id"
    region_fk = "county"
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
class ServicePackageAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 1
    fields = ("name", "role", "phone", "user", "active")
    raw_id_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "township", "institution")
    list_filter = ("township",)
    search_fields = ("name",)
    list_select_related = ("township", "institution")
    raw_id_fields = ("township", "institution")
    inlines = (TeamMemberInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Teams of the user's region only (a county administrator sees their county's townships)."""
        return scope(super().get_queryset(request), request.user, "township_id")
