"""能力后台 Admin for the county's “三个一” standard (dated requirements), scoped to the staff user's county.

Staff (卫生人员) carry ID numbers: they are listed on the scoped, audited capacity pages, not here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from jkfp.accounts.scoping import scope
from jkfp.capacity.models import CapacityStandard


@admin.register(CapacityStandard)
class CapacityStandardAdmin(admin.ModelAdmin):
    list_display = (
        "county",
        "start_on",
        "end_on",
        "county_hospitals_min",
        "county_hospital_level_min",
        "township_standardised",
        "township_physicians_min",
        "village_standardised",
        "clinic_doctors_min",
        "note",
    )
    list_select_related = ("county",)
    raw_id_fields = ("county",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope(super().get_queryset(request), request.user, "county_id")
