"""结算政策后台 Admin for settlement policies: read-only once used (a change is a new version).

Claims, settlements, admissions and ledgers are deliberately NOT in the admin: they are person
data, read through the scoped and audited pages and API. Policies are uploaded through
``services.policy_upload`` (validated by the engine), so the admin only lists and shows them.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jkfp.settlement.models import Policy
from jkfp.settlement.selectors import policy_is_used


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "title", "valid_from", "valid_to", "uploaded_at", "uploaded_by")
    list_filter = ("name",)
    search_fields = ("name", "title")
    list_select_related = ("uploaded_by",)
    readonly_fields = (
        "name",
        "version",
        "title",
        "valid_from",
        "valid_to",
        "source_text",
        "source_format",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # upload through the policy page / services.policy_upload (engine validation)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and not policy_is_used(policy=obj)
