"""示例签约服务数据 Demo care data for a county: teams, doctors, contracts, a year of follow-ups, checks.

For ``jkfp demo`` (and tests): one team per township health centre with a village doctor per village,
every household assigned to its village doctor, contracts for most target persons living at home
(last year and this year), health records, a year of follow-ups written through the same bulk code as
the import (``jkfp.care.bulk``) — most on time, some late or missing so the work lists show overdue
items — yearly checks, drug deliveries and chronic-disease cards. Deterministic for a seed and a day;
running it again adds nothing already there. Unscoped: demo and tests only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from jkfp.capacity.selectors import township_staff_named
from jkfp.care.bulk import VisitRecord, followups_write, raw_insert, schedules_sync
from jkfp.care.models import (
    Checkup,
    ChronicCard,
    Contract,
    DoctorAssignment,
    DrugDelivery,
    FollowUp,
    FollowUpSource,
    HealthRecord,
    MemberRole,
    Schedule,
    ServicePackage,
    Team,
    TeamMember,
    VisitKind,
)
from jkfp.care.rules import UNCONTROLLED, age_on, classify
from jkfp.care.selectors import DEFAULT_SERVICE_ITEMS, rules_for
from jkfp.care.services import township_health_centre
from jkfp.regions.models import Region, RegionLevel, prefix_range
from jkfp.registry.models import TARGET_TAGS, Condition, Household, LivingStatus, Person

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳敏静强磊军洋勇艳杰娟涛明超霞平刚华红建国志文"
PACKAGE = "基础服务包"
CONTRACT_SHARE = 0.96
RECORD_SHARE = 0.98
CHECKUP_SHARE = 0.85
MISSED_LAST_SHARE = 0.12  # persons whose latest visit has not happened: overdue on the work list
CARD_SHARE = 0.35
DRUGS = ("硝苯地平缓释片", "氨氯地平片", "二甲双胍片", "阿卡波糖片", "阿司匹林肠溶片")


@dataclass
class DemoCare:
    """示例数据汇总 What the demo build wrote."""

    teams: int = 0
    contracts: int = 0
    visits: int = 0
    schedules: int = 0
    checkups: int = 0
    deliveries: int = 0
    cards: int = 0

    def text(self) -> str:
        return (
            f"团队{self.teams}个，签约{self.contracts}份，随访{self.visits}次，随访计划{self.schedules}项，"
            f"体检{self.checkups}人次，送药{self.deliveries}次，慢病卡{self.cards}张"
        )


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(str(rng.randrange(10)) for _ in range(9))


def demo_care_build(*, county_code: str, today: date, seed: int = 2020, doctor_user: Any = None) -> DemoCare:
    """示例签约服务 Build the demo care data of ``county_code`` as of ``today``; ``doctor_user`` (a village
    doctor account) becomes the village doctor of its village."""
    rng = random.Random(seed)
    out = DemoCare()
    lo, hi = prefix_range(county_code)
    with transaction.atomic():
        package, _ = ServicePackage.objects.get_or_create(
            name=PACKAGE, defaults={"items": "\n".join(DEFAULT_SERVICE_ITEMS)}
        )
        village_doctor: dict[str, TeamMember] = {}
        for township in Region.objects.filter(level=RegionLevel.TOWNSHIP, code__gte=lo, code__lt=hi).order_by(
            "code"
        ):
            team, created = Team.objects.get_or_create(
                township=township,
                name=f"{township.name}家庭医生一队",
                defaults={"institution": township_health_centre(township=township)},
            )
            out.teams += created
            if created:
                TeamMember.objects.bulk_create(
                    [
                        TeamMember(team=team, name=_name(rng), role=MemberRole.LEADER, phone=_phone(rng)),
                        TeamMember(team=team, name=_name(rng), role=MemberRole.NURSE, phone=_phone(rng)),
                        TeamMember(
                            team=team, name=_name(rng), role=MemberRole.PUBLIC_HEALTH, phone=_phone(rng)
                        ),
                    ]
                )
            for village in township.children.order_by("code"):
                member = TeamMember.objects.filter(
                    team=team, role=MemberRole.VILLAGE_DOCTOR, name__endswith=f"（{village.name}）"
                ).first()
                if member is None:
                    member = TeamMember.objects.create(
                        team=team,
                        name=f"{_name(rng)}（{village.name}）",
                        role=MemberRole.VILLAGE_DOCTOR,
                        phone=_phone(rng),
                    )
                village_doctor[village.code] = member
        if doctor_user is not None and doctor_user.region_id in village_doctor:
            member = village_doctor[doctor_user.region_id]
            if member.user_id != doctor_user.pk:
                member.user = doctor_user
                member.save(update_fields=["user"])

        assigned = set(
            DoctorAssignment.objects.filter(
                household__village_id__gte=lo, household__village_id__lt=hi, end_on__isnull=True
            ).values_list("household_id", flat=True)
        )
        start_of_year = date(today.year, 1, 1)
        DoctorAssignment.objects.bulk_create(
            [
                DoctorAssignment(
                    household_id=pk, member=village_doctor[village], start_on=date(today.year - 1, 1, 1)
                )
                for pk, village in Household.objects.filter(
                    village_id__gte=lo, village_id__lt=hi
                ).values_list("pk", "village_id")
                if pk not in assigned and village in village_doctor
            ],
            batch_size=2000,
        )

        # Each part draws from its own generator: a rerun that creates no team draws the same persons' data.
        rng = random.Random(seed + 1)
        persons = list(
            Person.objects.filter(village_id__gte=lo, village_id__lt=hi)
            .filter(Q(tags__code__in=TARGET_TAGS))
            .exclude(living_status=LivingStatus.DEAD)
            .distinct()
            .order_by("pk")
            .values_list("pk", "village_id", "birth_date", "living_status")
        )
        contracts, records, checkups = [], [], []
        for pk, village, born, living in persons:
            member = village_doctor.get(village)
            if member is None:
                continue
            if living == LivingStatus.HOME and rng.random() < CONTRACT_SHARE:
                last = date(today.year - 1, 1, 1) + timedelta(days=rng.randrange(60))
                this = start_of_year + timedelta(days=rng.randrange(60))
                for signed in (last, this):
                    if signed <= today:
                        contracts.append(
                            Contract(
                                person_id=pk,
                                team_id=member.team_id,
                                doctor=member,
                                package=package,
                                signed_on=signed,
                                end_on=date(signed.year, 12, 31),
                                handed_over_on=signed + timedelta(days=rng.randrange(1, 20))
                                if rng.random() < 0.9
                                else None,
                            )
                        )
            if rng.random() < RECORD_SHARE:
                records.append(
                    HealthRecord(person_id=pk, record_no=f"HR{pk:09d}", opened_on=max(born, date(2017, 3, 1)))
                )
            if rng.random() < CHECKUP_SHARE:
                on = start_of_year + timedelta(days=rng.randrange(max(1, (today - start_of_year).days)))
                checkups.append(
                    Checkup(
                        person_id=pk,
                        checked_on=on,
                        items={
                            "血压": f"{rng.randint(110, 160)}/{rng.randint(65, 98)}",
                            "心电图": "正常",
                            "血常规": "正常",
                        },
                        conclusion="未见明显异常" if rng.random() < 0.7 else "建议复查",
                    )
                )
        in_county = {"person__village_id__gte": lo, "person__village_id__lt": hi}
        # Keyed by (person, year) and (person, year of the check): a rerun on another day adds nothing.
        have = {
            (p, on.year)
            for p, on in Contract.objects.filter(**in_county).values_list("person_id", "signed_on")
        }
        out.contracts = raw_insert([c for c in contracts if (c.person_id, c.signed_on.year) not in have])
        have_records = set(HealthRecord.objects.filter(**in_county).values_list("person_id", flat=True))
        raw_insert([r for r in records if r.person_id not in have_records])
        have = {
            (p, on.year)
            for p, on in Checkup.objects.filter(**in_county).values_list("person_id", "checked_on")
        }
        out.checkups = raw_insert([c for c in checkups if (c.person_id, c.checked_on.year) not in have])

        out.visits = _followups(random.Random(seed + 2), lo, hi, today, village_doctor)
        out.schedules = schedules_sync(today=today)
        out.deliveries, out.cards = _deliveries_and_cards(random.Random(seed + 3), lo, hi, today)
    return out


def _followups(rng: random.Random, lo: str, hi: str, today: date, doctors: dict[str, TeamMember]) -> int:
    """A year of visits per person: every rule interval from a random start, some late, some missed."""
    rules = rules_for(county_code=lo)
    by_person: dict[int, tuple[str, date, list[int]]] = {}
    # Persons with any visit already keep their history: a rerun (even on another day) adds none.
    visited = set(
        FollowUp.objects.filter(person__village_id__gte=lo, person__village_id__lt=hi)
        .values_list("person_id", flat=True)
        .distinct()
    )
    for person_id, disease_id, village, born in (
        Condition.objects.filter(person__village_id__gte=lo, person__village_id__lt=hi, disease__isnull=False)
        .exclude(person__living_status=LivingStatus.DEAD)
        .order_by("person_id", "disease_id")
        .values_list("person_id", "disease_id", "person__village_id", "person__birth_date")
    ):
        if disease_id in rules and person_id not in visited:
            by_person.setdefault(person_id, (village, born, []))[2].append(disease_id)
    records: list[VisitRecord] = []
    for person_id, (village, born, diseases) in by_person.items():
        interval = min(rules[d].interval_days for d in diseases)
        measures = {rules[d].measure for d in diseases}
        day = today - timedelta(days=365 - rng.randrange(interval))
        missed_last = rng.random() < MISSED_LAST_SHARE
        doctor = doctors.get(village)
        base_sbp = rng.gauss(136, 10)
        while day <= today:
            if missed_last and day + timedelta(days=interval) > today:
                break
            sbp = int(base_sbp + rng.gauss(0, 8)) if "bp" in measures else None
            dbp = int(min(sbp - 30, rng.gauss(84, 6))) if sbp is not None else None
            glucose = Decimal(str(round(max(3.5, rng.gauss(6.6, 1.0)), 1))) if "glucose" in measures else None
            due = [d for d in diseases if rules[d].interval_days <= interval * 1.5 or day.month in (3, 4)]
            records.append(
                VisitRecord(
                    person_id=person_id,
                    visited_on=day,
                    kind=rng.choices((VisitKind.HOME, VisitKind.CLINIC, VisitKind.PHONE), (6, 3, 1))[0],
                    disease_ids=frozenset(due or diseases),
                    systolic=sbp,
                    diastolic=dbp,
                    glucose=glucose,
                    weight=Decimal(str(round(rng.gauss(62, 9), 1))),
                    doctor_id=doctor.pk if doctor else None,
                )
            )
            # An uncontrolled reading brings the doctor back within the rule's 14 days (domain.md §6).
            bad = any(
                classify(
                    rules[d].measure, systolic=sbp, diastolic=dbp, glucose=glucose, age=age_on(born, day)
                )
                == UNCONTROLLED
                for d in due or diseases
            )
            step = min(rules[d].revisit_days for d in diseases) - rng.randrange(0, 5) if bad else interval
            late = rng.random() < 0.15
            day += timedelta(days=step + (rng.randrange(5, 40) if late else rng.randrange(-7, 1)))
    created, _, _ = followups_write(records, today=today, source=FollowUpSource.IMPORT)
    return created


def _deliveries_and_cards(rng: random.Random, lo: str, hi: str, today: date) -> tuple[int, int]:
    # Deliveries have no natural key: they are written once, on the first build.
    have_deliveries = DrugDelivery.objects.filter(
        person__village_id__gte=lo, person__village_id__lt=hi
    ).exists()
    deliveries: list[DrugDelivery] = []
    cards: list[ChronicCard] = []
    for person_id, disease_id in (
        Condition.objects.filter(
            person__village_id__gte=lo,
            person__village_id__lt=hi,
            disease__kind__in=("chronic", "special_chronic"),
        )
        .exclude(person__living_status=LivingStatus.DEAD)
        .order_by("person_id", "disease_id")
        .values_list("person_id", "disease_id")
    ):
        draw = rng.random()
        if draw < CARD_SHARE:
            certified = today - timedelta(days=rng.randrange(30, 365 * 4))
            cards.append(
                ChronicCard(
                    person_id=person_id,
                    disease_id=disease_id,
                    certified_on=certified,
                    valid_to=certified + timedelta(days=365 * 3),
                    card_no=f"MB{person_id:08d}{disease_id:03d}",
                )
            )
        if draw < 0.2 and not have_deliveries:
            deliveries.append(
                DrugDelivery(
                    person_id=person_id,
                    delivered_on=today - timedelta(days=rng.randrange(1, 120)),
                    drugs=rng.choice(DRUGS),
                    supply_days=rng.choice((30, 60, 90)),
                )
            )
    raw_insert(deliveries)
    have = set(
        ChronicCard.objects.filter(person__village_id__gte=lo, person__village_id__lt=hi).values_list(
            "person_id", "disease_id"
        )
    )
    fresh: dict[tuple[int, int], ChronicCard] = {}
    for c in cards:  # a person may hold one disease under two condition names
        if (c.person_id, c.disease_id) not in have:
            fresh.setdefault((c.person_id, c.disease_id), c)
    return len(deliveries), raw_insert(list(fresh.values()))


def demo_care_reset(*, county_code: str) -> None:
    """删除示例签约服务数据 Delete the county's care data (persons' rows first, then teams), so that its
    persons, institutions and regions can be deleted."""
    lo, hi = prefix_range(county_code)
    with transaction.atomic():
        person_in = {"person__village_id__gte": lo, "person__village_id__lt": hi}
        for model in (Contract, Checkup, DrugDelivery, ChronicCard, HealthRecord):
            model.objects.filter(**person_in).delete()
        FollowUp.objects.filter(**person_in).delete()
        Schedule.objects.filter(**person_in).delete()
        DoctorAssignment.objects.filter(household__village_id__gte=lo, household__village_id__lt=hi).delete()
        Team.objects.filter(township_id__gte=lo, township_id__lt=hi).delete()


def demo_doctor_names(*, county_code: str) -> dict[str, str]:
    """村医姓名 village code → the name of its village doctor in the demo teams (``姓名（村名）`` → 姓名)."""
    lo, hi = prefix_range(county_code)
    names: dict[str, str] = {}
    villages = Region.objects.filter(level=RegionLevel.VILLAGE, code__gte=lo, code__lt=hi)
    by_key = {(v.parent_id, v.name): v.code for v in villages}
    for member in TeamMember.objects.filter(
        role=MemberRole.VILLAGE_DOCTOR, team__township_id__gte=lo, team__township_id__lt=hi
    ).select_related("team"):
        name, _, rest = member.name.partition("（")
        village = by_key.get((member.team.township_id, rest.rstrip("）")))
        if village:
            names[village] = name
    return names


def demo_members_link(*, county_code: str, today: date) -> int:
    """关联卫生人员 Link the demo village doctors (``姓名（村名）``) and other members to their staff records."""
    lo, hi = prefix_range(county_code)
    linked = 0
    with transaction.atomic():
        for member in TeamMember.objects.filter(
            staff__isnull=True, team__township_id__gte=lo, team__township_id__lt=hi
        ).select_related("team"):
            staff = township_staff_named(
                township_code=member.team.township_id, name=member.name.partition("（")[0], on=today
            )
            if staff is not None:
                member.staff = staff
                member.save(update_fields=["staff"])
                linked += 1
    return linked
