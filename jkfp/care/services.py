"""签约服务写操作 Care services: teams, doctors, contracts, visits, checks, deliveries, cards (domain.md §6).

Who may do what (domain.md §2): township health centres and the county administrator manage teams
and contracts; village doctors (and the township) record visits, checks and deliveries and sign
contracts in their own villages; inspectors only read. Every function checks the role and that
the person lies in the user's region (``PermissionDenied``); validation errors are
``ValidationError({field: Chinese message})`` with messages the tests import.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.scoping import role_require, scope_require, user_sees_code
from jkfp.accounts.services import audit_record
from jkfp.capacity.models import Staff
from jkfp.capacity.selectors import township_staff_named
from jkfp.care.bulk import schedules_refresh, schedules_sync
from jkfp.care.models import (
    FACE_TO_FACE_KINDS,
    Checkup,
    ChronicCard,
    Contract,
    ContractStatus,
    DoctorAssignment,
    DrugDelivery,
    FollowUp,
    FollowUpItem,
    HealthRecord,
    MemberRole,
    Schedule,
    ServicePackage,
    Team,
    TeamMember,
    VisitKind,
)
from jkfp.care.rules import age_on, classify, next_due, reading_problems
from jkfp.care.selectors import CARD_KINDS, rules_for
from jkfp.core.idnumber import mask as mask_id_number
from jkfp.core.importing import has_control_chars
from jkfp.core.signals import send_data_changed
from jkfp.regions.models import Institution, Region, RegionLevel
from jkfp.registry.disease_catalogue import in_catalogue
from jkfp.registry.models import (
    Condition,
    Disease,
    Household,
    LivingStatus,
    Person,
)

MANAGE_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
SERVICE_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP, Role.VILLAGE_DOCTOR})

ERR_ROLE_MANAGE = "只有县卫健局管理员和乡镇卫生院可以管理团队和签约续签"
ERR_ROLE_SERVICE = "只有县卫健局管理员、乡镇卫生院和村医可以登记签约服务"
ERR_REGION_SCOPE = "该区划不在您的管辖范围内"
ERR_NOT_TOWNSHIP = "团队必须属于一个乡镇"
ERR_TEAM_NAME = "请填写团队名称（不超过100字）"
ERR_TEAM_EXISTS = "该乡镇已有同名团队"
ERR_MEMBER_NAME = "请填写成员姓名（不超过50字）"
ERR_MEMBER_EXISTS = "团队中已有同名成员"
ERR_MEMBER_TEAM = "家庭医生不属于所选团队"
ERR_ASSIGN_TOWNSHIP = "家庭医生所在团队不属于该户所在乡镇"
ERR_MEMBER_INACTIVE = "该成员已离岗，不能指定为家庭医生"
ERR_DATE_FUTURE = "日期不能晚于今天"
ERR_DATE_BEFORE_BIRTH = "日期不能早于出生日期"
ERR_END_BEFORE_SIGNED = "到期日期不能早于签约日期"
ERR_CONTRACT_TOO_LONG = "签约期限不能超过3年"
ERR_CONTRACT_EXISTS = "此人在该日期已有签约"
ERR_HANDOVER_BEFORE = "交付日期不能早于签约日期"
ERR_DEAD = "此人已死亡，不能登记"
ERR_KIND = "随访方式无效，应为：门诊、家庭、电话"
ERR_NO_CONDITION = "请至少选择一种本次随访的疾病"
ERR_CONDITION_UNKNOWN = "所选疾病不是此人登记的慢病，或没有随访规则"
ERR_VISIT_EXISTS = "此人当天已有随访记录"
ERR_MEDICATION = "用药情况不超过300字"
ERR_SUPPLY_DAYS = "每次送药不超过3个月（1–92天）"
ERR_DRUGS = "请填写药品（不超过300字）"
ERR_CARD_VALIDITY = "有效期不能早于认定日期"
ERR_CARD_EXISTS = "此人已有该病种的慢病卡"
ERR_CARD_DISEASE = "慢病卡只能办理慢病、门诊慢特病或结算政策所列的门诊慢特病病种"
ERR_CARD_NOT_IN_CATALOGUE = "病种“{name}”在{day}不在{county}的病种目录中，不能办理慢病卡"
ERR_CONCLUSION = "体检结论不超过300字"
ERR_CHECKUP_EXISTS = "此人当天已有体检记录"
MAX_CONTRACT_DAYS = 3 * 366


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _check_date(on: date, person: Person, field: str, today: date) -> None:
    if on > today:
        raise ValidationError({field: ERR_DATE_FUTURE})
    if on < person.birth_date:
        raise ValidationError({field: ERR_DATE_BEFORE_BIRTH})


# --- teams -----------------------------------------------------------------------------------


def township_health_centre(*, township: Region) -> Institution | None:
    """乡镇卫生院 The level-1 institution of a township when there is exactly one."""
    rows = list(Institution.objects.filter(region=township, level="1")[:2])
    return rows[0] if len(rows) == 1 else None


def team_create(*, user: Any, township: Region, name: str, institution: Institution | None = None) -> Team:
    """建团队 Create a family-doctor team of a township health centre."""
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    if township.level != RegionLevel.TOWNSHIP:
        raise ValidationError({"township": ERR_NOT_TOWNSHIP})
    if not user_sees_code(user, township.code):
        raise PermissionDenied(ERR_REGION_SCOPE)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": ERR_TEAM_NAME})
    if Team.objects.filter(township=township, name=name).exists():
        raise ValidationError({"name": ERR_TEAM_EXISTS})
    team = Team(
        township=township, name=name, institution=institution or township_health_centre(township=township)
    )
    team.full_clean(validate_constraints=False)
    team.save()
    return team


def team_member_add(
    *,
    user: Any,
    team: Team,
    name: str,
    role: str = MemberRole.DOCTOR,
    phone: str = "",
    account: Any = None,
    staff: Staff | None = None,
) -> TeamMember:
    """加团队成员 Add a member (with a role and phone) to a team of the user's region.

    ``staff`` links the member to a staff record of an institution of the team's township; without it
    the member is linked to the one staff member on post there with the same name, if exactly one.
    """
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    if not user_sees_code(user, team.township_id):
        raise PermissionDenied(ERR_REGION_SCOPE)
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationError({"name": ERR_MEMBER_NAME})
    if TeamMember.objects.filter(team=team, name=name).exists():
        raise ValidationError({"name": ERR_MEMBER_EXISTS})
    if staff is not None and not (staff.institution.region_id or "").startswith(team.township_id[:9]):
        raise ValidationError({"staff": ERR_STAFF_TOWNSHIP})
    if staff is None:
        staff = township_staff_named(township_code=team.township_id, name=name, on=timezone.localdate())
    member = TeamMember(
        team=team, name=name, role=role, phone=(phone or "").strip(), user=account, staff=staff
    )
    member.full_clean(validate_constraints=False)
    member.save()
    return member


def members_link_staff(*, on: date, township_code: str | None = None) -> int:
    """关联卫生人员 Link every member without a staff record to the one staff member on post on ``on`` at an
    institution of the team's township with the same name (a name shared by several is left alone).

    Queued after each staff import (``care.receivers``); returns the number of members linked.
    """
    members = TeamMember.objects.filter(staff__isnull=True).select_related("team")
    if township_code is not None:
        members = members.filter(team__township_id=township_code)
    found: dict[tuple[str, str], Staff | None] = {}
    linked = 0
    with transaction.atomic():
        for member in members:
            key = (member.team.township_id, member.name)
            if key not in found:
                found[key] = township_staff_named(township_code=key[0], name=key[1], on=on)
            if found[key] is not None:
                member.staff = found[key]
                member.save(update_fields=["staff"])
                linked += 1
    return linked


def team_update(*, user: Any, team: Team, name: str) -> Team:
    """改团队名称 Rename a team of the user's region."""
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    if not user_sees_code(user, team.township_id):
        raise PermissionDenied(ERR_REGION_SCOPE)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": ERR_TEAM_NAME})
    if Team.objects.filter(township_id=team.township_id, name=name).exclude(pk=team.pk).exists():
        raise ValidationError({"name": ERR_TEAM_EXISTS})
    team.name = name
    team.save(update_fields=["name"])
    return team


def team_member_remove(*, user: Any, member: TeamMember) -> bool:
    """移出团队成员 Remove a member; one who served (assignments, contracts, visits) is only marked 离岗.

    Returns True when the row was deleted, False when it was kept as inactive (history stays
    readable). A household whose current family doctor leaves keeps the assignment until it is
    re-assigned.
    """
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    if not user_sees_code(user, member.team.township_id):
        raise PermissionDenied(ERR_REGION_SCOPE)
    with transaction.atomic():
        used = (
            DoctorAssignment.objects.filter(member=member).exists()
            or Contract.objects.filter(doctor=member).exists()
            or FollowUp.objects.filter(doctor=member).exists()
        )
        if used:
            TeamMember.objects.filter(pk=member.pk).update(active=False)
            member.active = False
            return False
        member.delete()
        return True


def family_doctor_assign(
    *, user: Any, household: Household, member: TeamMember, start_on: date
) -> DoctorAssignment:
    """指定家庭医生 Make ``member`` the household's family doctor from ``start_on``; the previous one ends the day before."""
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    scope_require(user, household.village_id)
    if member.team.township_id[:9] != household.village_id[:9]:
        raise ValidationError({"member": ERR_ASSIGN_TOWNSHIP})
    if not member.active:
        raise ValidationError({"member": ERR_MEMBER_INACTIVE})
    with transaction.atomic():
        current = (
            DoctorAssignment.objects.select_for_update()
            .filter(household=household, end_on__isnull=True)
            .first()
        )
        if current is not None:
            if current.member_id == member.pk:
                return current
            current.end_on = max(current.start_on, start_on - timedelta(days=1))
            current.save(update_fields=["end_on"])
        return DoctorAssignment.objects.create(household=household, member=member, start_on=start_on)


# --- contracts -------------------------------------------------------------------------------


def contract_sign(
    *,
    user: Any,
    person: Person,
    team: Team,
    signed_on: date,
    end_on: date | None = None,
    doctor: TeamMember | None = None,
    package: ServicePackage | None = None,
    handed_over_on: date | None = None,
    today: date | None = None,
) -> Contract:
    """签约 Sign a yearly contract (by default to the day before the same date next year)."""
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, person.village_id)
    today = today or timezone.localdate()
    if person.living_status == LivingStatus.DEAD:
        raise ValidationError({"person": ERR_DEAD})
    _check_date(signed_on, person, "signed_on", today)
    end_on = end_on or _year_after(signed_on)
    if end_on < signed_on:
        raise ValidationError({"end_on": ERR_END_BEFORE_SIGNED})
    if (end_on - signed_on).days > MAX_CONTRACT_DAYS:
        raise ValidationError({"end_on": ERR_CONTRACT_TOO_LONG})
    if doctor is not None and doctor.team_id != team.pk:
        raise ValidationError({"doctor": ERR_MEMBER_TEAM})
    if handed_over_on is not None and handed_over_on < signed_on:
        raise ValidationError({"handed_over_on": ERR_HANDOVER_BEFORE})
    if Contract.objects.filter(person=person, signed_on=signed_on).exists():
        raise ValidationError({"signed_on": ERR_CONTRACT_EXISTS})
    contract = Contract(
        person=person,
        team=team,
        doctor=doctor,
        package=package,
        signed_on=signed_on,
        end_on=end_on,
        handed_over_on=handed_over_on,
    )
    contract.full_clean(validate_constraints=False)
    contract.save()
    send_data_changed(kind="care", years=[signed_on.year], person_ids=[person.pk])
    return contract


def _year_after(on: date) -> date:
    try:
        return on.replace(year=on.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        return date(on.year + 1, 2, 28)


def contract_hand_over(*, user: Any, contract: Contract, on: date, today: date | None = None) -> Contract:
    """交付签约 Record that the contract was handed over to the household."""
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, contract.person.village_id)
    if on > (today or timezone.localdate()):
        raise ValidationError({"handed_over_on": ERR_DATE_FUTURE})
    if on < contract.signed_on:
        raise ValidationError({"handed_over_on": ERR_HANDOVER_BEFORE})
    contract.handed_over_on = on
    contract.save(update_fields=["handed_over_on"])
    send_data_changed(kind="care", years=[contract.signed_on.year], person_ids=[contract.person_id])
    return contract


def contracts_renew_village(*, user: Any, village: Region, year: int) -> int:
    """整村续签 Renew for ``year`` every contract of the village that covered the last day of ``year - 1``.

    Dead persons and persons already holding a contract covering 1 January of ``year`` are skipped.
    The new contract runs the whole calendar year with the same team, doctor and package; it is
    not handed over yet. Returns the number of contracts created.
    """
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    if village.level != RegionLevel.VILLAGE or not user_sees_code(user, village.code):
        raise PermissionDenied(ERR_REGION_SCOPE)
    start, end = date(year, 1, 1), date(year, 12, 31)
    with transaction.atomic():
        covered = set(
            Contract.objects.filter(person__village=village, signed_on__lte=start, end_on__gte=start)
            .exclude(status=ContractStatus.TERMINATED)
            .values_list("person_id", flat=True)
        )
        taken = set(
            Contract.objects.filter(person__village=village, signed_on=start).values_list(
                "person_id", flat=True
            )
        )
        previous: dict[int, Contract] = {}
        for c in (
            Contract.objects.filter(
                person__village=village,
                signed_on__lte=date(year - 1, 12, 31),
                end_on__gte=date(year - 1, 12, 31),
            )
            .exclude(status=ContractStatus.TERMINATED)
            .exclude(person__living_status=LivingStatus.DEAD)
            .order_by("signed_on")
        ):
            previous[c.person_id] = c
        rows = [
            Contract(
                person_id=c.person_id,
                team_id=c.team_id,
                doctor_id=c.doctor_id,
                package_id=c.package_id,
                signed_on=start,
                end_on=end,
            )
            for person_id, c in sorted(previous.items())
            if person_id not in covered and person_id not in taken
        ]
        Contract.objects.bulk_create(rows, batch_size=2000)
        if rows:
            send_data_changed(kind="care", years=[year], person_ids=[c.person_id for c in rows])
    return len(rows)


def health_record_open(*, user: Any, person: Person, opened_on: date, record_no: str = "") -> HealthRecord:
    """建档 Open (or keep) the person's resident health record."""
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, person.village_id)
    _check_date(opened_on, person, "opened_on", timezone.localdate())
    record, created = HealthRecord.objects.get_or_create(
        person=person, defaults={"opened_on": opened_on, "record_no": (record_no or "").strip()[:40]}
    )
    if created:
        send_data_changed(kind="care", years=[opened_on.year], person_ids=[person.pk])
    return record


# --- visits ----------------------------------------------------------------------------------


def followup_record(
    *,
    user: Any,
    person: Person,
    visited_on: date,
    kind: str,
    disease_ids: list[int],
    systolic: int | None = None,
    diastolic: int | None = None,
    glucose: Decimal | None = None,
    weight: Decimal | None = None,
    medication: str = "",
    adverse_reaction: bool = False,
    new_complication: bool = False,
    unstable: bool = False,
    today: date | None = None,
) -> FollowUp:
    """登记随访 Record one visit serving one or more of the person's conditions; move their schedules.

    Each condition is classified from the readings (domain.md §6) and gets its next due date; the
    visit's ``next_on`` is the earliest of them.
    """
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, person.village_id)
    today = today or timezone.localdate()
    if person.living_status == LivingStatus.DEAD:
        raise ValidationError({"person": ERR_DEAD})
    _check_date(visited_on, person, "visited_on", today)
    if kind not in VisitKind.values:
        raise ValidationError({"kind": ERR_KIND})
    problems = reading_problems(systolic=systolic, diastolic=diastolic, glucose=glucose, weight=weight)
    if problems:
        raise ValidationError(dict(problems))
    medication = (medication or "").strip()
    if len(medication) > 300:
        raise ValidationError({"medication": ERR_MEDICATION})
    wanted = sorted(set(disease_ids))
    if not wanted:
        raise ValidationError({"disease_ids": ERR_NO_CONDITION})
    rules = rules_for(county_code=person.village_id[:6])
    own = set(
        Condition.objects.filter(person=person, disease_id__in=wanted).values_list("disease_id", flat=True)
    )
    if any(d not in own or d not in rules for d in wanted):
        raise ValidationError({"disease_ids": ERR_CONDITION_UNKNOWN})
    member = (
        TeamMember.objects.filter(user=user, active=True).order_by("pk").first()
        if _user_or_none(user)
        else None
    )
    age = age_on(person.birth_date, visited_on)
    with transaction.atomic():
        if FollowUp.objects.filter(person=person, visited_on=visited_on).exists():
            raise ValidationError({"visited_on": ERR_VISIT_EXISTS})
        visit = FollowUp(
            person=person,
            visited_on=visited_on,
            kind=kind,
            systolic=systolic,
            diastolic=diastolic,
            glucose=glucose,
            weight=weight,
            medication=medication,
            adverse_reaction=adverse_reaction,
            new_complication=new_complication,
            unstable=unstable,
            doctor=member,
            recorded_by=_user_or_none(user),
        )
        visit.full_clean(validate_constraints=False)
        visit.save()
        schedules = {
            s.disease_id: s
            for s in Schedule.objects.select_for_update().filter(person=person, disease_id__in=wanted)
        }
        earliest: date | None = None
        for disease_id in wanted:
            rule = rules[disease_id]
            cls = classify(
                rule.measure,
                systolic=systolic,
                diastolic=diastolic,
                glucose=glucose,
                unstable=unstable,
                age=age,
            )
            FollowUpItem.objects.create(
                followup=visit,
                person=person,
                disease_id=disease_id,
                visited_on=visited_on,
                face_to_face=kind in FACE_TO_FACE_KINDS,
                classification=cls,
            )
            schedule = schedules.get(disease_id)
            if (
                schedule is not None
                and schedule.last_visit_on is not None
                and schedule.last_visit_on > visited_on
            ):
                # A late entry of an older visit: the newer visit still decides the schedule.
                continue
            due = next_due(
                rule,
                visited_on=visited_on,
                classification=cls,
                previous_streak=schedule.uncontrolled_streak if schedule else 0,
                adverse_reaction=adverse_reaction,
                new_complication=new_complication,
            )
            Schedule.objects.update_or_create(
                person=person,
                disease_id=disease_id,
                defaults={
                    "village_id": person.village_id,
                    "last_visit_on": visited_on,
                    "last_classification": cls,
                    "uncontrolled_streak": due.streak,
                    "due_on": due.due_on,
                    "reason": due.reason,
                    "escalate_on": due.escalate_on,
                },
            )
            earliest = due.due_on if earliest is None else min(earliest, due.due_on)
        visit.next_on = earliest
        visit.save(update_fields=["next_on"])
        send_data_changed(kind="care", years=[visited_on.year], person_ids=[person.pk])
    return visit


# --- checks, deliveries, cards ---------------------------------------------------------------


def checkup_record(
    *,
    user: Any,
    person: Person,
    checked_on: date,
    items: dict[str, str] | None = None,
    conclusion: str = "",
    institution: Institution | None = None,
    replace: bool = True,
) -> Checkup:
    """登记体检 Record a health check with its items (name → result).

    A check of the same person and day is replaced (the page corrects it); with ``replace=False``
    (an entry synced from a phone, possibly older than what the server holds) it is refused instead.
    """
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, person.village_id)
    _check_date(checked_on, person, "checked_on", timezone.localdate())
    conclusion = (conclusion or "").strip()
    if len(conclusion) > 300:
        raise ValidationError({"conclusion": ERR_CONCLUSION})
    if not replace and Checkup.objects.filter(person=person, checked_on=checked_on).exists():
        raise ValidationError({"checked_on": ERR_CHECKUP_EXISTS})
    checkup, _ = Checkup.objects.update_or_create(
        person=person,
        checked_on=checked_on,
        defaults={
            "items": {str(k)[:50]: str(v)[:100] for k, v in (items or {}).items() if str(k).strip()},
            "conclusion": conclusion,
            "institution": institution,
            "recorded_by": _user_or_none(user),
        },
    )
    send_data_changed(kind="care", years=[checked_on.year], person_ids=[person.pk])
    return checkup


def drug_delivery_record(
    *, user: Any, person: Person, delivered_on: date, drugs: str, supply_days: int
) -> DrugDelivery:
    """登记送药 Record a delivery of medicines (at most 3 months' supply, domain.md §6)."""
    role_require(user, SERVICE_ROLES, ERR_ROLE_SERVICE)
    scope_require(user, person.village_id)
    if person.living_status == LivingStatus.DEAD:
        raise ValidationError({"person": ERR_DEAD})
    _check_date(delivered_on, person, "delivered_on", timezone.localdate())
    drugs = (drugs or "").strip()
    if not drugs or len(drugs) > 300:
        raise ValidationError({"drugs": ERR_DRUGS})
    if not 1 <= supply_days <= 92:
        raise ValidationError({"supply_days": ERR_SUPPLY_DAYS})
    delivery = DrugDelivery(
        person=person,
        delivered_on=delivered_on,
        drugs=drugs,
        supply_days=supply_days,
        delivered_by=_user_or_none(user),
    )
    delivery.full_clean(validate_constraints=False)
    delivery.save()
    send_data_changed(kind="care", years=[delivered_on.year], person_ids=[person.pk])
    return delivery


def chronic_card_issue(
    *,
    user: Any,
    person: Person,
    disease: Disease,
    certified_on: date,
    valid_to: date | None = None,
    institution: Institution | None = None,
    card_no: str = "",
    also: Collection[int] = (),
) -> ChronicCard:
    """办理慢病卡 Issue a chronic-disease card (what ``chronic_card_count`` counts by certification date)
    for a chronic or special chronic catalogue disease, or one of the diseases ``also`` (the settlement
    policies' outpatient special chronic diseases, ``selectors.card_diseases``)."""
    role_require(user, MANAGE_ROLES, ERR_ROLE_MANAGE)
    scope_require(user, person.village_id)
    if disease.kind not in CARD_KINDS and disease.pk not in also:
        raise ValidationError({"disease": ERR_CARD_DISEASE})
    county = person.village_id[:6]
    if disease.pk not in also and not in_catalogue(disease.pk, county, certified_on):
        where = Region.objects.filter(code=county).first() or county
        message = ERR_CARD_NOT_IN_CATALOGUE.format(
            name=disease.name, day=certified_on.isoformat(), county=where
        )
        raise ValidationError({"disease": message})
    _check_date(certified_on, person, "certified_on", timezone.localdate())
    if valid_to is not None and valid_to < certified_on:
        raise ValidationError({"valid_to": ERR_CARD_VALIDITY})
    if ChronicCard.objects.filter(person=person, disease=disease).exists():
        raise ValidationError({"disease": ERR_CARD_EXISTS})
    card = ChronicCard(
        person=person,
        disease=disease,
        certified_on=certified_on,
        valid_to=valid_to,
        institution=institution,
        card_no=(card_no or "").strip()[:40],
    )
    card.full_clean(validate_constraints=False)
    card.save()
    send_data_changed(kind="care", years=[certified_on.year], person_ids=[person.pk])
    return card


ERR_STAFF_TOWNSHIP = "所选卫生人员不属于本乡镇的机构"


# --- 作废 voiding a mistaken entry -----------------------------------------------------------------

VoidableEntry = FollowUp | Checkup | DrugDelivery | ChronicCard

ERR_VOID_REASON = "请填写作废原因（2–200字）"
ERR_VOID_GONE = "该记录已被作废或不存在"
VOID_REASON_MIN, VOID_REASON_MAX = 2, 200
# AuditEvent.detail holds 500 characters: the values are written as JSON split over numbered parts.
AUDIT_DETAIL_MAX = 500
VOID_PART_HEAD = "作废{label}#{pk} {part}/{parts} "


@dataclass(frozen=True)
class VoidKind:
    """作废类型 What differs between the four kinds of care entry that can be voided."""

    label: str  # 随访, 体检, 送药, 慢病卡
    object_type: str  # AuditEvent.object_type
    date_field: str
    roles: frozenset[str]  # who may void: exactly who may record it


VOID_KINDS: dict[type[Any], VoidKind] = {
    FollowUp: VoidKind("随访", "followup", "visited_on", SERVICE_ROLES),
    Checkup: VoidKind("体检", "checkup", "checked_on", SERVICE_ROLES),
    DrugDelivery: VoidKind("送药", "drug_delivery", "delivered_on", SERVICE_ROLES),
    ChronicCard: VoidKind("慢病卡", "chronic_card", "certified_on", MANAGE_ROLES),
}


def _json_value(value: Any) -> Any:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _user_label(user: Any) -> str | None:
    if user is None:
        return None
    full = getattr(user, "full_name", "") or ""
    return f"{user.username}（{full}）" if full else user.username


def care_entry_values(*, entry: VoidableEntry) -> dict[str, Any]:
    """作废前的记录 Every stored value of a care entry, JSON-ready: all columns, the names behind the
    foreign keys, the doctor, and for a visit the conditions it served with their classifications."""
    kind = VOID_KINDS[type(entry)]
    fields = {f.attname: _json_value(getattr(entry, f.attname)) for f in type(entry)._meta.concrete_fields}
    values: dict[str, Any] = {
        "kind": kind.object_type,
        "label": kind.label,
        "id": entry.pk,
        "person_id": entry.person_id,
        "person": entry.person.name,
        "id_number": mask_id_number(entry.person.id_number),  # the audit page shows it: masked
        "village": entry.person.village_id,
        "date": _json_value(getattr(entry, kind.date_field)),
        "fields": fields,
    }
    if isinstance(entry, FollowUp):
        values["doctor"] = entry.doctor.name if entry.doctor is not None else None
        values["recorded_by"] = _user_label(entry.recorded_by)
        values["items"] = [
            {
                "disease_id": item.disease_id,
                "disease": item.disease.name,
                "classification": item.classification,
                "face_to_face": item.face_to_face,
            }
            for item in entry.items.select_related("disease").order_by("disease_id")
        ]
    elif isinstance(entry, Checkup):
        values["doctor"] = _user_label(entry.recorded_by)
        values["institution"] = entry.institution.name if entry.institution is not None else None
    elif isinstance(entry, DrugDelivery):
        values["doctor"] = _user_label(entry.delivered_by)
    else:
        values["doctor"] = None
        values["disease"] = entry.disease.name
        values["institution"] = entry.institution.name if entry.institution is not None else None
    return values


def void_audit_details(*, label: str, pk: int, values: dict[str, Any]) -> list[str]:
    """作废审计说明 The audit details of a void: the values as compact JSON, cut into numbered parts
    that each fit ``AuditEvent.detail``; ``void_audit_values`` joins them back."""
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    count = 1
    while True:  # the head's width depends on the number of parts: grow until it fits
        head = len(VOID_PART_HEAD.format(label=label, pk=pk, part=count, parts=count))
        size = AUDIT_DETAIL_MAX - head
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        if len(pieces) <= count:
            return [
                VOID_PART_HEAD.format(label=label, pk=pk, part=n, parts=len(pieces)) + piece
                for n, piece in enumerate(pieces, start=1)
            ]
        count = len(pieces)


def void_audit_values(details: list[str]) -> dict[str, Any]:
    """作废审计还原 The values of a voided entry from its audit details (parts in any order)."""
    numbered = []
    for detail in details:
        head = detail.partition(" ")[0]
        number, _, rest = detail[len(head) + 1 :].partition(" ")
        part = int(number.partition("/")[0])
        numbered.append((part, rest))
    return dict(json.loads("".join(piece for _, piece in sorted(numbered))))


def care_entry_void(
    *,
    user: Any,
    entry: VoidableEntry,
    reason: str,
    request: Any = None,
    today: date | None = None,
) -> dict[str, Any]:
    """作废 Delete a mistaken visit, health check, drug delivery or chronic card; returns its values.

    Same roles and region as recording it. In one transaction: the entry is deleted (a visit with
    its condition items), the deleted values with the reason go to the audit log
    (``AuditAction.CHANGE``), a voided visit's conditions get their schedules replayed from the
    remaining visits (``bulk.schedules_refresh``, then ``bulk.schedules_sync`` for this person, as
    an import does), and ``data_changed`` (kind ``care``) is sent on commit. To correct an entry,
    void it and record it again.
    """
    kind = VOID_KINDS[type(entry)]
    role_require(user, kind.roles, ERR_ROLE_MANAGE if kind.roles == MANAGE_ROLES else ERR_ROLE_SERVICE)
    person = entry.person
    scope_require(user, person.village_id)
    reason = (reason or "").strip()
    if not VOID_REASON_MIN <= len(reason) <= VOID_REASON_MAX or has_control_chars(reason):
        raise ValidationError({"reason": ERR_VOID_REASON})
    today = today or timezone.localdate()
    with transaction.atomic():
        # Locks the person's schedules first (as followup_record does), then the entry: a second
        # void of the same entry waits and then finds it gone.
        list(Schedule.objects.select_for_update().filter(person_id=person.pk).values_list("pk", flat=True))
        model = type(entry)
        locked = model.objects.select_for_update().filter(pk=entry.pk, person_id=person.pk).first()
        if locked is None:
            raise ValidationError({"entry": ERR_VOID_GONE})
        locked.person = person
        values = care_entry_values(entry=locked)
        values["reason"] = reason
        values["voided_by"] = _user_label(_user_or_none(user))
        values["voided_at"] = timezone.now().isoformat()
        diseases = {item["disease_id"] for item in values.get("items", [])}
        pk, year = locked.pk, getattr(locked, kind.date_field).year
        locked.delete()
        if diseases:
            schedules_refresh(pairs={(person.pk, d) for d in diseases}, today=today)
            # A condition no longer recorded loses the schedule the refresh wrote back (as care-sync does).
            schedules_sync(today=today, person_ids=[person.pk])
        for detail in void_audit_details(label=kind.label, pk=pk, values=values):
            audit_record(
                user=user,
                action=AuditAction.CHANGE,
                object_type=kind.object_type,
                object_id=str(pk),
                detail=detail,
                region_code=person.village_id,
                request=request,
            )
        send_data_changed(kind="care", years=[year], person_ids=[person.pk])
    return values
