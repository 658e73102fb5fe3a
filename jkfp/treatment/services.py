"""大病救治写操作 Treatment services: every write of cases, follow-ups, referrals and designations.

Who may do what (domain.md §2): the county administrator and township health centres edit cases and
referrals; village doctors add follow-up visits in their own villages; inspectors only read. Every
function checks the role and that the person lies in the user's region (``PermissionDenied``);
views fetch the objects through the scoped selectors first, so a guessed URL is a 404 before that.
Validation errors are ``ValidationError({field: Chinese message})``; the messages are constants the
tests import.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import role_require, scope_require
from jkfp.core.signals import send_data_changed
from jkfp.regions.models import Institution, Region
from jkfp.registry.disease_catalogue import in_catalogue
from jkfp.registry.models import Disease, DiseaseKind, Person
from jkfp.registry.selectors import village_on
from jkfp.treatment import history
from jkfp.treatment.models import (
    CaseFollowUp,
    CaseStatus,
    DesignatedHospital,
    MajorDiseaseCase,
    Referral,
    ReferralStatus,
    UntreatedReason,
)

EDIT_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
FOLLOWUP_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP, Role.VILLAGE_DOCTOR})
DESIGNATION_ROLES = frozenset({Role.COUNTY_ADMIN})

ERR_ROLE_EDIT = "只有县卫健局管理员和乡镇卫生院可以登记或修改大病救治和转诊"
ERR_ROLE_FOLLOWUP = "只有县卫健局管理员、乡镇卫生院和村医可以登记回访"
ERR_ROLE_DESIGNATION = "只有县卫健局管理员可以设置定点医院"
ERR_STATUS = "救治状态无效，应为：已救治、救治中、未救治、无需救治"
ERR_UNTREATED_REASON = "救治状态为“未救治”时，必须填写“未救治原因”"
ERR_REASON_UNKNOWN = "未救治原因无效，应为：" + "、".join(str(label) for label in UntreatedReason.labels)
ERR_REASON_OTHER_NOTE = "未救治原因为“其他”时，请在“原因说明”中写明原因"
ERR_NOTE_LENGTH = "原因说明不能超过300字"
ERR_DISEASE_NOT_MAJOR = "病种“{name}”不在大病专项救治目录中"
ERR_DISEASE_NOT_IN_CATALOGUE = "病种“{name}”在{day}不在{county}的大病专项救治目录中"
ERR_DIAGNOSED_FUTURE = "确诊日期不能晚于今天"
ERR_DIAGNOSED_BEFORE_BIRTH = "确诊日期不能早于出生日期"
ERR_CASE_EXISTS = "此人已登记该病种的大病救治，请在原记录上修改"
ERR_VISIT_FUTURE = "回访日期不能晚于今天"
ERR_VISIT_BEFORE_DIAGNOSIS = "回访日期不能早于确诊日期"
ERR_VISIT_NOTE = "请填写回访情况（不超过500字）"
ERR_REFERRAL_SAME = "转出机构和转入机构不能相同"
ERR_REFERRAL_FUTURE = "转诊日期不能晚于今天"
ERR_REFERRAL_REASON = "请填写转诊原因（不超过300字）"
ERR_REFERRAL_CASE = "所选大病救治记录不属于该人员"
ERR_REFERRAL_DECIDED = "该转诊已审批，不能重复审批"
ERR_DECISION_NOTE = "审批意见不能超过300字"
ERR_DESIGNATION_RANGE = "终止日期不能早于起始日期"


def _clean_reason(status: str, untreated_reason: str, reason_note: str) -> tuple[str, str]:
    """(reason, note) for ``status``: required for untreated (domain.md §7), cleared otherwise."""
    if status not in CaseStatus.values:
        raise ValidationError({"status": ERR_STATUS})
    untreated_reason = (untreated_reason or "").strip()
    reason_note = (reason_note or "").strip()
    if status != CaseStatus.UNTREATED:
        return "", ""
    if not untreated_reason:
        raise ValidationError({"untreated_reason": ERR_UNTREATED_REASON})
    if untreated_reason not in UntreatedReason.values:
        raise ValidationError({"untreated_reason": ERR_REASON_UNKNOWN})
    if len(reason_note) > 300:
        raise ValidationError({"reason_note": ERR_NOTE_LENGTH})
    if untreated_reason == UntreatedReason.OTHER and not reason_note:
        raise ValidationError({"reason_note": ERR_REASON_OTHER_NOTE})
    return untreated_reason, reason_note


def treatment_case_create(
    *,
    user: Any,
    person: Person,
    disease: Disease,
    diagnosed_on: date,
    status: str,
    diagnosis_institution: Institution | None = None,
    diagnosis_hospital_name: str = "",
    designated_institution: Institution | None = None,
    untreated_reason: str = "",
    reason_note: str = "",
    source: str = history.SOURCE_PAGE,
) -> MajorDiseaseCase:
    """登记大病救治 Register a major-disease case of a person in the user's region.

    Without a designated hospital, the one designated for the disease on the diagnosis date is
    used when there is exactly one.
    """
    role_require(user, EDIT_ROLES, ERR_ROLE_EDIT)
    scope_require(user, person.village_id)
    if disease.kind != DiseaseKind.MAJOR:
        raise ValidationError({"disease": ERR_DISEASE_NOT_MAJOR.format(name=disease.name)})
    if diagnosed_on > timezone.localdate():
        raise ValidationError({"diagnosed_on": ERR_DIAGNOSED_FUTURE})
    if diagnosed_on < person.birth_date:
        raise ValidationError({"diagnosed_on": ERR_DIAGNOSED_BEFORE_BIRTH})
    # The catalogue of the county the person lived in on the diagnosis date (as a claim's county).
    county = village_on(person=person, on=diagnosed_on)[:6]
    if not in_catalogue(disease.pk, county, diagnosed_on):
        raise ValidationError(
            {"disease": catalogue_refusal(disease.name, county_label(county), diagnosed_on)}
        )
    reason, note = _clean_reason(status, untreated_reason, reason_note)
    if MajorDiseaseCase.objects.filter(person=person, disease=disease).exists():
        raise ValidationError({"disease": ERR_CASE_EXISTS})
    if designated_institution is None:
        designated_institution = designated_default(disease_id=disease.pk, on=diagnosed_on)
    case = MajorDiseaseCase(
        person=person,
        disease=disease,
        diagnosed_on=diagnosed_on,
        diagnosis_institution=diagnosis_institution,
        diagnosis_hospital_name=(
            diagnosis_hospital_name.strip() or (diagnosis_institution.name if diagnosis_institution else "")
        )[:200],
        designated_institution=designated_institution,
        status=status,
        untreated_reason=reason,
        reason_note=note,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    case.full_clean(validate_constraints=False)
    with transaction.atomic():
        case.save()
        _history(case, None, user, source)
        send_data_changed(kind="treatment", years=range(diagnosed_on.year, timezone.localdate().year + 1))
    return case


def county_label(county: str) -> str:
    """县名 ``名称（代码）`` of a county code, or the code when the region tree lacks it."""
    region = Region.objects.filter(code=county).first()
    return str(region) if region is not None else county


def catalogue_refusal(name: str, county: str, day: date) -> str:
    """The refusal of a disease outside the county's catalogue on the diagnosis day (``registry.disease_catalogue``)."""
    return ERR_DISEASE_NOT_IN_CATALOGUE.format(name=name, day=day.isoformat(), county=county)


def _history(case: MajorDiseaseCase, old: dict[str, Any] | None, user: Any, source: str) -> None:
    """Record the case's change (or its creation when ``old`` is None) in its history."""
    history.changes_insert(
        history.diff_rows(
            case_id=case.pk,
            old=old,
            new=history.values_of(case),
            source=source,
            user_id=user.pk if getattr(user, "is_authenticated", False) else None,
            at=timezone.now(),
        )
    )


def case_status_set(
    *,
    user: Any,
    case: MajorDiseaseCase,
    status: str,
    untreated_reason: str = "",
    reason_note: str = "",
    source: str = history.SOURCE_PAGE,
) -> MajorDiseaseCase:
    """设置救治状态 Change a case's status; ``untreated`` requires a reason code (domain.md §7).

    The change is recorded in the case's history (nothing is recorded when nothing changed).
    """
    role_require(user, EDIT_ROLES, ERR_ROLE_EDIT)
    scope_require(user, case.person.village_id)
    reason, note = _clean_reason(status, untreated_reason, reason_note)
    old = history.values_of(case)
    case.status, case.untreated_reason, case.reason_note = status, reason, note
    with transaction.atomic():
        case.save(update_fields=["status", "untreated_reason", "reason_note", "updated_at"])
        _history(case, old, user, source)
        send_data_changed(
            kind="treatment", years=range(case.diagnosed_on.year, timezone.localdate().year + 1)
        )
    return case


def case_followup_add(*, user: Any, case: MajorDiseaseCase, visited_on: date, note: str) -> CaseFollowUp:
    """登记回访 Record a follow-up visit after discharge (village doctors in their own villages too)."""
    role_require(user, FOLLOWUP_ROLES, ERR_ROLE_FOLLOWUP)
    scope_require(user, case.person.village_id)
    note = (note or "").strip()
    if not note or len(note) > 500:
        raise ValidationError({"note": ERR_VISIT_NOTE})
    if visited_on > timezone.localdate():
        raise ValidationError({"visited_on": ERR_VISIT_FUTURE})
    if visited_on < case.diagnosed_on:
        raise ValidationError({"visited_on": ERR_VISIT_BEFORE_DIAGNOSIS})
    return CaseFollowUp.objects.create(case=case, visited_on=visited_on, note=note, user=user)


def referral_create(
    *,
    user: Any,
    person: Person,
    from_institution: Institution,
    to_institution: Institution,
    referred_on: date,
    reason: str,
    case: MajorDiseaseCase | None = None,
) -> Referral:
    """转诊备案 Record a referral of a person in the user's region; it starts as pending approval."""
    role_require(user, EDIT_ROLES, ERR_ROLE_EDIT)
    scope_require(user, person.village_id)
    reason = (reason or "").strip()
    if from_institution.pk == to_institution.pk:
        raise ValidationError({"to_institution": ERR_REFERRAL_SAME})
    if referred_on > timezone.localdate():
        raise ValidationError({"referred_on": ERR_REFERRAL_FUTURE})
    if not reason or len(reason) > 300:
        raise ValidationError({"reason": ERR_REFERRAL_REASON})
    if case is not None and case.person_id != person.pk:
        raise ValidationError({"case": ERR_REFERRAL_CASE})
    return Referral.objects.create(
        person=person,
        case=case,
        from_institution=from_institution,
        to_institution=to_institution,
        referred_on=referred_on,
        reason=reason,
        created_by=user,
    )


def referral_approve(*, user: Any, referral: Referral, approve: bool = True, note: str = "") -> Referral:
    """审批转诊 Approve (or reject, ``approve=False``) a pending referral."""
    role_require(user, EDIT_ROLES, ERR_ROLE_EDIT)
    scope_require(user, referral.person.village_id)
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError({"decision_note": ERR_DECISION_NOTE})
    with transaction.atomic():
        # The row lock makes two simultaneous decisions on one referral impossible.
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if locked.status != ReferralStatus.PENDING:
            raise ValidationError({"status": ERR_REFERRAL_DECIDED})
        referral.status = ReferralStatus.APPROVED if approve else ReferralStatus.REJECTED
        referral.decision_note = note
        referral.approved_by = user
        referral.approved_at = timezone.now()
        referral.save(update_fields=["status", "decision_note", "approved_by", "approved_at"])
    return referral


def designated_default(*, disease_id: int, on: date) -> Institution | None:
    """默认定点医院 The institution designated for the disease on ``on`` when there is exactly one."""
    rows = list(
        DesignatedHospital.objects.filter(disease_id=disease_id, valid_from__lte=on)
        .exclude(valid_to__lt=on)
        .select_related("institution")[:2]
    )
    return rows[0].institution if len(rows) == 1 else None


def designated_hospital_set(
    *,
    user: Any,
    disease: Disease,
    institution: Institution,
    valid_from: date,
    valid_to: date | None = None,
) -> DesignatedHospital:
    """设置定点医院 Designate an institution for a major disease from ``valid_from`` (to ``valid_to``).

    The same disease, institution and start date again updates the end date (idempotent).
    """
    role_require(user, DESIGNATION_ROLES, ERR_ROLE_DESIGNATION)
    if disease.kind != DiseaseKind.MAJOR:
        raise ValidationError({"disease": ERR_DISEASE_NOT_MAJOR.format(name=disease.name)})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": ERR_DESIGNATION_RANGE})
    designation, _ = DesignatedHospital.objects.update_or_create(
        disease=disease, institution=institution, valid_from=valid_from, defaults={"valid_to": valid_to}
    )
    return designation
