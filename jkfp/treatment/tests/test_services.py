"""大病救治写操作 Services: roles, scope, the untreated-reason rule (service and database), referrals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from jkfp.treatment import services
from jkfp.treatment.models import (
    CaseFollowUp,
    DesignatedHospital,
    MajorDiseaseCase,
    Referral,
    ReferralStatus,
)
from jkfp.treatment.selectors import referral_flag
from jkfp.treatment.tests.factories import make_person

pytestmark = pytest.mark.django_db


def _create(tw: Any, county: Any, **extra: Any) -> MajorDiseaseCase:
    values: dict[str, Any] = {
        "user": tw.users["t1"],
        "person": tw.persons["zhang"],
        "disease": tw.diseases["肺癌"],
        "diagnosed_on": date(2024, 5, 2),
        "status": "in_treatment",
        "diagnosis_institution": county["hospital"],
    }
    values.update(extra)
    return services.treatment_case_create(**values)


def test_case_create_records_the_case_and_the_hospital_name(tw: Any, county: Any) -> None:
    case = _create(tw, county)
    case.refresh_from_db()
    assert (case.person, case.disease, case.status) == (
        tw.persons["zhang"],
        tw.diseases["肺癌"],
        "in_treatment",
    )
    assert case.diagnosis_hospital_name == "随县人民医院"
    assert case.created_by == tw.users["t1"]
    assert case.untreated_reason == "" and case.reason_note == ""


def test_case_create_takes_the_only_designated_hospital_of_the_disease(tw: Any, county: Any) -> None:
    services.designated_hospital_set(
        user=tw.users["admin"],
        disease=tw.diseases["肺癌"],
        institution=county["hospital"],
        valid_from=date(2020, 1, 1),
    )
    assert _create(tw, county).designated_institution == county["hospital"]


def test_case_create_leaves_designated_empty_when_two_hospitals_are_designated(tw: Any, county: Any) -> None:
    for inst in (county["hospital"], county["clinic"]):
        services.designated_hospital_set(
            user=tw.users["admin"], disease=tw.diseases["肺癌"], institution=inst, valid_from=date(2020, 1, 1)
        )
    assert _create(tw, county).designated_institution is None


def test_case_create_refuses_untreated_without_a_reason_naming_the_field(tw: Any, county: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        _create(tw, county, status="untreated")
    assert exc.value.message_dict == {"untreated_reason": [services.ERR_UNTREATED_REASON]}
    assert "未救治原因" in services.ERR_UNTREATED_REASON
    assert not MajorDiseaseCase.objects.filter(
        disease=tw.diseases["肺癌"], person=tw.persons["zhang"]
    ).exists()


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"diagnosed_on": date(2999, 1, 1)}, "diagnosed_on", services.ERR_DIAGNOSED_FUTURE),
        ({"diagnosed_on": date(1950, 1, 1)}, "diagnosed_on", services.ERR_DIAGNOSED_BEFORE_BIRTH),
        ({"status": "cured"}, "status", services.ERR_STATUS),
        (
            {"status": "untreated", "untreated_reason": "bored"},
            "untreated_reason",
            services.ERR_REASON_UNKNOWN,
        ),
        ({"status": "untreated", "untreated_reason": "other"}, "reason_note", services.ERR_REASON_OTHER_NOTE),
        (
            {"status": "untreated", "untreated_reason": "refused", "reason_note": "x" * 301},
            "reason_note",
            services.ERR_NOTE_LENGTH,
        ),
    ],
)
def test_case_create_validation(
    tw: Any, county: Any, extra: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _create(tw, county, **extra)
    assert exc.value.message_dict[field] == [message]


def test_case_create_refuses_a_chronic_disease_and_a_second_case_of_the_same_disease(
    tw: Any, county: Any
) -> None:
    from jkfp.registry.models import Disease

    with pytest.raises(ValidationError) as exc:
        _create(tw, county, disease=Disease.objects.get(name="高血压"))
    assert exc.value.message_dict["disease"] == [services.ERR_DISEASE_NOT_MAJOR.format(name="高血压")]
    with pytest.raises(ValidationError) as exc:
        _create(tw, county, disease=tw.diseases["终末期肾病"])
    assert exc.value.message_dict["disease"] == [services.ERR_CASE_EXISTS]


def test_roles_and_scope_of_case_create(tw: Any, county: Any) -> None:
    for key in ("inspector", "doctor", "hospital"):
        with pytest.raises(PermissionDenied):
            _create(tw, county, user=tw.users[key])
    # A township-2 user cannot register a township-1 person.
    with pytest.raises(PermissionDenied):
        _create(tw, county, user=tw.users["t2"])
    assert _create(tw, county, user=tw.users["admin"]).pk


def test_status_set_untreated_requires_a_reason_and_other_statuses_clear_it(tw: Any) -> None:
    case = tw.cases["wang"]
    with pytest.raises(ValidationError) as exc:
        services.case_status_set(user=tw.users["t1"], case=case, status="untreated")
    assert exc.value.message_dict == {"untreated_reason": [services.ERR_UNTREATED_REASON]}
    case.refresh_from_db()
    assert case.status == "treated"
    services.case_status_set(
        user=tw.users["t1"],
        case=case,
        status="untreated",
        untreated_reason="awaiting_elective_surgery",
        reason_note="排期中",
    )
    case.refresh_from_db()
    assert (case.status, case.untreated_reason, case.reason_note) == (
        "untreated",
        "awaiting_elective_surgery",
        "排期中",
    )
    assert case.reason_text == "等待择期手术：排期中"
    services.case_status_set(user=tw.users["t1"], case=case, status="treated", untreated_reason="refused")
    case.refresh_from_db()
    assert (case.status, case.untreated_reason, case.reason_note) == ("treated", "", "")


def test_status_set_roles_and_scope(tw: Any) -> None:
    for key in ("inspector", "doctor", "t2"):
        with pytest.raises(PermissionDenied):
            services.case_status_set(user=tw.users[key], case=tw.cases["wang"], status="in_treatment")
    assert MajorDiseaseCase.objects.get(pk=tw.cases["wang"].pk).status == "treated"


@pytest.mark.parametrize(
    "values",
    [
        {"status": "untreated", "untreated_reason": ""},
        {"status": "treated", "untreated_reason": "refused"},
        {"status": "healed", "untreated_reason": ""},
    ],
)
def test_database_refuses_what_the_service_refuses(tw: Any, values: dict[str, str]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MajorDiseaseCase.objects.filter(pk=tw.cases["wang"].pk).update(**values)


def test_followups_by_village_doctor_in_own_village_only(tw: Any) -> None:
    doctor = tw.users["doctor"]
    visit = services.case_followup_add(
        user=doctor, case=tw.cases["zhang"], visited_on=date(2024, 4, 1), note="透析规律，情况稳定"
    )
    assert CaseFollowUp.objects.get(pk=visit.pk).user == doctor
    with pytest.raises(PermissionDenied):  # 第1镇2村 is not the doctor's village
        services.case_followup_add(user=doctor, case=tw.cases["wang"], visited_on=date(2024, 4, 1), note="x")
    with pytest.raises(PermissionDenied):
        services.case_followup_add(
            user=tw.users["inspector"], case=tw.cases["zhang"], visited_on=date(2024, 4, 1), note="x"
        )


@pytest.mark.parametrize(
    ("visited_on", "note", "field", "message"),
    [
        (date(2024, 4, 1), "  ", "note", services.ERR_VISIT_NOTE),
        (date(2024, 2, 1), "早于确诊", "visited_on", services.ERR_VISIT_BEFORE_DIAGNOSIS),
        (None, "将来", "visited_on", services.ERR_VISIT_FUTURE),
    ],
)
def test_followup_validation(tw: Any, visited_on: date | None, note: str, field: str, message: str) -> None:
    day = visited_on or timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        services.case_followup_add(user=tw.users["t1"], case=tw.cases["zhang"], visited_on=day, note=note)
    assert exc.value.message_dict[field] == [message]


def _referral(tw: Any, county: Any, **extra: Any) -> Referral:
    values: dict[str, Any] = {
        "user": tw.users["t1"],
        "person": tw.persons["zhang"],
        "from_institution": county["clinic"],
        "to_institution": county["hospital"],
        "referred_on": date(2024, 5, 1),
        "reason": "需上级医院透析",
        "case": tw.cases["zhang"],
    }
    values.update(extra)
    return services.referral_create(**values)


def test_referral_create_approve_and_flag(tw: Any, county: Any) -> None:
    referral = _referral(tw, county)
    assert referral.status == ReferralStatus.PENDING and referral.created_by == tw.users["t1"]
    person_id = tw.persons["zhang"].pk
    assert not referral_flag(person_id=person_id, institution_code="H001", admitted_on=date(2024, 5, 3))
    services.referral_approve(user=tw.users["admin"], referral=referral, note="同意")
    referral.refresh_from_db()
    assert (referral.status, referral.approved_by, referral.decision_note) == (
        "approved",
        tw.users["admin"],
        "同意",
    )
    assert referral.approved_at is not None
    assert referral_flag(person_id=person_id, institution_code="H001", admitted_on=date(2024, 5, 3))
    # Not for an admission before the referral, long after it, or at another institution.
    assert not referral_flag(person_id=person_id, institution_code="H001", admitted_on=date(2024, 4, 30))
    assert not referral_flag(person_id=person_id, institution_code="H001", admitted_on=date(2024, 9, 1))
    assert not referral_flag(person_id=person_id, institution_code="H002", admitted_on=date(2024, 5, 3))
    with pytest.raises(ValidationError) as exc:
        services.referral_approve(user=tw.users["admin"], referral=referral, approve=False)
    assert exc.value.message_dict["status"] == [services.ERR_REFERRAL_DECIDED]


def test_referral_reject(tw: Any, county: Any) -> None:
    referral = services.referral_approve(user=tw.users["t1"], referral=_referral(tw, county), approve=False)
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.REJECTED
    assert not referral_flag(
        person_id=tw.persons["zhang"].pk, institution_code="H001", admitted_on=date(2024, 5, 3)
    )


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"to_institution": None}, "to_institution", services.ERR_REFERRAL_SAME),
        ({"referred_on": date(2999, 1, 1)}, "referred_on", services.ERR_REFERRAL_FUTURE),
        ({"reason": " "}, "reason", services.ERR_REFERRAL_REASON),
        ({"case": "wang"}, "case", services.ERR_REFERRAL_CASE),
    ],
)
def test_referral_validation(tw: Any, county: Any, extra: dict[str, Any], field: str, message: str) -> None:
    if "to_institution" in extra:
        extra["to_institution"] = county["clinic"]
    if "case" in extra:
        extra["case"] = tw.cases["wang"]
    with pytest.raises(ValidationError) as exc:
        _referral(tw, county, **extra)
    assert exc.value.message_dict[field] == [message]


def test_referral_roles_and_scope(tw: Any, county: Any) -> None:
    for key in ("inspector", "doctor", "t2"):
        with pytest.raises(PermissionDenied):
            _referral(tw, county, user=tw.users[key])
    referral = _referral(tw, county)
    for key in ("inspector", "doctor", "t2"):
        with pytest.raises(PermissionDenied):
            services.referral_approve(user=tw.users[key], referral=referral)
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.PENDING


def test_database_refuses_a_referral_to_the_same_institution(tw: Any, county: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            person=tw.persons["zhang"],
            from_institution=county["hospital"],
            to_institution=county["hospital"],
            referred_on=date(2024, 1, 1),
            reason="x",
        )


def test_designated_hospital_set_is_idempotent_and_checked(tw: Any, county: Any) -> None:
    admin, disease = tw.users["admin"], tw.diseases["白内障"]
    first = services.designated_hospital_set(
        user=admin, disease=disease, institution=county["hospital"], valid_from=date(2020, 1, 1)
    )
    again = services.designated_hospital_set(
        user=admin,
        disease=disease,
        institution=county["hospital"],
        valid_from=date(2020, 1, 1),
        valid_to=date(2025, 12, 31),
    )
    assert first.pk == again.pk and DesignatedHospital.objects.get(pk=first.pk).valid_to == date(2025, 12, 31)
    assert services.designated_default(disease_id=disease.pk, on=date(2024, 1, 1)) == county["hospital"]
    assert services.designated_default(disease_id=disease.pk, on=date(2026, 1, 1)) is None
    with pytest.raises(ValidationError):
        services.designated_hospital_set(
            user=admin,
            disease=disease,
            institution=county["hospital"],
            valid_from=date(2021, 1, 1),
            valid_to=date(2020, 1, 1),
        )
    with pytest.raises(PermissionDenied):
        services.designated_hospital_set(
            user=tw.users["t1"], disease=disease, institution=county["hospital"], valid_from=date(2020, 1, 1)
        )


def test_a_person_outside_every_scope_is_refused(tw: Any, county: Any) -> None:
    stranger = make_person(county["t2v2"], "孙七", 9)
    with pytest.raises(PermissionDenied):
        _create(tw, county, person=stranger)
