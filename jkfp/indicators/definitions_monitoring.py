"""监测预警指标 ``alert_handling_rate`` (domain.md §8, §9): the same rule as
``jkfp.monitoring.selectors.alert_handling`` (which the tests compare with), grouped per village.

Alerts of year Y = ``Alert.year == Y`` (all alerts, not only those of target persons: the oop_general
rule watches everybody); handled = the alert's case verified (home visit) by ``verify_due_on``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Q

from jkfp.indicators.definitions import Column, Indicator, Spec, person_columns
from jkfp.monitoring.models import Alert


def _alerts(year: int) -> Spec | None:
    alerts = Alert.objects.filter(year=year)
    if not alerts.exists():
        return None
    return Spec(
        rows=alerts,
        numerator=Q(case__verified_on__isnull=False, case__verified_on__lte=F("verify_due_on")),
        village="person__village_id",
        person="person__",
        month="alerted_on",
        columns=(
            *person_columns("person__"),
            Column("预警规则", "rule__name"),
            Column("预警日期", "alerted_on"),
            Column("核实期限", "verify_due_on"),
            Column("入户核实日期", "case__verified_on"),
            Column("累计自付（元）", "amount", money=True),
        ),
    )


MONITORING_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        code="alert_handling_rate",
        name="预警处置率",
        formula="年度预警中在核实期限内完成入户核实的条数 ÷ 年度预警条数",
        source="monitoring",
        build=_alerts,
        unit="条",
        target=Decimal("1"),
        numerator_label="按期核实条数",
        denominator_label="预警条数",
        group="重病兜底保障",
    ),
)
