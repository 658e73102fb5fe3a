"""Care services against the database: visits move schedules, contracts, renewals, scoping, roles."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jkfp.care import selectors, services
from jkfp.care.models import Classification, Contract, DoctorAssignment, FollowUpItem, Schedule, TeamMember
from jkfp.care.rules import DEFAULT_RULES
from jkfp.care.tests.conftest import TODAY, CareWorld

pytestmark = pytest.mark.django_db


def _schedule(person: object, disease: object) -> Schedule:
    return Schedule.objects.get(person=person, disease=disease)


def test_sync_creates_a_first_schedule_per_condition(cw: CareWorld) -> None:
    rows = Schedule.objects.filter(person=cw.persons["zhang"])
    assert {s.disease.name for s in rows} == {"高血压", "2型糖尿病"}
    assert all(s.due_on == TODAY and s.last_visit_on is None for s in rows)


def test_one_visit_serves_two_conditions_with_their_own_classification(cw: CareWorld) -> None:
    zhang, htn, dm = cw.persons["zhang"], cw.diseases["高血压"], cw.diseases["2型糖尿病"]
    visit = services.followup_record(
        user=cw.users["doctor"],
        person=zhang,
        visited_on=TODAY,
        kind="home",
        disease_ids=[htn.pk, dm.pk],
        systolic=132,
        diastolic=84,
        glucose=Decimal("7.8"),
        weight=Decimal("66.5"),
        today=TODAY,
    )
    items = {i.disease_id: i for i in FollowUpItem.objects.filter(followup=visit)}
    assert items[htn.pk].classification == Classification.CONTROLLED
    assert items[dm.pk].classification == Classification.UNCONTROLLED
    assert items[htn.pk].face_to_face is True
    assert _schedule(zhang, htn).due_on == TODAY + timedelta(days=91)
    assert _schedule(zhang, dm).due_on == TODAY + timedelta(days=14)
    assert visit.next_on == TODAY + timedelta(days=14)
    assert visit.doctor is not None and visit.doctor.name == "村医甲"


def test_two_uncontrolled_visits_in_a_row_mean_referral(cw: CareWorld) -> None:
    li, htn = cw.persons["li"], cw.diseases["高血压"]
    # 李四 is 76: 145/85 is controlled at 65+.
    services.followup_record(
        user=cw.users["doctor"],
        person=li,
        visited_on=TODAY - timedelta(days=20),
        kind="clinic",
        disease_ids=[htn.pk],
        systolic=145,
        diastolic=85,
        today=TODAY,
    )
    assert _schedule(li, htn).last_classification == Classification.CONTROLLED
    for offset in (10, 0):
        services.followup_record(
            user=cw.users["doctor"],
            person=li,
            visited_on=TODAY - timedelta(days=offset),
            kind="clinic",
            disease_ids=[htn.pk],
            systolic=165,
            diastolic=95,
            today=TODAY,
        )
    schedule = _schedule(li, htn)
    assert schedule.reason == "referral" and schedule.uncontrolled_streak == 2
    assert schedule.due_on == TODAY + timedelta(days=DEFAULT_RULES["高血压"].referral_days)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"systolic": 80, "diastolic": 120}, "systolic", services.reading_problems),
        ({"visited_on": TODAY + timedelta(days=1)}, "visited_on", services.ERR_DATE_FUTURE),
        ({"kind": "fax"}, "kind", services.ERR_KIND),
        ({"disease_ids": []}, "disease_ids", services.ERR_NO_CONDITION),
    ],
)
def test_bad_visits_are_refused(cw: CareWorld, changes: dict, field: str, message: object) -> None:
    values = {"visited_on": TODAY, "kind": "clinic", "disease_ids": [cw.diseases["高血压"].pk], **changes}
    with pytest.raises(ValidationError) as info:
        services.followup_record(user=cw.users["doctor"], person=cw.persons["zhang"], today=TODAY, **values)
    assert field in info.value.message_dict
    if isinstance(message, str):
        assert info.value.message_dict[field] == [message]
    assert not FollowUpItem.objects.exists()


def test_visit_of_a_condition_the_person_lacks_is_refused(cw: CareWorld) -> None:
    with pytest.raises(ValidationError) as info:
        services.followup_record(
            user=cw.users["doctor"],
            person=cw.persons["li"],
            visited_on=TODAY,
            kind="clinic",
            disease_ids=[cw.diseases["2型糖尿病"].pk],
            today=TODAY,
        )
    assert info.value.message_dict["disease_ids"] == [services.ERR_CONDITION_UNKNOWN]


def test_scope_and_roles(cw: CareWorld) -> None:
    htn = cw.diseases["高血压"]
    with pytest.raises(PermissionDenied):
        services.followup_record(
            user=cw.users["doctor"],
            person=cw.persons["zhao"],
            visited_on=TODAY,
            kind="clinic",
            disease_ids=[htn.pk],
            today=TODAY,
        )
    with pytest.raises(PermissionDenied):
        services.followup_record(
            user=cw.users["inspector"],
            person=cw.persons["zhang"],
            visited_on=TODAY,
            kind="clinic",
            disease_ids=[htn.pk],
            today=TODAY,
        )
    with pytest.raises(PermissionDenied):
        services.team_create(user=cw.users["doctor"], township=cw.county["t1"], name="新团队")
    with pytest.raises(PermissionDenied):
        services.team_create(user=cw.users["t2"], township=cw.county["t1"], name="新团队")


def test_contract_sign_renew_and_coverage(cw: CareWorld) -> None:
    team = cw.teams["t1"]
    doctor = TeamMember.objects.get(name="村医甲")
    contract = services.contract_sign(
        user=cw.users["doctor"],
        person=cw.persons["zhang"],
        team=team,
        doctor=doctor,
        signed_on=date(2025, 3, 1),
        today=TODAY,
    )
    assert contract.end_on == date(2026, 2, 28)
    with pytest.raises(ValidationError) as info:
        services.contract_sign(
            user=cw.users["doctor"],
            person=cw.persons["li"],
            team=team,
            signed_on=date(2025, 3, 1),
            end_on=date(2025, 1, 1),
            today=TODAY,
        )
    assert info.value.message_dict["end_on"] == [services.ERR_END_BEFORE_SIGNED]
    services.contract_sign(
        user=cw.users["doctor"],
        person=cw.persons["li"],
        team=team,
        signed_on=date(2025, 1, 1),
        end_on=date(2025, 12, 31),
        today=TODAY,
    )
    # zhang's contract covers 2025-12-31 too: both renew; a second renewal creates nothing.
    assert services.contracts_renew_village(user=cw.users["t1"], village=cw.county["t1v1"], year=2026) == 1
    assert services.contracts_renew_village(user=cw.users["t1"], village=cw.county["t1v1"], year=2026) == 0
    assert set(
        Contract.objects.filter(selectors.contracts_covering(year=2026)).values_list(
            "person__name", flat=True
        )
    ) == {
        "张三",
        "李四",
    }
    assert not Contract.objects.filter(selectors.contracts_covering(year=2024)).exists()
    with pytest.raises(PermissionDenied):
        services.contracts_renew_village(user=cw.users["t2"], village=cw.county["t1v1"], year=2026)


def test_family_doctor_reassignment_keeps_history(cw: CareWorld) -> None:
    household = cw.persons["zhang"].household
    first = TeamMember.objects.get(name="村医甲")
    second = services.team_member_add(user=cw.users["t1"], team=cw.teams["t1"], name="刘医生", phone="139")
    services.family_doctor_assign(
        user=cw.users["t1"], household=household, member=first, start_on=date(2025, 1, 1)
    )
    services.family_doctor_assign(
        user=cw.users["t1"], household=household, member=second, start_on=date(2026, 1, 1)
    )
    rows = list(DoctorAssignment.objects.filter(household=household).order_by("start_on"))
    assert [(r.member.name, r.end_on) for r in rows] == [("村医甲", date(2025, 12, 31)), ("刘医生", None)]


def test_delivery_checkup_and_card_rules(cw: CareWorld) -> None:
    zhang = cw.persons["zhang"]
    with pytest.raises(ValidationError) as info:
        services.drug_delivery_record(
            user=cw.users["doctor"],
            person=zhang,
            delivered_on=TODAY - timedelta(days=1),
            drugs="硝苯地平",
            supply_days=120,
        )
    assert info.value.message_dict["supply_days"] == [services.ERR_SUPPLY_DAYS]
    delivery = services.drug_delivery_record(
        user=cw.users["doctor"],
        person=zhang,
        delivered_on=TODAY - timedelta(days=1),
        drugs="硝苯地平",
        supply_days=90,
    )
    assert delivery.supply_days == 90
    checkup = services.checkup_record(
        user=cw.users["doctor"], person=zhang, checked_on=TODAY - timedelta(days=2), items={"血压": "130/80"}
    )
    assert checkup.items == {"血压": "130/80"}
    card = services.chronic_card_issue(
        user=cw.users["t1"],
        person=zhang,
        disease=cw.diseases["高血压"],
        certified_on=TODAY - timedelta(days=3),
    )
    assert card.pk is not None
    with pytest.raises(ValidationError):
        services.chronic_card_issue(
            user=cw.users["t1"],
            person=zhang,
            disease=cw.diseases["高血压"],
            certified_on=TODAY - timedelta(days=3),
        )


def test_care_renew_command(cw: CareWorld) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    services.contract_sign(
        user=cw.users["doctor"],
        person=cw.persons["li"],
        team=cw.teams["t1"],
        signed_on=date(2025, 1, 1),
        end_on=date(2025, 12, 31),
        today=TODAY,
    )
    out = StringIO()
    call_command(
        "care_renew",
        "--user",
        cw.users["t1"].username,
        "--village",
        cw.county["t1v1"].code,
        "--year",
        "2026",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["created"] == 1
    with pytest.raises(CommandError):
        call_command(
            "care_renew",
            "--user",
            cw.users["t2"].username,
            "--village",
            cw.county["t1v1"].code,
            "--year",
            "2026",
        )


def test_care_sync_command_creates_missing_schedules_and_drops_stale_ones(cw: CareWorld) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    from jkfp.care.tests.conftest import add_condition
    from jkfp.registry.models import Condition

    add_condition(cw.persons["li"], cw.diseases["冠心病"])
    Condition.objects.filter(person=cw.persons["zhao"]).delete()
    out = StringIO()
    call_command("care_sync", "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1
    assert Schedule.objects.filter(person=cw.persons["li"], disease=cw.diseases["冠心病"]).exists()
    assert not Schedule.objects.filter(person=cw.persons["zhao"]).exists()


def test_team_rename_and_member_removal_keep_history(cw: CareWorld) -> None:
    team = cw.teams["t1"]
    with pytest.raises(PermissionDenied):
        services.team_update(user=cw.users["doctor"], team=team, name="新名")
    with pytest.raises(PermissionDenied):
        services.team_update(user=cw.users["t2"], team=team, name="新名")
    with pytest.raises(ValidationError) as exc:
        services.team_update(user=cw.users["t1"], team=team, name=" ")
    assert exc.value.message_dict == {"name": [services.ERR_TEAM_NAME]}
    assert services.team_update(user=cw.users["t1"], team=team, name="第1镇甲队").name == "第1镇甲队"
    fresh = services.team_member_add(user=cw.users["t1"], team=team, name="新成员")
    assert services.team_member_remove(user=cw.users["t1"], member=fresh) is True
    assert not TeamMember.objects.filter(pk=fresh.pk).exists()
    doctor = TeamMember.objects.get(name="村医甲")
    household = cw.persons["zhang"].household
    services.family_doctor_assign(user=cw.users["t1"], household=household, member=doctor, start_on=TODAY)
    with pytest.raises(PermissionDenied):
        services.team_member_remove(user=cw.users["t2"], member=doctor)
    assert services.team_member_remove(user=cw.users["t1"], member=doctor) is False
    doctor.refresh_from_db()
    assert doctor.active is False and DoctorAssignment.objects.filter(member=doctor).exists()
    # A member who left cannot become a household's family doctor.
    with pytest.raises(ValidationError) as exc:
        services.family_doctor_assign(
            user=cw.users["t1"], household=cw.persons["li"].household, member=doctor, start_on=TODAY
        )
    assert exc.value.message_dict == {"member": [services.ERR_MEMBER_INACTIVE]}
