"""指标后台 Admin for the premium-subsidy rules (county-edited reference data, domain.md §11).

Snapshots are computed, never edited; rectification items are edited on their page (scoped).
"""

from django.contrib import admin

from jkfp.accounts.admin import RegionScopedAdmin
from jkfp.indicators.models import PremiumRule
from jkfp.regions.models import RegionLevel


@admin.register(PremiumRule)
class PremiumRuleAdmin(RegionScopedAdmin):
    region_field = "region_id"
    region_fk = "region"
    region_levels = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
    readonly_fields = ("scope",)  # derived from the region on save
    list_display = ("year", "tag", "premium_amount", "subsidy_amount", "region")
    list_filter = ("year", "tag")
    ordering = ("-year", "tag")
