"""指标后台 Admin for the premium-subsidy rules (county-edited reference data, domain.md §11).

Snapshots are computed, never edited; rectification items are edited on their page (scoped).
"""

from django.contrib import admin

from jkfp.indicators.models import PremiumRule


@admin.register(PremiumRule)
class PremiumRuleAdmin(admin.ModelAdmin):
    list_display = ("year", "tag", "premium_amount", "subsidy_amount")
    list_filter = ("year", "tag")
    ordering = ("-year", "tag")
