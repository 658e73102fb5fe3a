"""预警规则与监测参数后台 Admin for the county-edited alert rules and parameters (issue 8 item 1).

Alerts, cases, steps and measures are deliberately NOT in the admin: they are person data, and
every read of a person must be scoped and audited (the web pages do that).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from jkfp.accounts.admin import RegionScopedAdmin
from jkfp.monitoring import rules
from jkfp.monitoring.models import AlertRule, MonitoringParameter
from jkfp.regions.models import RegionLevel


class AlertRuleForm(forms.ModelForm):
    """预警规则表单 The same checks as ``services.alert_rule_create`` (``rules.rule_problem``)."""

    class Meta:
        model = AlertRule
        fields = (
            "county",
            "year",
            "code",
            "name",
            "kind",
            "tag_match",
            "tag_codes",
            "basis",
            "threshold_amount",
            "income_share_rate",
            "active",
            "note",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tags = [t.strip() for t in (data.get("tag_codes") or "").split(",") if t.strip()]
        problem = rules.rule_problem(
            kind=data.get("kind") or "",
            basis=data.get("basis") or "",
            tag_match=data.get("tag_match") or "",
            tag_codes=tags,
            threshold_amount=data.get("threshold_amount"),
            income_share_rate=data.get("income_share_rate"),
        )
        if problem is not None:
            self.add_error(problem[0], problem[1])
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(RegionScopedAdmin):
    region_field = "county_id"
    region_fk = "county"
    region_levels = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
    form = AlertRuleForm
    list_display = (
        "county",
        "year",
        "code",
        "name",
        "kind",
        "tag_match",
        "basis",
        "threshold_amount",
        "income_share_rate",
        "active",
    )
    list_filter = ("year", "kind", "active")
    search_fields = ("code", "name")
    list_select_related = ("county",)


@admin.register(MonitoringParameter)
class MonitoringParameterAdmin(RegionScopedAdmin):
    region_field = "county_id"
    region_fk = "county"
    region_levels = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
    list_display = (
        "county",
        "year",
        "rural_income_amount",
        "assign_within_days",
        "verify_within_days",
        "decide_within_days",
        "identify_within_days",
        "assist_within_days",
    )
    list_filter = ("year",)
    list_select_related = ("county",)
