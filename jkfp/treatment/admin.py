"""定点医院后台 Admin for the designated hospitals of each major disease (county-edited, issue 6 item 1).

Cases, follow-ups and referrals are deliberately NOT in the admin: they are person data, and every
read of a person must be scoped and audited (the web pages do that).
"""

from django.contrib import admin

from jkfp.treatment.models import DesignatedHospital


@admin.register(DesignatedHospital)
class DesignatedHospitalAdmin(admin.ModelAdmin):
    list_display = ("disease", "institution", "valid_from", "valid_to")
    list_filter = ("disease",)
    search_fields = ("disease__name", "institution__name", "institution__code")
    autocomplete_fields = ()
    list_select_related = ("disease", "institution")
