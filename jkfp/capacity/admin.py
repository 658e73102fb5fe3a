"""能力后台 Admin for the county's “三个一” standard (dated requirements), scoped to the staff user's county.

Staff (卫生人员) carry ID numbers: they are listed on the scoped, audited capacity pages, not here.
"""

from __future__ import annotations

from django.contrib import admin

from jkfp.accounts.admin import RegionScopedAdmin
from jkfp.capacity.models import CapacityStandard
from jkfp.regions.models import RegionLevel


@admin.register(CapacityStandard)
class CapacityStandardAdmin(RegionScopedAdmin):
    """Standards of the editor's counties: read, added and changed for a county inside the editor's
    region only (the county field offers those counties and nothing else)."""

    region_field = "county_id"
    region_fk = "county"
    region_levels = (RegionLevel.COUNTY,)
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
