"""作废 Voiding a mistaken visit, check, delivery or card (services.care_entry_void).

The entry is deleted, every value (and the reason) is in the audit log, a voided visit leaves the
schedules exactly as if it had never been recorded, and ``data_changed`` is sent once on commit.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.care import services
from jkfp.care.models import Checkup, ChronicCard, DrugDelivery, FollowUp, FollowUpItem, Schedule
from jkfp.care.tests.conftest import TODAY, CareWorld

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _visit(w: CareWorld, person: str = "zhang", days_ago: int = 30, **kw: Any) -> FollowUp:
    diseases = kw.pop("diseases", ["高血压"])
    return services.followup_record(
        user=w.users["doctor"],
        person=w.persons[person],
        visited_on=TODAY - days_ago * DAY,
        kind=kw.pop("kind", "home"),
        disease_ids=[w.diseases[d].pk for d in diseases],
        **kw,
    )


def _checkup(w: CareWorld) -> Checkup:
    return services.checkup_record(
        user=w.users["doctor"],
        person=w.persons["zhang"],
        checked_on=TODAY - 10 * DAY,
        items={"血压（mmHg）": "132/84", "心电图": "正常"},
        conclusion="血压偏高",
    )


def _delivery(w: CareWorld) -> DrugDelivery:
    return services.drug_delivery_record(
        user=w.users["doctor"],
        person=w.persons["zhang"],
        delivered_on=TODAY - 5 * DAY,
        drugs="硝苯地平缓释片 30mg×60片",
        supply_days=60,
    )


def _card(w: CareWorld) -> ChronicCard:
    return services.chronic_card_issue(
        user=w.users["t1"],
        person=w.persons["zhang"],
        disease=w.diseases["高血压"],
        certified_on=TODAY - 20 * DAY,
        valid_to=TODAY + 300 * DAY,
        institution=w.county["clinic"],
        card_no="MB-001",
    )


# kind → (make the entry, who records and voids it)
KINDS: dict[str, tuple[Callable[[CareWorld], Any], str]] = {
    "followup": (lambda w: _visit(w, systolic=150, diastolic=95, medication="硝苯地平"), "doctor"),
    "checkup": (_checkup, "doctor"),
    "drug_delivery": (_delivery, "doctor"),
    "chronic_card": (_card, "t1"),
}


def _audit_values(object_type: str, pk: int) -> dict[str, Any]:
    details = list(
        AuditEvent.objects.filter(
            action=AuditAction.CHANGE, object_type=object_type, object_id=str(pk)
        ).values_list("detail", flat=True)
    )
    assert details, "no audit event"
    assert all(len(d) <= services.AUDIT_DETAIL_MAX for d in details)
    return services.void_audit_values(details)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_void_deletes_the_entry_and_audits_every_value(cw: CareWorld, kind: str) -> None:
    make, who = KINDS[kind]
    entry = make(cw)
    model, pk = type(entry), entry.pk
    fields = {f.attname: services._json_value(getattr(entry, f.attname)) for f in model._meta.concrete_fields}
    values = services.care_entry_void(user=cw.users[who], entry=entry, reason="录入错误，重新登记")
    assert not model.objects.filter(pk=pk).exists()
    audited = _audit_values(kind, pk)
    assert audited == values
    assert audited["fields"] == fields
    assert audited["reason"] == "录入错误，重新登记"
    assert audited["person_id"] == cw.persons["zhang"].pk
    assert audited["date"] == fields[services.VOID_KINDS[model].date_field]
    event = AuditEvent.objects.filter(object_type=kind, object_id=str(pk)).first()
    assert event is not None and event.user == cw.users[who]
    assert event.region_code == cw.persons["zhang"].village_id


def test_audit_names_the_doctor_and_the_conditions_served(cw: CareWorld) -> None:
    visit = _visit(cw, diseases=["高血压", "2型糖尿病"], systolic=150, diastolic=95, glucose=Decimal("8.1"))
    values = services.care_entry_void(user=cw.users["doctor"], entry=visit, reason="读数录错")
    audited = _audit_values("followup", visit.pk)
    assert audited["doctor"] == "村医甲"
    assert audited["recorded_by"] == "village_doctor_421321001001（村医甲）"
    assert audited["fields"]["systolic"] == 150 and audited["fields"]["glucose"] == "8.1"
    assert {(i["disease"], i["classification"]) for i in audited["items"]} == {
        ("高血压", "uncontrolled"),
        ("2型糖尿病", "uncontrolled"),
    }
    assert audited == values
    assert not FollowUpItem.objects.filter(followup_id=visit.pk).exists()


def test_long_values_are_split_over_numbered_audit_parts_and_nothing_is_lost(cw: CareWorld) -> None:
    visit = _visit(cw, systolic=150, diastolic=95, medication="药" * 300)
    reason = "因" * 200
    services.care_entry_void(user=cw.users["doctor"], entry=visit, reason=reason)
    events = AuditEvent.objects.filter(object_type="followup", object_id=str(visit.pk))
    assert events.count() >= 2
    assert all(e.detail.startswith(f"作废随访#{visit.pk} ") for e in events)
    audited = _audit_values("followup", visit.pk)
    assert audited["fields"]["medication"] == "药" * 300 and audited["reason"] == reason

    items = {f"项目{n:03d}": "结" * 100 for n in range(40)}
    checkup = services.checkup_record(
        user=cw.users["doctor"], person=cw.persons["zhang"], checked_on=TODAY, items=items
    )
    services.care_entry_void(user=cw.users["doctor"], entry=checkup, reason="重复登记")
    assert _audit_values("checkup", checkup.pk)["fields"]["items"] == items


def test_audit_parts_round_trip_at_every_size() -> None:
    for size in (0, 1, 450, 480, 481, 499, 500, 1000, 5000):
        values = {"text": "x" * size, "中": "文 " * (size // 7)}
        details = services.void_audit_details(label="体检", pk=12345, values=values)
        assert all(len(d) <= services.AUDIT_DETAIL_MAX for d in details)
        assert services.void_audit_values(list(reversed(details))) == values


@pytest.mark.parametrize("reason", ["", " ", "错", "错" * 201, "录入\x00错误"])
def test_a_reason_of_2_to_200_characters_is_required(cw: CareWorld, reason: str) -> None:
    visit = _visit(cw)
    with pytest.raises(ValidationError) as exc:
        services.care_entry_void(user=cw.users["doctor"], entry=visit, reason=reason)
    assert exc.value.message_dict == {"reason": [services.ERR_VOID_REASON]}
    assert FollowUp.objects.filter(pk=visit.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE).exists()


def test_roles_and_region_are_those_of_recording(cw: CareWorld) -> None:
    visit, card = _visit(cw), _card(cw)
    with pytest.raises(PermissionDenied):
        services.care_entry_void(user=cw.users["inspector"], entry=visit, reason="录入错误")
    with pytest.raises(PermissionDenied):  # another township's doctor
        services.care_entry_void(user=cw.users["doctor2"], entry=visit, reason="录入错误")
    with pytest.raises(PermissionDenied):
        services.care_entry_void(user=cw.users["t2"], entry=card, reason="录入错误")
    with pytest.raises(PermissionDenied):  # cards are issued (and voided) by township and county
        services.care_entry_void(user=cw.users["doctor"], entry=card, reason="录入错误")
    assert FollowUp.objects.filter(pk=visit.pk).exists() and ChronicCard.objects.filter(pk=card.pk).exists()
    services.care_entry_void(user=cw.users["t1"], entry=visit, reason="录入错误")
    services.care_entry_void(user=cw.users["admin"], entry=card, reason="录入错误")
    assert not FollowUp.objects.exists() and not ChronicCard.objects.exists()


def test_voiding_twice_is_refused(cw: CareWorld) -> None:
    delivery = _delivery(cw)
    services.care_entry_void(user=cw.users["doctor"], entry=delivery, reason="录入错误")
    with pytest.raises(ValidationError) as exc:
        services.care_entry_void(user=cw.users["doctor"], entry=delivery, reason="录入错误")
    assert exc.value.message_dict == {"entry": [services.ERR_VOID_GONE]}


# --- schedules: as if the voided visit had never been recorded --------------------------------------


def _state(w: CareWorld) -> dict[str, Any]:
    """Every schedule field, and the remaining visits with their next date and items, of 张三 and 李四."""
    persons = [w.persons["zhang"].pk, w.persons["li"].pk]
    names = [f.attname for f in Schedule._meta.concrete_fields if f.attname != "id"]
    return {
        "schedules": sorted(
            Schedule.objects.filter(person_id__in=persons).values_list(*names), key=lambda r: (r[0], r[1])
        ),
        "visits": sorted(
            FollowUp.objects.filter(person_id__in=persons).values_list(
                "person_id", "visited_on", "next_on", "systolic", "diastolic", "glucose", "kind"
            )
        ),
        "items": sorted(
            FollowUpItem.objects.filter(person_id__in=persons).values_list(
                "person_id", "disease_id", "visited_on", "classification", "face_to_face"
            )
        ),
    }


class _Rollback(Exception):
    pass


def _fresh(w: CareWorld, record: Callable[[], None]) -> dict[str, Any]:
    """The state after ``record`` in the fixture's fresh database (rolled back afterwards)."""
    state: dict[str, Any] = {}
    try:
        with transaction.atomic():
            record()
            state = _state(w)
            raise _Rollback
    except _Rollback:
        pass
    assert not FollowUp.objects.exists()
    return state


VISITS: dict[str, dict[str, Any]] = {
    # A: both conditions controlled; B: BP uncontrolled (revisit in 14 days); C: uncontrolled again → referral.
    "A": {
        "days_ago": 120,
        "diseases": ["高血压", "2型糖尿病"],
        "systolic": 128,
        "diastolic": 80,
        "glucose": Decimal("6.1"),
    },
    "B": {"days_ago": 60, "diseases": ["高血压"], "systolic": 162, "diastolic": 98, "adverse_reaction": True},
    "C": {
        "days_ago": 45,
        "diseases": ["高血压", "2型糖尿病"],
        "systolic": 150,
        "diastolic": 92,
        "glucose": Decimal("7.4"),
    },
}


@pytest.mark.parametrize("voided", ["A", "B", "C"])
def test_voided_visit_leaves_the_schedule_as_if_never_recorded(cw: CareWorld, voided: str) -> None:
    def record_kept() -> None:
        for key in VISITS:
            if key != voided:
                _visit(cw, **VISITS[key])

    expected = _fresh(cw, record_kept)
    visits = {k: _visit(cw, **VISITS[k]) for k in VISITS}
    _visit(cw, person="li", days_ago=30, systolic=130, diastolic=80)  # another person, untouched
    expected_li = _state(cw)
    services.care_entry_void(user=cw.users["doctor"], entry=visits[voided], reason="录入错误")
    after = _state(cw)
    zhang = cw.persons["zhang"].pk
    assert [r for r in after["schedules"] if r[0] == zhang] == [
        r for r in expected["schedules"] if r[0] == zhang
    ]
    assert [r for r in after["visits"] if r[0] == zhang] == [r for r in expected["visits"] if r[0] == zhang]
    assert [r for r in after["items"] if r[0] == zhang] == [r for r in expected["items"] if r[0] == zhang]
    # 李四's schedule and visit are unchanged.
    assert [r for r in after["schedules"] if r[0] != zhang] == [
        r for r in expected_li["schedules"] if r[0] != zhang
    ]


def test_random_histories_void_equals_never_recorded(cw: CareWorld) -> None:
    rng = random.Random(20261123)
    for _ in range(12):
        days = sorted(rng.sample(range(1, 400), rng.randint(2, 6)), reverse=True)
        plan: list[dict[str, Any]] = []
        for days_ago in days:
            bp = rng.choice([(120, 80), (145, 92), (170, 100), None])
            plan.append(
                {
                    "days_ago": days_ago,
                    "diseases": rng.choice([["高血压"], ["2型糖尿病"], ["高血压", "2型糖尿病"]]),
                    "systolic": bp[0] if bp else None,
                    "diastolic": bp[1] if bp else None,
                    "glucose": rng.choice([None, Decimal("5.5"), Decimal("8.0")]),
                    "adverse_reaction": rng.random() < 0.2,
                    "new_complication": rng.random() < 0.1,
                }
            )
        gone = rng.randrange(len(plan))

        def record_kept(plan: list[dict[str, Any]] = plan, gone: int = gone) -> None:
            for i, p in enumerate(plan):
                if i != gone:
                    _visit(cw, **p)

        expected = _fresh(cw, record_kept)
        try:
            with transaction.atomic():
                visits = [_visit(cw, **p) for p in plan]
                services.care_entry_void(user=cw.users["doctor"], entry=visits[gone], reason="录入错误")
                assert _state(cw) == expected, (plan, gone)
                raise _Rollback
        except _Rollback:
            pass


def test_voiding_the_only_visit_makes_the_first_visit_due(cw: CareWorld) -> None:
    visit = _visit(cw, days_ago=10, systolic=150, diastolic=95)
    services.care_entry_void(user=cw.users["doctor"], entry=visit, reason="录入错误", today=TODAY)
    schedule = Schedule.objects.get(person=cw.persons["zhang"], disease=cw.diseases["高血压"])
    assert (schedule.last_visit_on, schedule.last_classification, schedule.uncontrolled_streak) == (
        None,
        "",
        0,
    )
    assert (schedule.due_on, schedule.reason) == (TODAY, "first")


def test_a_condition_no_longer_recorded_keeps_no_schedule(cw: CareWorld) -> None:
    from jkfp.registry.models import Condition

    visit = _visit(cw, diseases=["高血压", "2型糖尿病"], systolic=130, diastolic=80)
    Condition.objects.filter(person=cw.persons["zhang"], disease=cw.diseases["2型糖尿病"]).delete()
    services.care_entry_void(user=cw.users["doctor"], entry=visit, reason="录入错误")
    assert list(
        Schedule.objects.filter(person=cw.persons["zhang"]).values_list("disease__name", flat=True)
    ) == ["高血压"]


# --- data_changed: once on commit, never on rollback ----------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_data_changed_is_sent_once_on_commit(
    cw: CareWorld, kind: str, received: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    make, who = KINDS[kind]
    entry = make(cw)
    on = getattr(entry, services.VOID_KINDS[type(entry)].date_field)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.care_entry_void(user=cw.users[who], entry=entry, reason="录入错误")
        assert received == []  # not before the commit
    assert [(c["kind"], c["years"], c["person_ids"]) for c in received] == [
        ("care", [on.year], [cw.persons["zhang"].pk])
    ]


def test_no_signal_and_nothing_deleted_on_rollback(
    cw: CareWorld,
    received: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visit = _visit(cw, systolic=150, diastolic=95)
    schedules = _state(cw)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(_Rollback), transaction.atomic():  # noqa: PT012 (the block is the one operation under test)
            services.care_entry_void(user=cw.users["doctor"], entry=visit, reason="录入错误")
            raise _Rollback

        def broken(**_: Any) -> None:
            raise RuntimeError("audit down")

        monkeypatch.setattr(services, "audit_record", broken)
        with pytest.raises(RuntimeError):
            services.care_entry_void(user=cw.users["doctor"], entry=visit, reason="录入错误")
    assert received == []
    assert FollowUp.objects.filter(pk=visit.pk).exists()
    assert _state(cw) == schedules
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE).exists()
