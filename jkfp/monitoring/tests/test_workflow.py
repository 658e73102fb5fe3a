"""监测流程 Case workflow: every step, refusals with clear messages, roles, scope, deadlines, attachments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from jkfp.monitoring import selectors, services, workflow
from jkfp.monitoring.models import CaseStatus, CaseStep, MeasureKind, MonitoringCase, StepAttachment
from jkfp.monitoring.rules import DEFAULT_DEADLINES
from jkfp.monitoring.tests.factories import MonitorWorld, make_person, pay, tag
from jkfp.registry.models import Disease, DiseaseKind
from jkfp.treatment.models import CaseStatus as TreatmentStatus
from jkfp.treatment.models import MajorDiseaseCase

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


@pytest.fixture
def case(mw: MonitorWorld) -> MonitoringCase:
    """A case of a poor person of 第1镇1村 alerted ``today − 20 days`` by a real scan."""
    person = make_person(mw.county["t1v1"], "赵大")
    tag(person, "poor")
    today = timezone.localdate()
    pay(person, "6000.00", date(today.year, 1, 2), institution=mw.county["hospital"])
    services.alert_scan(as_of=today, today=today - timedelta(days=20))
    return MonitoringCase.objects.get(person=person)


def _step(user: Any, case: MonitoringCase, target: str, **kw: Any) -> CaseStep:
    kw.setdefault("done_on", timezone.localdate())
    return services.case_advance(user=user, case=case, target=target, **kw)


def test_a_case_walks_the_whole_workflow_and_keeps_who_when_and_notes(
    mw: MonitorWorld, case: MonitoringCase
) -> None:
    admin, t1, doctor = mw.users["admin"], mw.users["t1"], mw.users["doctor11"]
    _step(t1, case, CaseStatus.ASSIGNED, assignee=doctor)
    assert case.assignee_name == "一村村医"
    _step(doctor, case, CaseStatus.VERIFIED, note="入户核实：住院自付较多，家庭收入低")
    _step(t1, case, CaseStatus.PROPOSED, note="建议纳入监测")
    _step(admin, case, CaseStatus.IDENTIFIED, note="县级认定", external_reference="FPJC-2026-0001")
    services.health_measure_add(
        user=t1,
        case=case,
        kind=MeasureKind.AID,
        taken_on=timezone.localdate(),
        amount="1200.00",
        reference="救助-88",
    )
    _step(t1, case, CaseStatus.ASSISTED, note="落实医疗救助")
    _step(t1, case, CaseStatus.RISK_ELIMINATED, note="风险消除")

    case.refresh_from_db()
    assert case.status == CaseStatus.RISK_ELIMINATED
    assert case.external_reference == "FPJC-2026-0001"
    assert case.verified_on == timezone.localdate()
    assert case.due_on is None
    steps = list(case.steps.order_by("at", "id").values_list("from_status", "to_status", "username"))
    assert steps == [
        ("", "alerted", "system"),
        ("alerted", "assigned", t1.username),
        ("assigned", "verified", doctor.username),
        ("verified", "proposed", t1.username),
        ("proposed", "identified", admin.username),
        ("identified", "assisted", t1.username),
        ("assisted", "risk_eliminated", t1.username),
    ]


@pytest.mark.parametrize("outcome", [CaseStatus.NOT_AT_RISK, CaseStatus.ALREADY_MONITORED])
def test_verification_can_close_a_case(mw: MonitorWorld, case: MonitoringCase, outcome: str) -> None:
    t1 = mw.users["t1"]
    _step(t1, case, CaseStatus.ASSIGNED, assignee_name="王医生")
    _step(t1, case, CaseStatus.VERIFIED, note="已入户")
    _step(t1, case, outcome, note="核实结论")

    with pytest.raises(ValidationError) as exc:
        _step(t1, case, CaseStatus.PROPOSED, note="再提请")
    assert exc.value.message_dict == {"status": [services.ERR_CLOSED.format(current=workflow.label(outcome))]}


def test_an_illegal_transition_is_refused_with_the_states_named(
    mw: MonitorWorld, case: MonitoringCase
) -> None:
    with pytest.raises(ValidationError) as exc:
        _step(mw.users["admin"], case, CaseStatus.VERIFIED, note="跳过分派")

    expected = services.ERR_TRANSITION.format(current="已预警", target="已入户核实", allowed="已分派")
    assert exc.value.message_dict == {"status": [expected]}
    assert "已预警" in expected and "已入户核实" in expected
    case.refresh_from_db()
    assert case.status == CaseStatus.ALERTED
    assert case.steps.count() == 1


def test_each_step_demands_what_it_records(mw: MonitorWorld, case: MonitoringCase) -> None:
    admin = mw.users["admin"]
    with pytest.raises(ValidationError) as exc:
        _step(admin, case, CaseStatus.ASSIGNED)
    assert exc.value.message_dict == {"assignee_name": [services.ERR_ASSIGNEE]}
    _step(admin, case, CaseStatus.ASSIGNED, assignee_name="王医生")
    with pytest.raises(ValidationError) as exc:
        _step(admin, case, CaseStatus.VERIFIED)
    assert exc.value.message_dict == {"note": [services.ERR_NOTE_REQUIRED.format(what="入户核实情况")]}
    _step(admin, case, CaseStatus.VERIFIED, note="已入户")
    _step(admin, case, CaseStatus.PROPOSED, note="提请")
    with pytest.raises(ValidationError) as exc:
        _step(admin, case, CaseStatus.IDENTIFIED)
    assert exc.value.message_dict == {"external_reference": [services.ERR_EXTERNAL_REFERENCE]}
    _step(admin, case, CaseStatus.IDENTIFIED, external_reference="X-1")
    with pytest.raises(ValidationError) as exc:
        _step(admin, case, CaseStatus.ASSISTED)
    assert exc.value.message_dict == {"status": [services.ERR_MEASURE_MISSING]}
    with pytest.raises(ValidationError) as exc:
        _step(admin, case, CaseStatus.ASSISTED, done_on=timezone.localdate() + timedelta(days=1))
    assert exc.value.message_dict == {"done_on": [services.ERR_DONE_FUTURE]}


def test_a_step_cannot_be_dated_before_the_previous_one(mw: MonitorWorld, case: MonitoringCase) -> None:
    with pytest.raises(ValidationError) as exc:
        _step(
            mw.users["admin"],
            case,
            CaseStatus.ASSIGNED,
            assignee_name="甲",
            done_on=case.alerted_on - timedelta(days=1),
        )
    assert exc.value.message_dict == {
        "done_on": [services.ERR_DONE_BEFORE.format(previous=case.alerted_on.isoformat())]
    }


def test_roles_per_step(mw: MonitorWorld, case: MonitoringCase) -> None:
    doctor, t1, inspector = mw.users["doctor11"], mw.users["t1"], mw.users["inspector"]
    with pytest.raises(PermissionDenied) as exc:
        _step(doctor, case, CaseStatus.ASSIGNED, assignee_name="自己")
    assert str(exc.value) == services.ERR_ROLE_STEP.format(action="分派核实")
    with pytest.raises(PermissionDenied):
        _step(inspector, case, CaseStatus.ASSIGNED, assignee_name="甲")
    _step(t1, case, CaseStatus.ASSIGNED, assignee_name="甲")
    _step(doctor, case, CaseStatus.VERIFIED, note="村医入户")
    _step(t1, case, CaseStatus.PROPOSED, note="提请")
    with pytest.raises(PermissionDenied) as exc:
        _step(t1, case, CaseStatus.IDENTIFIED, external_reference="X")
    assert str(exc.value) == services.ERR_ROLE_STEP.format(action="登记认定结果")


def test_another_township_can_neither_see_nor_change_the_case(mw: MonitorWorld, case: MonitoringCase) -> None:
    t2 = mw.users["t2"]
    with pytest.raises(Http404):
        selectors.case_get(user=t2, pk=case.pk)
    assert not selectors.cases(user=t2).exists()
    with pytest.raises(PermissionDenied):
        _step(t2, case, CaseStatus.ASSIGNED, assignee_name="甲")
    assert selectors.cases(user=mw.users["t1"]).get() == case


def test_assignee_must_see_the_person(mw: MonitorWorld, case: MonitoringCase, make_user: Any) -> None:
    from jkfp.accounts.models import Role

    other_doctor = make_user(Role.VILLAGE_DOCTOR, "421321002001")
    with pytest.raises(ValidationError) as exc:
        _step(mw.users["t1"], case, CaseStatus.ASSIGNED, assignee=other_doctor)
    assert exc.value.message_dict == {"assignee": [services.ERR_ASSIGNEE_SCOPE]}
    assert [pk for pk, _ in selectors.assignee_choices(case=case)] == sorted(
        [mw.users["t1"].pk, mw.users["doctor11"].pk], key=lambda pk: 0 if pk == mw.users["t1"].pk else 1
    )


def test_deadlines_follow_the_steps_and_overdue_cases_are_found(
    mw: MonitorWorld, case: MonitoringCase
) -> None:
    today = timezone.localdate()
    alerted_on = today - timedelta(days=20)
    assert case.alerted_on == alerted_on
    assert case.due_on == alerted_on + timedelta(days=DEFAULT_DEADLINES["assign_within_days"])
    assert list(selectors.cases(user=mw.users["t1"], overdue=True)) == [case]

    _step(mw.users["t1"], case, CaseStatus.ASSIGNED, assignee_name="甲")
    case.refresh_from_db()
    assert case.due_on == alerted_on + timedelta(days=DEFAULT_DEADLINES["verify_within_days"])
    assert list(selectors.cases(user=mw.users["t1"], overdue=True)) == [case]

    services.monitoring_parameter_set(
        user=mw.users["admin"],
        county=mw.county["county"],
        year=case.year,
        verify_within_days=10,
        decide_within_days=2,
    )
    _step(mw.users["t1"], case, CaseStatus.VERIFIED, note="已入户")
    case.refresh_from_db()
    assert case.due_on == today + timedelta(days=2)
    assert not selectors.cases(user=mw.users["t1"], overdue=True).exists()


def test_alert_handling_rate_counts_alerts_verified_within_the_deadline(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    today = timezone.localdate()
    persons = []
    for i, name in enumerate(("及时", "超期", "未核实")):
        person = make_person(mw.county["t1v1"] if i < 2 else mw.county["t2v1"], name)
        tag(person, "dibao")
        pay(person, "5000.00", date(today.year, 1, 3), institution=hosp)
        persons.append(person)
    alerted_on = today - timedelta(days=30)
    services.alert_scan(as_of=today, today=alerted_on)
    admin = mw.users["admin"]
    for person, visit in (
        (persons[0], alerted_on + timedelta(days=15)),
        (persons[1], alerted_on + timedelta(days=16)),
    ):
        case = MonitoringCase.objects.get(person=person)
        _step(admin, case, CaseStatus.ASSIGNED, assignee_name="甲", done_on=alerted_on + timedelta(days=1))
        _step(admin, case, CaseStatus.VERIFIED, note="已入户", done_on=visit)

    data = selectors.alert_handling(user=admin, year=today.year)
    assert (data.numerator, data.denominator) == (1, 3)
    assert list(data.numerator_persons) == [persons[0]]
    assert set(data.denominator_persons) == set(persons)
    assert data.rate == Decimal(1) / Decimal(3)

    township = selectors.alert_handling(user=admin, year=today.year, region=mw.county["t2"])
    assert (township.numerator, township.denominator) == (0, 1)
    scoped = selectors.alert_handling(user=mw.users["t2"], year=today.year, region=mw.county["county"])
    assert list(scoped.denominator_persons) == [persons[2]]
    assert selectors.alert_handling(user=admin, year=today.year - 1).rate is None


def test_attachments_are_stored_type_checked_and_size_limited(
    mw: MonitorWorld, case: MonitoringCase, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    settings.MONITORING_ATTACHMENT_MAX_BYTES = 1024
    t1 = mw.users["t1"]
    _step(t1, case, CaseStatus.ASSIGNED, assignee_name="甲")

    fake = SimpleUploadedFile("photo.png", b"MZ\x90\x00not a png", content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        _step(t1, case, CaseStatus.VERIFIED, note="入户", attachments=[fake])
    assert exc.value.message_dict == {"attachments": [services.ERR_ATTACHMENT_TYPE.format(name="photo.png")]}
    big = SimpleUploadedFile("big.pdf", PDF + b"x" * 2000, content_type="application/pdf")
    with pytest.raises(ValidationError) as exc:
        _step(t1, case, CaseStatus.VERIFIED, note="入户", attachments=[big])
    assert exc.value.message_dict == {
        "attachments": [services.ERR_ATTACHMENT_SIZE.format(name="big.pdf", limit_mb=0)]
    }
    exe = SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")
    with pytest.raises(ValidationError):
        _step(t1, case, CaseStatus.VERIFIED, note="入户", attachments=[exe])
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    assert not StepAttachment.objects.exists()
    assert not (tmp_path / services.ATTACHMENT_DIR).exists()

    photo = SimpleUploadedFile("入户照片.PNG", PNG, content_type="image/png")
    scan = SimpleUploadedFile("核实表.pdf", PDF, content_type="application/pdf")
    step = _step(t1, case, CaseStatus.VERIFIED, note="入户", attachments=[photo, scan])

    stored = list(step.attachments.order_by("id"))
    assert [(a.original_name, a.content_type, a.size_bytes) for a in stored] == [
        ("入户照片.PNG", "image/png", len(PNG)),
        ("核实表.pdf", "application/pdf", len(PDF)),
    ]
    for attachment, content in zip(stored, (PNG, PDF), strict=True):
        path = tmp_path / attachment.stored_path
        assert path.read_bytes() == content
        assert path.is_relative_to(tmp_path / services.ATTACHMENT_DIR)
        assert "入户" not in path.name  # the uploaded name never reaches the disk
    assert selectors.attachment_get(user=t1, pk=stored[0].pk) == stored[0]
    with pytest.raises(Http404):
        selectors.attachment_get(user=mw.users["t2"], pk=stored[0].pk)


def test_health_measures_link_the_persons_own_records(mw: MonitorWorld, case: MonitoringCase) -> None:
    admin = mw.users["admin"]
    today = timezone.localdate()
    with pytest.raises(ValidationError) as exc:
        services.health_measure_add(user=admin, case=case, kind=MeasureKind.AID, taken_on=today)
    assert exc.value.message_dict == {"kind": [services.ERR_MEASURE_STATE.format(current="已预警")]}
    _step(admin, case, CaseStatus.ASSIGNED, assignee_name="甲")
    _step(admin, case, CaseStatus.VERIFIED, note="入户")
    _step(admin, case, CaseStatus.PROPOSED, note="提请")
    _step(admin, case, CaseStatus.IDENTIFIED, external_reference="R-1")

    disease = Disease.objects.create(name="肝癌", kind=DiseaseKind.MAJOR)
    own = MajorDiseaseCase.objects.create(
        person=case.person,
        disease=disease,
        diagnosed_on=date(today.year, 1, 1),
        status=TreatmentStatus.TREATED,
    )
    stranger = make_person(mw.county["t1v1"], "旁人")
    theirs = MajorDiseaseCase.objects.create(
        person=stranger, disease=disease, diagnosed_on=date(today.year, 1, 1), status=TreatmentStatus.TREATED
    )
    with pytest.raises(ValidationError) as exc:
        services.health_measure_add(
            user=admin, case=case, kind=MeasureKind.TREATMENT, taken_on=today, treatment_case=theirs
        )
    assert exc.value.message_dict == {"treatment_case": [services.ERR_MEASURE_TREATMENT]}
    with pytest.raises(ValidationError) as exc:
        services.health_measure_add(user=admin, case=case, kind=MeasureKind.CONTRACT, taken_on=today)
    assert exc.value.message_dict == {"contract": [services.ERR_MEASURE_CONTRACT]}
    with pytest.raises(ValidationError) as exc:
        services.health_measure_add(user=admin, case=case, kind=MeasureKind.AID, taken_on=today, amount="-1")
    assert exc.value.message_dict == {"amount": [services.ERR_MEASURE_AMOUNT]}
    with pytest.raises(PermissionDenied):
        services.health_measure_add(
            user=mw.users["doctor11"], case=case, kind=MeasureKind.AID, taken_on=today
        )

    measure = services.health_measure_add(
        user=admin, case=case, kind=MeasureKind.TREATMENT, taken_on=today, treatment_case=own
    )
    assert (measure.treatment_case_id, measure.contract_id, measure.admission_id) == (own.pk, None, None)
    assert selectors.measure_options(case=case).treatment_cases == [
        (own.pk, f"肝癌（确诊 {own.diagnosed_on:%Y-%m-%d}，已救治）")
    ]
