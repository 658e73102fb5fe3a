"""示例监测数据 The demo hook: monthly scans, cases in several states, nothing added on a second run."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from jkfp.monitoring.models import Alert, CaseStatus, MonitoringCase
from jkfp.monitoring.synthetic import demo_monitoring_build, demo_monitoring_reset
from jkfp.monitoring.tests.factories import MonitorWorld, make_person, pay, tag


def test_demo_build_scans_walks_cases_and_is_idempotent(mw: MonitorWorld) -> None:
    today = date(2026, 11, 20)
    hosp = mw.county["hospital"]
    villages = ("t1v1", "t1v2", "t2v1", "t2v2")
    for i in range(40):
        person = make_person(mw.county[villages[i % 4]], f"示例{i}")
        tag(person, "poor")
        pay(person, "5200.00", date(2026, 1 + i % 9, 10), institution=hosp)

    first = demo_monitoring_build(
        county_code="421321", today=today, admin=mw.users["admin"], doctor=mw.users["doctor11"]
    )

    assert first.scans == 11 and first.alerts_created == 40
    # Alerts are dated at the end of the month whose payments crossed the threshold.
    assert Alert.objects.filter(alerted_on=date(2026, 1, 31)).count() == 5
    statuses = set(MonitoringCase.objects.values_list("status", flat=True))
    assert first.cases_walked > 0
    assert CaseStatus.ALERTED in statuses and len(statuses) >= 4
    assert (
        MonitoringCase.objects.filter(due_on__lt=today - timedelta(days=1))
        .exclude(
            status__in=(CaseStatus.NOT_AT_RISK, CaseStatus.ALREADY_MONITORED, CaseStatus.RISK_ELIMINATED)
        )
        .exists()
    )

    steps_before = sorted(MonitoringCase.objects.values_list("id", "status"))
    again = demo_monitoring_build(
        county_code="421321", today=today, admin=mw.users["admin"], doctor=mw.users["doctor11"]
    )
    assert (again.alerts_created, again.cases_walked) == (0, 0)
    assert sorted(MonitoringCase.objects.values_list("id", "status")) == steps_before

    demo_monitoring_reset(county_code="421321")
    assert not Alert.objects.exists() and not MonitoringCase.objects.exists()


def test_demo_walk_records_who_and_measures(mw: MonitorWorld) -> None:
    today = date(2026, 11, 20)
    for i in range(24):
        person = make_person(mw.county["t1v1"], f"乙{i}")
        tag(person, "dibao")
        pay(person, "6000.00", date(2026, 2, 10), institution=mw.county["hospital"])
    demo_monitoring_build(
        county_code="421321", today=today, admin=mw.users["admin"], doctor=mw.users["doctor11"]
    )
    walked: Any = MonitoringCase.objects.exclude(status=CaseStatus.ALERTED)
    assert walked.exists()
    verified = walked.filter(verified_on__isnull=False).first()
    if verified is not None:  # the village doctor of 第1镇1村 records the home visits there
        assert verified.steps.get(to_status=CaseStatus.VERIFIED).user == mw.users["doctor11"]
    for case in walked.filter(status__in=(CaseStatus.ASSISTED, CaseStatus.RISK_ELIMINATED)):
        assert case.measures.exists() and case.external_reference.startswith("FPJC-2026-")
