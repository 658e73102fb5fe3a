"""签约服务查询 Care reads, every one scoped to the user's region through the person's village.

The work lists read ``Schedule`` only (one index range on (village, due_on) or (village,
escalate_on)), never the follow-ups: performance.md and issue 5 ask for a village doctor's list in
≤ 200 ms and a township's overdue list in ≤ 500 ms with 10M follow-ups. A detail read outside the
user's region raises ``Http404`` (a guessed URL must not reveal that the row exists).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from jkfp.accounts.scoping import NOT_FOUND_REGION, region_get, region_narrow, scope, user_prefix
from jkfp.care.models import (
    Checkup,
    ChronicCard,
    Classification,
    Contract,
    ContractStatus,
    DoctorAssignment,
    DrugDelivery,
    FollowUp,
    FollowUpItem,
    FollowUpRule,
    HealthRecord,
    Schedule,
    Team,
    TeamMember,
)
from jkfp.care.rules import DEFAULT_RULES, Due, Rule, age_on, classify, next_due
from jkfp.regions.models import Region, RegionLevel, containing_codes, most_specific, prefix_range
from jkfp.registry.disease_catalogue import catalogue_on, catalogue_settings
from jkfp.registry.models import Condition, Disease, DiseaseKind, Household, LivingStatus, Person

NOT_FOUND_PERSON = "人员不存在或不在您的管辖范围内"
NOT_FOUND_CONTRACT = "签约记录不存在或不在您的管辖范围内"
NOT_FOUND_TEAM = "团队不存在或不在您的管辖范围内"
NOT_FOUND_MEMBER = "团队成员不存在"
NOT_FOUND_HOUSEHOLD = "户不存在或不在您的管辖范围内"
WEEK_DAYS = 7
SECTIONS = ("overdue", "week", "unseen")
SECTION_LABELS = {"overdue": "已逾期", "week": "本周到期", "unseen": "今年未随访"}
# Free service items printed on a contact card when the contract names no package.
DEFAULT_SERVICE_ITEMS = (
    "建立居民健康档案",
    "每年一次免费健康体检",
    "高血压、糖尿病等慢病每年4次面对面随访",
    "健康教育与用药指导",
    "预约转诊、送医配药",
)


# --- rules -----------------------------------------------------------------------------------


def _rule_scope(row: FollowUpRule) -> str:
    return "" if row.county is None else row.county.prefix


def rules_for(*, county_code: str | None = None, on: date | None = None) -> dict[int, Rule]:
    """随访规则表 ``disease id → Rule`` for a county: §6 defaults, then default rows, then per disease the
    row of the most specific region containing the county (its own, its city's, its province's).

    A chronic catalogue disease not in the §6 table follows its catalogue ``visits_per_year`` (the
    region's catalogue entry's when it sets one) when that is above zero. Only diseases in the
    county's catalogue on ``on`` (default today; ``registry.disease_catalogue``) are followed up: a
    disease a county (or its city or province) took out of its catalogue has no rule there.
    """
    rules: dict[int, Rule] = {}
    code = county_code or ""
    catalogue = catalogue_settings(code)
    day = on or timezone.localdate()
    for pk, setting in catalogue.items():
        if setting.kind != DiseaseKind.CHRONIC:
            continue
        if setting.name in DEFAULT_RULES:
            rules[pk] = DEFAULT_RULES[setting.name]
        elif setting.visits_per_year:
            rules[pk] = Rule(visits_per_year=setting.visits_per_year, face_to_face=False)
    rows = FollowUpRule.objects.select_related("county").filter(
        Q(county__isnull=True) | Q(county_id__in=containing_codes(code) if code else [])
    )
    by_disease: dict[int, list[FollowUpRule]] = defaultdict(list)
    for row in rows:
        by_disease[row.disease_id].append(row)
    # Per disease the row of the most specific region containing the county (issue 21 item 3: the
    # county's overrides the city's, the city's the province's, and those the default rows).
    for candidates in by_disease.values():
        found = most_specific(candidates, code, _rule_scope)
        if not found:
            continue
        row = found[0]
        rules[row.disease_id] = Rule(
            visits_per_year=row.visits_per_year,
            measure=row.measure,
            face_to_face=row.face_to_face,
            revisit_days=row.revisit_days,
            referral_days=row.referral_days,
            referral_after=row.referral_after,
            due_window_days=row.due_window_days,
            escalate_after_days=row.escalate_after_days,
        )
    return {pk: rule for pk, rule in rules.items() if pk not in catalogue or catalogue[pk].valid_on(day)}


# --- persons ---------------------------------------------------------------------------------


def person_get(*, user: Any, pk: int) -> Person:
    """人员（签约服务） One person of the user's region with village and household; ``Http404`` otherwise."""
    person = (
        scope(Person.objects.all(), user)
        .select_related("village", "village__parent", "household")
        .filter(pk=pk)
        .first()
    )
    if person is None:
        raise Http404(NOT_FOUND_PERSON)
    return person


@dataclass
class PersonCare:
    """人员签约服务概况 Everything the person's care page shows, fetched in a fixed number of queries."""

    person: Person
    schedules: list[Schedule]
    followups: list[FollowUp]
    contracts: list[Contract]
    checkups: list[Checkup]
    deliveries: list[DrugDelivery]
    cards: list[ChronicCard]


def person_care(*, user: Any, pk: int) -> PersonCare:
    """人员签约服务页 The schedules, latest visits, contracts, checks, deliveries and cards of one person."""
    person = person_get(user=user, pk=pk)
    return PersonCare(
        person=person,
        schedules=list(Schedule.objects.filter(person=person).select_related("disease").order_by("due_on")),
        followups=list(
            FollowUp.objects.filter(person=person)
            .prefetch_related(Prefetch("items", queryset=FollowUpItem.objects.select_related("disease")))
            .select_related("doctor")
            .order_by("-visited_on")[:12]
        ),
        contracts=list(
            Contract.objects.filter(person=person)
            .select_related("team", "doctor", "package")
            .order_by("-signed_on")
        ),
        checkups=list(Checkup.objects.filter(person=person).select_related("institution")[:10]),
        deliveries=list(DrugDelivery.objects.filter(person=person)[:10]),
        cards=list(ChronicCard.objects.filter(person=person).select_related("disease", "institution")),
    )


@dataclass(frozen=True)
class VisitCondition:
    """本次随访病种 A condition the visit form offers: ticked when due within its window."""

    disease_id: int
    name: str
    due_on: date | None
    ticked: bool


def visit_conditions(*, person: Person, today: date) -> list[VisitCondition]:
    """随访病种选项 The person's conditions that have a rule, ticked when due within the window or overdue."""
    rules = rules_for(county_code=person.village_id[:6])
    due = dict(Schedule.objects.filter(person=person).values_list("disease_id", "due_on"))
    seen: set[int] = set()
    out: list[VisitCondition] = []
    for disease_id, name in (
        Condition.objects.filter(person=person, disease__isnull=False)
        .order_by("disease__name")
        .values_list("disease_id", "disease__name")
    ):
        if disease_id not in rules or disease_id in seen:
            continue
        seen.add(disease_id)
        due_on = due.get(disease_id)
        window = rules[disease_id].due_window_days
        out.append(
            VisitCondition(
                disease_id, name, due_on, due_on is None or due_on <= today + timedelta(days=window)
            )
        )
    if out and not any(c.ticked for c in out):
        out = [VisitCondition(c.disease_id, c.name, c.due_on, True) for c in out]
    return out


@dataclass(frozen=True)
class PreviewLine:
    """预计下次随访 What a visit would give for one condition."""

    name: str
    classification: str
    due: Due


def visit_preview(
    *,
    person: Person,
    visited_on: date,
    disease_ids: list[int],
    systolic: int | None,
    diastolic: int | None,
    glucose: Decimal | None,
    adverse_reaction: bool = False,
    new_complication: bool = False,
    unstable: bool = False,
) -> list[PreviewLine]:
    """随访预览 The classification and next due date each ticked condition would get (nothing is saved)."""
    rules = rules_for(county_code=person.village_id[:6])
    streaks = dict(Schedule.objects.filter(person=person).values_list("disease_id", "uncontrolled_streak"))
    names = dict(Disease.objects.filter(pk__in=disease_ids).values_list("pk", "name"))
    age = age_on(person.birth_date, visited_on)
    lines = []
    for disease_id in disease_ids:
        rule = rules.get(disease_id)
        if rule is None or disease_id not in names:
            continue
        cls = classify(
            rule.measure, systolic=systolic, diastolic=diastolic, glucose=glucose, unstable=unstable, age=age
        )
        due = next_due(
            rule,
            visited_on=visited_on,
            classification=cls,
            previous_streak=streaks.get(disease_id, 0),
            adverse_reaction=adverse_reaction,
            new_complication=new_complication,
        )
        lines.append(PreviewLine(names[disease_id], str(Classification(cls).label), due))
    return lines


# --- work lists ------------------------------------------------------------------------------


def _section_q(section: str, today: date) -> Q:
    if section == "overdue":
        return Q(due_on__lt=today)
    if section == "week":
        return Q(due_on__gte=today, due_on__lt=today + timedelta(days=WEEK_DAYS))
    if section == "unseen":
        return Q(last_visit_on__isnull=True) | Q(last_visit_on__lt=date(today.year, 1, 1))
    raise ValueError(section)


def worklist_counts(*, user: Any, today: date, region: str | None = None) -> dict[str, int]:
    """工作清单计数 How many items are overdue, due this week, not seen this year (one aggregate query)."""
    qs = region_narrow(scope(Schedule.objects.all(), user), region)
    return qs.aggregate(**{s: Count("id", filter=_section_q(s, today)) for s in SECTIONS})


def worklist(*, user: Any, section: str, today: date, region: str | None = None) -> QuerySet[Schedule]:
    """村医工作清单 The schedule items of one section (overdue / week / unseen) of the user's region."""
    qs = region_narrow(scope(Schedule.objects.all(), user), region).filter(_section_q(section, today))
    return qs.select_related("person", "disease", "village").order_by("due_on", "person_id", "disease_id")


def escalated(*, user: Any, today: date, region: str | None = None) -> QuerySet[Schedule]:
    """逾期上报清单 Items overdue past their escalation date, for the township (oldest first)."""
    qs = region_narrow(scope(Schedule.objects.all(), user), region).filter(escalate_on__lte=today)
    return qs.select_related("person", "disease", "village", "village__parent").order_by(
        "due_on", "person_id"
    )


def village_get(*, user: Any, code: str | None) -> Region:
    """村 A village of the user's region; ``Http404`` for anything else."""
    region = region_get(user=user, code=code)
    if region.level != RegionLevel.VILLAGE:
        raise Http404(NOT_FOUND_REGION)
    return region


# --- teams and contracts ---------------------------------------------------------------------


def teams(*, user: Any) -> QuerySet[Team]:
    """团队 Teams of the townships in the user's region (a village doctor sees the teams of the township)."""
    prefix = user_prefix(user)
    if prefix is None:
        return Team.objects.none()
    lo, hi = prefix_range(prefix[:9]) if len(prefix) == 12 else prefix_range(prefix)
    return (
        Team.objects.filter(township_id__gte=lo, township_id__lt=hi)
        .select_related("township", "institution")
        .prefetch_related(Prefetch("members", queryset=TeamMember.objects.order_by("role", "name")))
    )


def contracts_covering(*, year: int) -> Q:
    """覆盖年度的签约 Q over ``Contract`` rows covering at least one day of ``year`` (not terminated)."""
    return Q(signed_on__lte=date(year, 12, 31), end_on__gte=date(year, 1, 1)) & ~Q(
        status=ContractStatus.TERMINATED
    )


def contracts(*, user: Any, year: int, region: str | None = None) -> QuerySet[Contract]:
    """签约登记 Contracts covering ``year`` of persons in the user's region, in village and person order."""
    qs = region_narrow(
        scope(Contract.objects.all(), user, "person__village_id"), region, "person__village_id"
    )
    return (
        qs.filter(contracts_covering(year=year))
        .select_related(
            "person",
            "person__village",
            "person__village__parent",
            "person__household",
            "team",
            "doctor",
            "package",
        )
        .order_by("person__village_id", "person__household_id", "person_id", "signed_on")
    )


def contract_get(*, user: Any, pk: int) -> Contract:
    """签约 One contract of the user's region; ``Http404`` otherwise."""
    contract = (
        scope(Contract.objects.all(), user, "person__village_id")
        .select_related("person")
        .filter(pk=pk)
        .first()
    )
    if contract is None:
        raise Http404(NOT_FOUND_CONTRACT)
    return contract


@dataclass
class Fulfilment:
    """履约情况 One contracted person's services of a year: visits per condition, check, deliveries."""

    visits: list[tuple[str, int, int, str]] = field(default_factory=list)  # name, required, done, last class
    checkup_on: date | None = None
    delivery_count: int = 0

    @property
    def fulfilled(self) -> bool:
        """履约 Every condition's required visits (face-to-face where the rule says so) and a check in the year."""
        return self.checkup_on is not None and all(done >= required for _, required, done, _ in self.visits)


def fulfilment_of(*, person_ids: list[int], county_code: str, year: int) -> dict[int, Fulfilment]:
    """履约明细 ``person id → Fulfilment`` of ``year`` for a chunk of (already scoped) persons, in five queries."""
    if not person_ids:
        return {}
    lo, hi = date(year, 1, 1), date(year, 12, 31)
    rules = rules_for(county_code=county_code, on=hi)  # the diseases of the catalogue on 31 December
    names = dict(Disease.objects.filter(pk__in=list(rules)).values_list("pk", "name"))
    wanted: dict[int, set[int]] = defaultdict(set)
    for person_id, disease_id in Condition.objects.filter(
        person_id__in=person_ids, disease_id__in=list(rules)
    ).values_list("person_id", "disease_id"):
        wanted[person_id].add(disease_id)
    done: dict[tuple[int, int], tuple[int, int]] = {}
    for person_id, disease_id, face, total in (
        FollowUpItem.objects.filter(person_id__in=person_ids, visited_on__gte=lo, visited_on__lte=hi)
        .values("person_id", "disease_id")
        .annotate(face=Count("id", filter=Q(face_to_face=True)), total=Count("id"))
        .values_list("person_id", "disease_id", "face", "total")
        .order_by()
    ):
        done[(person_id, disease_id)] = (face, total)
    last_class = {
        (p, d): c
        for p, d, c in Schedule.objects.filter(person_id__in=person_ids).values_list(
            "person_id", "disease_id", "last_classification"
        )
    }
    checks = dict(
        Checkup.objects.filter(person_id__in=person_ids, checked_on__gte=lo, checked_on__lte=hi)
        .values("person_id")
        .annotate(last=Max("checked_on"))
        .values_list("person_id", "last")
        .order_by()
    )
    deliveries = dict(
        DrugDelivery.objects.filter(person_id__in=person_ids, delivered_on__gte=lo, delivered_on__lte=hi)
        .values("person_id")
        .annotate(n=Count("id"))
        .values_list("person_id", "n")
        .order_by()
    )
    labels = dict(Classification.choices)
    out: dict[int, Fulfilment] = {}
    for person_id in person_ids:
        row = Fulfilment(checkup_on=checks.get(person_id), delivery_count=deliveries.get(person_id, 0))
        for disease_id in sorted(wanted.get(person_id, ()), key=lambda d: names.get(d, "")):
            rule = rules[disease_id]
            face, total = done.get((person_id, disease_id), (0, 0))
            cls = last_class.get((person_id, disease_id), "")
            row.visits.append(
                (
                    names.get(disease_id, ""),
                    rule.visits_per_year,
                    face if rule.face_to_face else total,
                    str(labels[cls]) if cls else "",
                )
            )
        out[person_id] = row
    return out


# --- contact cards ---------------------------------------------------------------------------


@dataclass
class ContactCard:
    """联系卡 What one household's card shows."""

    household: Household
    members: list[Person]
    team: Team | None
    doctor: TeamMember | None
    team_members: list[TeamMember]
    items: list[str]


def contact_cards(*, user: Any, village: Region, today: date) -> list[ContactCard]:
    """联系卡 One card per household of a village of the user's region, in household order."""
    households = list(
        scope(Household.objects.filter(village=village), user)
        .prefetch_related(
            Prefetch(
                "members",
                queryset=Person.objects.exclude(living_status=LivingStatus.DEAD).order_by("id"),
            )
        )
        .order_by("household_no")
    )
    ids = [h.pk for h in households]
    assignment = {
        a.household_id: a.member
        for a in DoctorAssignment.objects.filter(household_id__in=ids, end_on__isnull=True).select_related(
            "member__team"
        )
    }
    latest: dict[int, Contract] = {}
    for c in (
        Contract.objects.filter(person__household_id__in=ids, end_on__gte=today)
        .exclude(status=ContractStatus.TERMINATED)
        .select_related("team", "doctor", "package", "person")
        .order_by("signed_on")
    ):
        latest[c.person.household_id] = c  # type: ignore[index]
    team_ids = {m.team_id for m in assignment.values()} | {c.team_id for c in latest.values()}
    members_by_team: dict[int, list[TeamMember]] = defaultdict(list)
    for m in TeamMember.objects.filter(team_id__in=team_ids, active=True).order_by("role", "name"):
        members_by_team[m.team_id].append(m)
    cards = []
    for h in households:
        contract = latest.get(h.pk)
        doctor = assignment.get(h.pk) or (contract.doctor if contract else None)
        team = doctor.team if doctor else (contract.team if contract else None)
        items = contract.package.item_list if contract and contract.package else list(DEFAULT_SERVICE_ITEMS)
        cards.append(
            ContactCard(
                h,
                list(h.members.all()),
                team,
                doctor,
                members_by_team.get(team.pk, []) if team else [],
                items,
            )
        )
    return cards


# --- team management, family doctors, per-person services -------------------------------------


def team_get(*, user: Any, pk: int) -> Team:
    """团队 One team of the townships in the user's region; ``Http404`` otherwise."""
    team = teams(user=user).filter(pk=pk).first()
    if team is None:
        raise Http404(NOT_FOUND_TEAM)
    return team


def team_member_get(*, team: Team, pk: int) -> TeamMember:
    """团队成员 One member of ``team`` (already scoped); ``Http404`` otherwise."""
    member = TeamMember.objects.filter(team=team, pk=pk).select_related("team").first()
    if member is None:
        raise Http404(NOT_FOUND_MEMBER)
    return member


def township_choices(*, user: Any) -> list[tuple[str, str]]:
    """可建团队的乡镇 ``(code, name)`` of the townships in the user's region."""
    return [
        (r.code, r.name)
        for r in scope(Region.objects.filter(level=RegionLevel.TOWNSHIP), user, "code").order_by("code")
    ]


def household_get(*, user: Any, pk: int) -> Household:
    """户（家庭医生） One household of the user's region with its village and members; ``Http404`` otherwise."""
    household = (
        scope(Household.objects.all(), user)
        .select_related("village", "village__parent", "head")
        .filter(pk=pk)
        .first()
    )
    if household is None:
        raise Http404(NOT_FOUND_HOUSEHOLD)
    return household


def doctor_assignments(*, household: Household) -> list[DoctorAssignment]:
    """家庭医生分配历史 The household's assignments, the current one first."""
    return list(
        DoctorAssignment.objects.filter(household=household)
        .select_related("member", "member__team")
        .order_by("-start_on", "-id")
    )


def doctor_choices(*, household: Household) -> list[TeamMember]:
    """可选家庭医生 Active members of the teams of the household's township."""
    township = household.village_id[:9] + "000"
    return list(
        TeamMember.objects.filter(team__township_id=township, active=True)
        .select_related("team")
        .order_by("team__name", "role", "name")
    )


def person_checkups(*, person: Person) -> list[Checkup]:
    """体检记录 The person's health checks, newest first."""
    return list(Checkup.objects.filter(person=person).select_related("institution").order_by("-checked_on"))


def person_deliveries(*, person: Person) -> list[DrugDelivery]:
    """送药记录 The person's drug deliveries, newest first."""
    return list(DrugDelivery.objects.filter(person=person).order_by("-delivered_on", "-id"))


def person_cards(*, person: Person) -> list[ChronicCard]:
    """慢病卡 The person's chronic-disease cards."""
    return list(
        ChronicCard.objects.filter(person=person)
        .select_related("disease", "institution")
        .order_by("certified_on")
    )


def card_valid(certified_on: date, valid_to: date | None, on: date) -> bool:
    """慢病卡有效 A card certified on ``certified_on`` and valid to ``valid_to`` (None: no end) is valid on ``on``."""
    return certified_on <= on and (valid_to is None or on <= valid_to)


def card_valid_on(*, person_id: int, disease_id: int, on: date) -> ChronicCard | None:
    """有效慢病卡 The person's card for the disease valid on ``on`` (``card_valid``), or None — what an
    outpatient claim (门诊慢特病) needs."""
    found = ChronicCard.objects.filter(person_id=person_id, disease_id=disease_id).first()
    return found if found is not None and card_valid(found.certified_on, found.valid_to, on) else None


def cards_by_person(person_ids: list[int]) -> dict[tuple[int, int], tuple[date, date | None]]:
    """慢病卡（批量） (person id, disease id) → (certified_on, valid_to) of the persons' cards (one card
    per person and disease), read in chunks; check a date with ``card_valid``."""
    out: dict[tuple[int, int], tuple[date, date | None]] = {}
    for start in range(0, len(person_ids), 500):
        for pid, did, certified, valid_to in ChronicCard.objects.filter(
            person_id__in=person_ids[start : start + 500]
        ).values_list("person_id", "disease_id", "certified_on", "valid_to"):
            out[(pid, did)] = (certified, valid_to)
    return out


CARD_KINDS = (DiseaseKind.CHRONIC, DiseaseKind.SPECIAL_CHRONIC)


def card_diseases(
    *, also: Collection[int] = (), county_code: str | None = None, on: date | None = None
) -> QuerySet[Disease]:
    """可办慢病卡的病种 Chronic and special chronic catalogue diseases, and the diseases ``also`` (the
    settlement policies' outpatient special chronic diseases, whatever their catalogue kind: e.g.
    终末期肾病 is a major disease there; ``settlement.cards.outpatient_diseases``).

    With ``county_code``: the chronic and special chronic diseases of that county's catalogue on
    ``on`` (default today; ``registry.disease_catalogue``), and ``also``."""
    chronic = Q(kind__in=CARD_KINDS)
    if county_code is not None:
        chronic &= Q(pk__in=catalogue_on(county_code, on or timezone.localdate(), kinds=CARD_KINDS))
    return Disease.objects.filter(chronic | Q(pk__in=list(also))).order_by("kind", "name")


def person_health_record(*, person: Person) -> HealthRecord | None:
    """健康档案 The person's resident health record, if opened."""
    return HealthRecord.objects.filter(person=person).first()


NOT_FOUND_ENTRY = "记录不存在或已作废"


def care_entry_get(*, person: Person, model: type[Any], pk: int) -> Any:
    """待作废记录 One visit, check, delivery or card of ``person`` (already region-checked); ``Http404``
    when it does not exist or belongs to someone else."""
    entry = model.objects.filter(person=person, pk=pk).first()
    if entry is None:
        raise Http404(NOT_FOUND_ENTRY)
    entry.person = person
    return entry
