"""Monitoring scan (issue 8): the set-based scan against a per-person loop over the same settlements.

Data (bulk-created, not timed): N persons in 4 townships × 5 villages, a low-income tag for 70 %,
three live settlements each in the year (personal payments drawn so that about 1 in 8 persons
crosses a threshold), one re-settled claim row per 50 persons (an old non-current row that must not
count), and major-disease cases for 2 %.

Measured in the same run (ours best of 3, the baseline once — it is slow; each on a database with no
alert yet, the alerts deleted before each round, outside the timing):
- ``ours``: ``services.alert_scan`` (one SQL aggregate per rule, bulk inserts);
- ``baseline``: the naive scan — for every person with a settlement, sum their live settlements and
  look their tags up in two queries, then create the alert and case one by one (``Model.objects.create``).
Both must raise the same (person, rule) set; the benchmark checks it.

Prints ``monitor_scan[sqlite]: ratio=… (ours … s, baseline … s, n=…)``; exit status 1 when the ratio
is ≤ 2 (``--small``: ≤ 1.2) or the results differ.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

YEAR = 2024
AS_OF = date(YEAR, 12, 31)


def _load(n: int) -> None:
    from django.utils import timezone

    from jkfp.core.idnumber import make_id_number
    from jkfp.regions.models import Institution, Region, RegionLevel
    from jkfp.registry.models import Disease, DiseaseKind, Person, Tag
    from jkfp.settlement.models import Claim, Policy, Settlement
    from jkfp.treatment.models import MajorDiseaseCase

    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    villages = []
    for t in range(1, 5):
        town = Region.objects.create(
            code=f"421321{t:03d}000", name=f"镇{t}", level=RegionLevel.TOWNSHIP, parent=county
        )
        for v in range(1, 6):
            villages.append(
                Region.objects.create(
                    code=f"421321{t:03d}{v:03d}", name=f"村{t}{v}", level=RegionLevel.VILLAGE, parent=town
                )
            )
    hospital = Institution.objects.create(code="H001", name="县医院", level="2", region=county)
    policy = Policy.objects.create(
        name="bench",
        version=1,
        title="bench",
        valid_from=date(YEAR, 1, 1),
        valid_to=date(YEAR, 12, 31),
        source_text="",
        source_format="toml",
        sha256="0" * 64,
    )
    disease = Disease.objects.create(name="肺癌（基准）", kind=DiseaseKind.MAJOR)
    rng = random.Random(8)
    born0 = date(1940, 1, 1)
    persons = [
        Person(
            id_number=make_id_number("421321", born0 + timedelta(days=i // 1000), i % 1000),
            name=f"人{i}",
            sex="M",
            birth_date=born0 + timedelta(days=i // 1000),
            village=villages[i % len(villages)],
        )
        for i in range(n)
    ]
    Person.objects.bulk_create(persons, batch_size=5000)
    persons = list(Person.objects.order_by("pk"))
    Tag.objects.bulk_create(
        [
            Tag(
                person=p,
                code=("poor", "dibao", "tekun", "monitored")[i % 4],
                start_on=date(2016, 1, 1),
                source="b",
            )
            for i, p in enumerate(persons)
            if i % 10 < 7
        ],
        batch_size=5000,
    )
    claims = []
    for i, p in enumerate(persons):
        for k in range(3):
            claims.append(
                Claim(
                    claim_id=f"B{i:07d}{k}",
                    person=p,
                    institution=hospital,
                    level=2,
                    in_county=True,
                    admitted_on=date(YEAR, 1 + 4 * k, 5),
                    discharged_on=date(YEAR, 1 + 4 * k, 10),
                    total_amount=Decimal("10000.00"),
                    out_of_scope_amount=Decimal("0.00"),
                    status="settled",
                )
            )
    Claim.objects.bulk_create(claims, batch_size=5000)
    now = timezone.now()
    rows = []
    zero = Decimal("0.00")
    for j, claim in enumerate(Claim.objects.order_by("pk").only("pk")):
        heavy = rng.random() < 0.12
        personal = Decimal(rng.randint(150_000 if heavy else 1_000, 900_000 if heavy else 150_000)) / 100
        common = dict(
            claim_id=claim.pk, policy=policy, category="poor", counted_total=personal, hospital_absorbed=zero,
            basic=zero, critical=zero, aid=zero, supplementary=zero, personal=personal, settled_at=now,
        )  # fmt: skip
        if j % 150 == 0:  # an old row of a re-settled claim: huge, not current, must not count
            rows.append(Settlement(**{**common, "personal": Decimal("99999.00")}, is_current=False))
        rows.append(Settlement(**common, is_current=True))
    Settlement.objects.bulk_create(rows, batch_size=5000)
    MajorDiseaseCase.objects.bulk_create(
        [
            MajorDiseaseCase(person=p, disease=disease, diagnosed_on=date(YEAR, 3, 1), status="treated")
            for i, p in enumerate(persons)
            if i % 50 == 3
        ]
    )


def _clear() -> None:
    from jkfp.monitoring.models import Alert, CaseStep, MonitoringCase

    Alert.objects.all().delete()
    CaseStep.objects.all().delete()
    MonitoringCase.objects.all().delete()


def _hits() -> set[tuple[int, str]]:
    from jkfp.monitoring.models import Alert

    return set(Alert.objects.values_list("person_id", "rule__code"))


def _ours() -> None:
    from jkfp.monitoring.services import alert_scan

    alert_scan(as_of=AS_OF, today=AS_OF)


def _baseline() -> None:
    """The naive scan: a loop over persons, a few queries each, one insert per alert."""
    from django.db import transaction
    from django.db.models import Q, Sum

    from jkfp.monitoring.models import Alert, AlertRule, CaseStep, MonitoringCase
    from jkfp.registry.models import Tag
    from jkfp.settlement.models import Settlement
    from jkfp.treatment.models import MajorDiseaseCase

    rules = {r.code: r for r in AlertRule.objects.filter(year=YEAR)}
    low_tags = rules["oop_low_income"].tag_list
    start = date(YEAR, 1, 1)
    with transaction.atomic():
        person_ids = (
            Settlement.objects.filter(is_current=True, claim__discharged_on__range=(start, AS_OF))
            .values_list("claim__person_id", flat=True)
            .distinct()
        )
        for person_id in list(person_ids):
            total = Settlement.objects.filter(
                is_current=True, claim__person_id=person_id, claim__discharged_on__range=(start, AS_OF)
            ).aggregate(s=Sum("personal"))["s"] or Decimal("0")
            low = (
                Tag.objects.filter(person_id=person_id, code__in=low_tags, start_on__lte=AS_OF)
                .filter(Q(end_on__isnull=True) | Q(end_on__gte=start))
                .exists()
            )
            rule = rules["oop_low_income"] if low else rules["oop_general"]
            if (
                total >= rule.threshold_amount
                and not Alert.objects.filter(person_id=person_id, rule=rule).exists()
            ):
                _naive_alert(person_id, rule, total, MonitoringCase, CaseStep, Alert)
        for case in MajorDiseaseCase.objects.filter(diagnosed_on__range=(start, AS_OF)):
            rule = rules["major_disease"]
            if not Alert.objects.filter(person_id=case.person_id, rule=rule).exists():
                _naive_alert(case.person_id, rule, None, MonitoringCase, CaseStep, Alert)


def _naive_alert(
    person_id: int,
    rule: Any,
    total: Any,
    MonitoringCase: Any,  # noqa: N803 (model classes, passed in after Django is set up)
    CaseStep: Any,  # noqa: N803 (model classes, passed in after Django is set up)
    Alert: Any,  # noqa: N803 (model classes, passed in after Django is set up)
) -> None:
    case = MonitoringCase.objects.filter(
        person_id=person_id, year=YEAR, status__in=("alerted", "assigned")
    ).first()
    if case is None:
        case = MonitoringCase.objects.create(
            person_id=person_id, year=YEAR, alerted_on=AS_OF, due_on=AS_OF + timedelta(days=3)
        )
        CaseStep.objects.create(case=case, to_status="alerted", done_on=AS_OF, username="system")
    Alert.objects.create(
        rule=rule,
        person_id=person_id,
        year=YEAR,
        alerted_on=AS_OF,
        verify_due_on=AS_OF + timedelta(days=15),
        as_of=AS_OF,
        amount=total,
        threshold_amount=rule.threshold_amount,
        case=case,
    )


def _best(fn: Any, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        _clear()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str]) -> int:
    small = "--small" in argv
    n = 1_000 if small else 5_000
    from benchmarks.django_setup import setup_django

    setup_django()
    from django.db import connection

    _load(n)
    _ours()  # writes the default rules; warms the caches
    theirs_hits = (_baseline(), _hits())[1]
    _clear()
    _ours()
    ours_hits = _hits()
    ours = _best(_ours)
    baseline = _best(_baseline, rounds=1)  # tens of seconds: one round is enough to see the gap
    ratio = baseline / ours
    print(
        f"monitor_scan[{connection.vendor}]: ratio={ratio:.1f} (ours {ours:.3f} s, baseline {baseline:.3f} s, "
        f"n={n} persons, {3 * n} settlements, {len(ours_hits)} alerts)"
    )
    if ours_hits != theirs_hits:
        print(f"MISMATCH: ours {len(ours_hits)} alerts, baseline {len(theirs_hits)}", file=sys.stderr)
        return 1
    floor = 1.2 if small else 2.0
    if ratio <= floor:
        print(f"ratio {ratio:.1f} ≤ {floor}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
