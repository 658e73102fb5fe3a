"""示例监测数据 Demo monitoring data: monthly scans of this year and a few cases walked through the workflow.

For ``jkfp demo`` (after the settlement demo step): the scan runs as if it had run at the end of each
month of this year so far (alerts dated then, so the queue has old overdue and fresh cases), then a
deterministic share of the older cases is taken through the workflow by the demo accounts — some
verified in time, some late, some closed as not at risk or already monitored, some identified,
assisted and with the risk eliminated — through the same services the pages use. Running it again
the same day adds nothing (the scan never alerts twice; the walked cases are chosen by a hash of
the ID number, not by their state, and a case already walked is left alone). Unscoped: demo and tests only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from jkfp.monitoring import services
from jkfp.monitoring.models import (
    Alert,
    AlertRule,
    CaseStatus,
    HealthMeasure,
    MeasureKind,
    MonitoringCase,
    MonitoringParameter,
    StepAttachment,
)
from jkfp.regions.models import prefix_range
from jkfp.treatment.models import MajorDiseaseCase

# How many of the untouched cases (alerted ≥ 40 days before today) the demo walks, and where to.
WALKED_MAX = 48
# Share (out of 12 buckets of a hash) of the walked cases ending in each state.
PLAN = (
    (CaseStatus.ASSIGNED, 2),
    (CaseStatus.VERIFIED, 2),
    (CaseStatus.NOT_AT_RISK, 2),
    (CaseStatus.ALREADY_MONITORED, 1),
    (CaseStatus.PROPOSED, 1),
    (CaseStatus.IDENTIFIED, 1),
    (CaseStatus.ASSISTED, 1),
    (CaseStatus.RISK_ELIMINATED, 2),
)
PATH = (
    CaseStatus.ASSIGNED,
    CaseStatus.VERIFIED,
    CaseStatus.PROPOSED,
    CaseStatus.IDENTIFIED,
    CaseStatus.ASSISTED,
    CaseStatus.RISK_ELIMINATED,
)


@dataclass
class DemoMonitoring:
    """示例数据汇总 What the demo build did."""

    scans: int = 0
    evaluated: int = 0
    alerts_created: int = 0
    cases_walked: int = 0

    def text(self) -> str:
        return (
            f"扫描 scans {self.scans}，评估人数（末次）persons evaluated {self.evaluated}，"
            f"新增预警 alerts {self.alerts_created}，演示办理 cases walked {self.cases_walked}"
        )


def _month_ends(today: date) -> list[date]:
    ends = []
    for month in range(1, today.month + 1):
        nxt = date(today.year + (month == 12), month % 12 + 1, 1)
        ends.append(min(nxt - timedelta(days=1), today))
    return ends


def _hash(salt: str, id_number: str) -> int:
    """A stable hash of the ID number; salted so that choosing, target and lateness are independent."""
    return zlib.crc32(f"{salt}:{id_number}".encode())


def _target(id_number: str) -> str:
    bucket = _hash("target", id_number) % sum(n for _, n in PLAN)
    for status, n in PLAN:
        if bucket < n:
            return status
        bucket -= n
    return CaseStatus.ASSIGNED


def _walk(case: MonitoringCase, target: str, *, admin: Any, doctor: Any, today: date, late: bool) -> None:
    """Take one case from ``alerted`` to ``target`` with plausible dates, notes and measures."""
    start = case.alerted_on
    dates = {
        CaseStatus.ASSIGNED: start + timedelta(days=2),
        CaseStatus.VERIFIED: start + timedelta(days=21 if late else 9),
        CaseStatus.NOT_AT_RISK: start + timedelta(days=(21 if late else 9) + 2),
        CaseStatus.ALREADY_MONITORED: start + timedelta(days=(21 if late else 9) + 2),
        CaseStatus.PROPOSED: start + timedelta(days=(21 if late else 9) + 3),
        CaseStatus.IDENTIFIED: start + timedelta(days=(21 if late else 9) + 12),
        CaseStatus.ASSISTED: start + timedelta(days=(21 if late else 9) + 20),
        CaseStatus.RISK_ELIMINATED: start + timedelta(days=(21 if late else 9) + 35),
    }
    if target in (CaseStatus.NOT_AT_RISK, CaseStatus.ALREADY_MONITORED):
        path: tuple[str, ...] = (CaseStatus.ASSIGNED, CaseStatus.VERIFIED, target)
    else:
        path = PATH[: PATH.index(target) + 1]
    village_doctor = doctor if doctor is not None and case.person.village_id == doctor.region_id else None
    notes = {
        CaseStatus.VERIFIED: "演示数据：入户核实，住院费用自付较多，家庭收入主要靠务农",
        CaseStatus.NOT_AT_RISK: "演示数据：家庭收入稳定，有商业保险赔付，无返贫致贫风险",
        CaseStatus.ALREADY_MONITORED: "演示数据：该户已是防返贫监测对象",
        CaseStatus.PROPOSED: "演示数据：医疗支出大，建议纳入防返贫监测对象",
        CaseStatus.RISK_ELIMINATED: "演示数据：经帮扶，家庭收支恢复正常，风险消除",
    }
    for status in path:
        on = dates[status]
        if on > today:
            return
        if status == CaseStatus.ASSISTED:
            treatment = MajorDiseaseCase.objects.filter(person_id=case.person_id).order_by("id").first()
            services.health_measure_add(
                user=admin,
                case=case,
                kind=MeasureKind.AID,
                taken_on=on,
                amount="1500.00",
                reference=f"救助-{case.year}-{case.pk:05d}",
                note="演示数据：医疗救助",
            )
            if treatment is not None:
                services.health_measure_add(
                    user=admin, case=case, kind=MeasureKind.TREATMENT, taken_on=on, treatment_case=treatment
                )
        services.case_advance(
            user=village_doctor if status == CaseStatus.VERIFIED and village_doctor is not None else admin,
            case=case,
            target=status,
            done_on=on,
            note=notes.get(status, ""),
            assignee=village_doctor if status == CaseStatus.ASSIGNED else None,
            assignee_name="" if village_doctor is not None else "村医（演示）",
            external_reference=f"FPJC-{case.year}-{case.pk:06d}" if status == CaseStatus.IDENTIFIED else "",
        )


def demo_monitoring_build(*, county_code: str, today: date, admin: Any, doctor: Any = None) -> DemoMonitoring:
    """示例监测 Monthly scans of this year up to ``today``, then walk a few older cases (see module doc)."""
    result = DemoMonitoring()
    for month_end in _month_ends(today):
        scan = services.alert_scan(as_of=month_end, today=month_end, county_code=county_code)
        result.scans += 1
        result.evaluated = scan.evaluated
        result.alerts_created += scan.alerts_created
    lo, hi = prefix_range(county_code)
    old_enough = MonitoringCase.objects.filter(
        person__village_id__gte=lo, person__village_id__lt=hi, alerted_on__lte=today - timedelta(days=40)
    ).select_related("person")
    # The chosen set depends only on the cases (a hash of the ID number), never on their state, so a
    # second run the same day picks the same cases and finds them walked already.
    candidates = sorted(
        (c for c in old_enough if _hash("walk", c.person.id_number) % 3 == 0),
        key=lambda c: (_hash("order", c.person.id_number), c.pk),
    )[:WALKED_MAX]
    chosen = [c for c in candidates if c.status == CaseStatus.ALERTED and c.steps.count() == 1]
    for case in chosen:
        with transaction.atomic():
            _walk(
                case,
                _target(case.person.id_number),
                admin=admin,
                doctor=doctor,
                today=today,
                late=_hash("late", case.person.id_number) % 4 == 0,
            )
        result.cases_walked += 1
    return result


def demo_monitoring_reset(*, county_code: str) -> None:
    """删除示例监测数据 Delete the county's alerts and cases (they protect their persons)."""
    lo, hi = prefix_range(county_code)
    person_in = {"person__village_id__gte": lo, "person__village_id__lt": hi}
    with transaction.atomic():
        StepAttachment.objects.filter(
            step__case__person__village_id__gte=lo, step__case__person__village_id__lt=hi
        ).delete()
        HealthMeasure.objects.filter(
            case__person__village_id__gte=lo, case__person__village_id__lt=hi
        ).delete()
        Alert.objects.filter(**person_in).delete()
        MonitoringCase.objects.filter(**person_in).delete()
        # The county's rules and parameters protect its region row, which the demo reset deletes.
        AlertRule.objects.filter(county_id=county_code).delete()
        MonitoringParameter.objects.filter(county_id=county_code).delete()
