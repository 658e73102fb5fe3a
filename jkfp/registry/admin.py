"""病种目录后台 Admin for the disease catalogue (county-edited, domain.md §5).

Persons, households and their records are deliberately NOT in the admin: the admin site knows no
region scope for them, and every read of a person must be scoped and audited (web pages do that).
"""

from django.contrib import admin

from jkfp.registry.models import Disease


@admin.register(Disease)
class DiseaseAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "icd10", "visits_per_year", "valid_from", "valid_to")
    list_filter = ("kind",)
    search_fields = ("name", "aliases", "icd10")
