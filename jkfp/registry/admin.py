"""病种目录后台 Admin for the disease catalogue (the deployment's, domain.md §5) and its per-region entries.

Persons, households and their records are deliberately NOT in the admin: the admin site knows no
region scope for them, and every read of a person must be scoped and audited (web pages do that).
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jkfp.accounts.admin import DeploymentCatalogueAdmin, RegionScopedAdmin
from jkfp.regions.models import level_of_code
from jkfp.registry.disease_catalogue import disease_added_for
from jkfp.registry.models import CATALOGUE_LEVELS, CatalogueEntry, Disease


@admin.register(Disease)
class DiseaseAdmin(DeploymentCatalogueAdmin):
    """病种目录 The deployment's catalogue of diseases (no region): every county's cases, cards and
    follow-up rules name these rows, so only a superuser changes or deletes one. A province, city or
    county administrator may add a disease the list lacks (counties treat more than the national
    list): it enters that region's catalogue only (``disease_added_for``). A region adds, removes or
    dates an existing disease for itself with a ``CatalogueEntry`` (below)."""

    list_display = ("name", "kind", "icd10", "visits_per_year", "valid_from", "valid_to")
    list_filter = ("kind",)
    search_fields = ("name", "aliases", "icd10")

    def has_add_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if getattr(user, "is_superuser", False):
            return True
        return (
            admin.ModelAdmin.has_add_permission(self, request)
            and level_of_code(getattr(user, "region_id", None) or "") in CATALOGUE_LEVELS
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        region = getattr(request.user, "region", None)  # an administrator's (has_add_permission)
        if not change and region is not None and not getattr(request.user, "is_superuser", False):
            disease_added_for(obj, region)


@admin.register(CatalogueEntry)
class CatalogueEntryAdmin(RegionScopedAdmin):
    """区划病种目录 A region's additions to, removals from and dates of the catalogue (issue 21 item 3).

    Scoped like the other rule tables: an administrator sees and edits the entries of its own region
    and below (a county administrator: its county's), sees the whole deployment's read-only (a
    superuser changes those), and may set an entry only for its own region or a province, city or
    county below it — never a township or village."""

    region_field = "region_id"
    region_fk = "region"
    readonly_fields = ("scope",)  # derived from the region on save
    list_display = ("disease", "region", "included", "valid_from", "valid_to", "visits_per_year")
    list_filter = ("included", "disease__kind")
    list_select_related = ("disease", "region")
    search_fields = ("disease__name",)
    ordering = ("scope", "disease__name")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == self.region_fk and field is not None:
            field.queryset = field.queryset.filter(level__in=CATALOGUE_LEVELS).order_by("code")
        return field
