"""A small hand-built county for the indicator tests (year 2024); the expected figures are in the tests.

第1镇1村 (t1v1):
  A 甲 poor since 2016, at home, 高血压, verification confirmed; case 肺癌 treated (2023)
  B 乙 dibao 2020-01-01 … 2023-06-30 (ended before 2024): not a target
  C 丙 monitored since 2022, died 2024-05-01, 糖尿病, pending; case 终末期肾病 untreated
  D 丁 poor + tekun (two target tags: counted once), at home, 高血压, rejected; case 胃癌 not_needed
  E 戊 orphan only: not a target
第1镇2村 (t1v2):
  F 己 poor, away (外出), no condition; case 白内障 treated diagnosed 2025 (after the year)
  G 庚 tekun from 2025-01-01: not a target in 2024
  H 辛 poor, died 2023-03-01: not a target in 2024
第2镇1村 (t2v1):
  I 壬 dibao 2021-01-01 … 2024-03-01, died 2024-02-01 (held the tag that day), 高血压, pending
  J 癸 poor, lost (失联), 糖尿病, confirmed; case 肝癌 in_treatment (2024-06)
  K 子 poor, at home, 高血压 + 2型糖尿病, pending; a terminated 2024 contract; record opened 2025
第2镇2村 (t2v2): nobody.
B (not a target) also has a case 乳腺癌 treated: it must not count.

Care (2024): contracts A (2024-01-01…12-31), D (2023-03-01…2024-02-28), E (not a target), K
(terminated). Hypertension items: A 4 face-to-face, latest (Nov) controlled (+ an uncontrolled one in
2025); D 3 face-to-face + 1 phone, latest uncontrolled. Diabetes items: K 4 face-to-face, latest
controlled. Checkups 2024: A, D, J; F's is of 2023. Records: A (2020), F (2024), K (2025).
Cards certified 2024: A, J, E (not a target); D's of 2023.

Settlement (2024): c1 A in county, window 10000.00 = 6000.00+1000.00+1500.00+500.00 + personal 1000.00;
c2 A out of county, import 20000.00 = 10000+3000+2000+1000 + 4000; c3 J in county, api 5000.05 =
3000.01+0+1000.02+0 + 1000.02; c4 J reversed (no live row); c5 E (not a target); c6 A discharged
2023-12-30; c7 D pending. Outpatient (门诊慢特病) 2024: o1 A window 1000.00 = 800+0+50+50 + personal
100; o2 J import 2000.00 = 1500+0+0+200 + 300; o3 E (not a target). Admissions 2024: A deferred (3000.00 waived), D not deferred, K deferred
but cancelled, E deferred (not a target).

Monitoring alerts: 2024 A (verified in time), J (verified late), E (never verified; alerts count
everybody); K's alert is of 2023.

Enrolment 2024 (参保): insured A, C (died in the year: still a target), D (two tags: counted once), J, and
the non-targets E and H (died 2023); F not insured (未参保); I and K have no record (not insured).
No record at all in 第2镇2村 (its figure is 暂无数据). 2025: only A (insured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jkfp.registry.tests.factories import make_person

YEAR = 2024


@dataclass
class World:
    persons: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    county: dict[str, Any] = field(default_factory=dict)


def _person(village: Any, key: str, serial: int, **extra: Any) -> Any:
    return make_person(village, key, serial, born=date(1950 + serial, 3, 1), **extra)  # the county's own IDs


def _tag(person: Any, code: str, start: date, end: date | None = None) -> None:
    from jkfp.registry.models import Tag

    Tag.objects.create(person=person, code=code, start_on=start, end_on=end, source="测试名单")


def _condition(person: Any, name: str) -> None:
    from jkfp.registry.models import Condition, Disease

    Condition.objects.create(person=person, name=name, disease=Disease.objects.filter(name=name).first())


def _case(person: Any, disease: str, status: str, diagnosed: date) -> Any:
    from jkfp.registry.models import Disease
    from jkfp.treatment.models import MajorDiseaseCase

    extra = {"untreated_reason": "dialysis_claim_pending"} if status == "untreated" else {}
    return MajorDiseaseCase.objects.create(
        person=person,
        disease=Disease.objects.get(name=disease),
        status=status,
        diagnosed_on=diagnosed,
        **extra,
    )


def build_world(county: dict[str, Any], make_user: Callable[..., Any]) -> World:
    from jkfp.accounts.models import Role
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    w = World(county=county)
    v11, v12, v21 = county["t1v1"], county["t1v2"], county["t2v1"]
    p = w.persons
    p["A"] = _person(v11, "甲", 1, verification_status="confirmed", verified_on=date(2024, 2, 1))
    _tag(p["A"], "poor", date(2016, 1, 1))
    _condition(p["A"], "高血压")
    _case(p["A"], "肺癌", "treated", date(2023, 5, 1))
    p["B"] = _person(v11, "乙", 2)
    _tag(p["B"], "dibao", date(2020, 1, 1), date(2023, 6, 30))
    _case(p["B"], "乳腺癌", "treated", date(2023, 1, 1))
    p["C"] = _person(v11, "丙", 3, living_status="dead", death_on=date(2024, 5, 1))
    _tag(p["C"], "monitored", date(2022, 1, 1))
    _condition(p["C"], "2型糖尿病")
    _case(p["C"], "终末期肾病", "untreated", date(2023, 9, 1))
    p["D"] = _person(v11, "丁", 4, verification_status="rejected", verified_on=date(2024, 3, 1))
    _tag(p["D"], "poor", date(2016, 1, 1))
    _tag(p["D"], "tekun", date(2019, 1, 1))
    _condition(p["D"], "高血压")
    _case(p["D"], "胃癌", "not_needed", date(2024, 1, 10))
    p["E"] = _person(v11, "戊", 5)
    _tag(p["E"], "orphan", date(2018, 1, 1))
    p["F"] = _person(v12, "己", 6, living_status="away")
    _tag(p["F"], "poor", date(2017, 1, 1))
    _case(p["F"], "白内障", "treated", date(2025, 2, 1))
    p["G"] = _person(v12, "庚", 7)
    _tag(p["G"], "tekun", date(2025, 1, 1))
    p["H"] = _person(v12, "辛", 8, living_status="dead", death_on=date(2023, 3, 1))
    _tag(p["H"], "poor", date(2016, 1, 1))
    p["I"] = _person(v21, "壬", 9, living_status="dead", death_on=date(2024, 2, 1))
    _tag(p["I"], "dibao", date(2021, 1, 1), date(2024, 3, 1))
    _condition(p["I"], "高血压")
    p["J"] = _person(v21, "癸", 10, living_status="lost", verification_status="confirmed")
    _tag(p["J"], "poor", date(2016, 1, 1))
    _condition(p["J"], "2型糖尿病")
    _case(p["J"], "肝癌", "in_treatment", date(2024, 6, 1))
    p["K"] = _person(v21, "子", 11)
    _tag(p["K"], "poor", date(2016, 1, 1))
    _condition(p["K"], "高血压")
    _condition(p["K"], "2型糖尿病")
    _condition(p["D"], "2型糖尿病")
    _care(w, county)
    _settlement(w, county)
    _alerts(w, county)
    _enrolment(w)
    code = county["county"].code
    w.users = {
        "admin": make_user(Role.COUNTY_ADMIN, code, full_name="县管理员"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "t2": make_user(Role.TOWNSHIP, county["t2"].code),
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code),
        "inspector": make_user(Role.INSPECTOR, code),
        "hospital": make_user(Role.HOSPITAL, code),
    }
    return w


def _care(w: World, county: dict[str, Any]) -> None:
    from jkfp.care.models import (
        Checkup,
        ChronicCard,
        Contract,
        FollowUp,
        FollowUpItem,
        HealthRecord,
        Team,
    )
    from jkfp.registry.models import Disease

    p = w.persons
    team = Team.objects.create(township=county["t1"], name="第1镇团队")
    for key, start, end, status in (
        ("A", date(2024, 1, 1), date(2024, 12, 31), "active"),
        ("D", date(2023, 3, 1), date(2024, 2, 28), "active"),
        ("E", date(2024, 1, 1), date(2024, 12, 31), "active"),
        ("K", date(2024, 1, 1), date(2024, 12, 31), "terminated"),
    ):
        Contract.objects.create(person=p[key], team=team, signed_on=start, end_on=end, status=status)
    htn = Disease.objects.get(name="高血压")
    dm = Disease.objects.get(name="2型糖尿病")

    def visit(key: str, disease: Any, on: date, kind: str, cls: str) -> None:
        followup = FollowUp.objects.create(person=p[key], visited_on=on, kind=kind)
        FollowUpItem.objects.create(
            followup=followup,
            person=p[key],
            disease=disease,
            visited_on=on,
            face_to_face=kind != "phone",
            classification=cls,
        )

    for month, cls in ((2, "uncontrolled"), (5, "controlled"), (8, "uncontrolled"), (11, "controlled")):
        visit("A", htn, date(2024, month, 3), "clinic", cls)
    visit("A", htn, date(2025, 1, 3), "clinic", "uncontrolled")
    for month, kind, cls in (
        (1, "home", "controlled"),
        (4, "clinic", "controlled"),
        (7, "phone", "controlled"),
        (10, "clinic", "uncontrolled"),
    ):
        visit("D", htn, date(2024, month, 5), kind, cls)
    for month, cls in ((3, "uncontrolled"), (6, "controlled"), (9, "uncontrolled"), (12, "controlled")):
        visit("K", dm, date(2024, month, 7), "home", cls)
    for key, on in (
        ("A", date(2024, 4, 1)),
        ("D", date(2024, 6, 1)),
        ("J", date(2024, 7, 1)),
        ("F", date(2023, 7, 1)),
    ):
        Checkup.objects.create(person=p[key], checked_on=on)
    for key, on in (("A", date(2020, 1, 1)), ("F", date(2024, 6, 1)), ("K", date(2025, 1, 2))):
        HealthRecord.objects.create(person=p[key], opened_on=on)
    for key, on in (
        ("A", date(2024, 4, 2)),
        ("J", date(2024, 7, 2)),
        ("E", date(2024, 5, 1)),
        ("D", date(2023, 5, 1)),
    ):
        ChronicCard.objects.create(person=p[key], disease=htn, certified_on=on)


def _settlement(w: World, county: dict[str, Any]) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from jkfp.regions.models import Institution
    from jkfp.settlement.models import Admission, Claim, Policy, Settlement

    p = w.persons
    # Another county of the same city (issue 21) shares the province hospital and the policy; its claim
    # numbers carry its code.
    prefix = "" if county["county"].code == "421321" else county["county"].code
    far = Institution.objects.get_or_create(
        code="H900", defaults={"name": "省人民医院", "level": "3", "in_county": False}
    )[0]
    policy = Policy.objects.filter(name="test").first() or Policy.objects.create(
        name="test",
        title="测试政策",
        valid_from=date(2024, 1, 1),
        valid_to=date(2024, 12, 31),
        source_text="",
        source_format="toml",
        sha256="0" * 64,
    )
    rows = (
        # key, claim, institution, discharged, source, status, current, counted, basic, critical, aid, supp, personal
        ("A", "c1", county["hospital"], date(2024, 3, 10), "window", "settled", True,
         "10000.00", "6000.00", "1000.00", "1500.00", "500.00", "1000.00"),
        ("A", "c2", far, date(2024, 3, 20), "import", "settled", True,
         "20000.00", "10000.00", "3000.00", "2000.00", "1000.00", "4000.00"),
        ("J", "c3", county["clinic"], date(2024, 8, 5), "api", "settled", True,
         "5000.05", "3000.01", "0.00", "1000.02", "0.00", "1000.02"),
        ("J", "c4", county["hospital"], date(2024, 9, 5), "api", "reversed", False,
         "9999.00", "5000.00", "0.00", "0.00", "0.00", "4999.00"),
        ("E", "c5", county["hospital"], date(2024, 4, 5), "api", "settled", True,
         "800.00", "400.00", "0.00", "0.00", "0.00", "400.00"),
        ("A", "c6", county["hospital"], date(2023, 12, 30), "api", "settled", True,
         "700.00", "350.00", "0.00", "0.00", "0.00", "350.00"),
        ("D", "c7", county["hospital"], date(2024, 6, 30), "api", "pending", None,
         "600.00", "0", "0", "0", "0", "0"),
        # Outpatient special chronic disease claims (门诊慢特病): o1 A window, o2 J import, o3 E no target.
        ("A", "o1", county["clinic"], date(2024, 4, 1), "window", "settled", True,
         "1000.00", "800.00", "0.00", "50.00", "50.00", "100.00"),
        ("J", "o2", county["clinic"], date(2024, 5, 1), "import", "settled", True,
         "2000.00", "1500.00", "0.00", "0.00", "200.00", "300.00"),
        ("E", "o3", county["clinic"], date(2024, 5, 1), "api", "settled", True,
         "900.00", "800.00", "0.00", "0.00", "0.00", "100.00"),
    )  # fmt: skip
    for key, claim_id, inst, out, source, status, current, *amounts in rows:
        outpatient = claim_id.startswith("o")
        claim = Claim.objects.create(
            kind="outpatient" if outpatient else "inpatient",
            disease="高血压" if outpatient else "",
            claim_id=prefix + claim_id,
            person=p[key],
            institution=inst,
            level=int(inst.level),
            in_county=inst.in_county,
            admitted_on=out if outpatient else out.replace(day=1),
            discharged_on=out,
            total_amount=Decimal(amounts[0]),
            out_of_scope_amount=Decimal("0"),
            source=source,
            status=status,
        )
        if current is None:
            continue
        counted, basic, critical, aid, supp, personal = (Decimal(a) for a in amounts)
        Settlement.objects.create(
            claim=claim,
            policy=policy,
            category="poor",
            counted_total=counted,
            hospital_absorbed=Decimal("0"),
            basic=basic,
            critical=critical,
            aid=aid,
            supplementary=supp,
            personal=personal,
            is_current=current,
            settled_at=timezone.now(),
        )
    for key, on, deferred, waived, status in (
        ("A", date(2024, 3, 1), True, "3000.00", "discharged"),
        ("D", date(2024, 5, 1), False, "0.00", "discharged"),
        ("K", date(2024, 6, 1), True, "2000.00", "cancelled"),
        ("E", date(2024, 7, 1), True, "1000.00", "admitted"),
    ):
        Admission.objects.create(
            person=p[key],
            institution=county["hospital"],
            admitted_on=on,
            deferred_payment=deferred,
            agreement_signed_on=on if deferred else None,
            deposit_waived_amount=Decimal(waived),
            status=status,
        )


def _alerts(w: World, county: dict[str, Any]) -> None:
    from jkfp.monitoring.models import Alert, AlertRule, MonitoringCase

    p = w.persons
    rules = {
        year: AlertRule.objects.create(
            county=county["county"],
            year=year,
            code="oop_general",
            name="一般人员自付超2万",
            kind="person_oop",
        )
        for year in (2023, 2024)
    }
    for key, year, alerted, due, verified in (
        ("A", 2024, date(2024, 4, 1), date(2024, 4, 16), date(2024, 4, 10)),
        ("J", 2024, date(2024, 9, 1), date(2024, 9, 16), date(2024, 9, 20)),
        ("E", 2024, date(2024, 5, 1), date(2024, 5, 16), None),
        ("K", 2023, date(2023, 6, 1), date(2023, 6, 16), date(2023, 6, 2)),
    ):
        case = MonitoringCase.objects.create(
            person=p[key], year=year, alerted_on=alerted, verified_on=verified
        )
        Alert.objects.create(
            rule=rules[year],
            person=p[key],
            year=year,
            alerted_on=alerted,
            verify_due_on=due,
            as_of=alerted,
            case=case,
        )


def _enrolment(w: World) -> None:
    from jkfp.registry.models import Enrolment

    p = w.persons
    for key, year, insured, premium, subsidy in (
        ("A", 2024, True, "125.00", "125.00"),
        ("C", 2024, True, "0.00", "250.00"),
        ("D", 2024, True, "0.00", "250.00"),
        ("E", 2024, True, "0.00", "250.00"),
        ("F", 2024, False, "0.00", "0.00"),
        ("H", 2024, True, "0.00", "250.00"),
        ("J", 2024, True, "125.00", "125.00"),
        ("A", 2025, True, "130.00", "130.00"),
    ):
        Enrolment.objects.create(
            person=p[key], year=year, insured=insured, premium_paid=premium, subsidy_amount=subsidy
        )
