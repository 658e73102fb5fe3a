"""Fixtures of the care tests: persons with chronic conditions in two townships, a team, users by role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from jkfp.core.signals import data_changed
from jkfp.registry.tests.factories import make_person as registry_person

TODAY = timezone.localdate()


@dataclass
class CareWorld:
    persons: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    diseases: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, Any] = field(default_factory=dict)
    county: dict[str, Any] = field(default_factory=dict)


def make_person(
    village: Any, name: str, serial: int, born: date = date(1960, 5, 1), household: Any = None
) -> Any:
    return registry_person(village, name, serial, born=born, region6="421321", household=household)


def add_condition(person: Any, disease: Any) -> Any:
    from jkfp.registry.models import Condition

    return Condition.objects.create(person=person, disease=disease, name=disease.name)


@pytest.fixture
def cw(county: dict[str, Any], make_user: Callable[..., Any]) -> CareWorld:
    """张三 (第1镇1村, 高血压+2型糖尿病, born 1960), 李四 (第1镇1村, 高血压, born 1950 → 65+),
    赵六 (第2镇1村, 高血压); one team in 第1镇 with a village doctor bound to a user."""
    from jkfp.accounts.models import Role
    from jkfp.care.bulk import schedules_sync
    from jkfp.care.models import MemberRole, Team, TeamMember
    from jkfp.registry.models import Disease, Household
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    w = CareWorld(county=county)
    w.diseases = {d.name: d for d in Disease.objects.filter(kind="chronic")}
    h1 = Household.objects.create(household_no="SX-0001", village=county["t1v1"])
    h2 = Household.objects.create(household_no="SX-0002", village=county["t1v1"])
    w.persons["zhang"] = make_person(county["t1v1"], "张三", 1, household=h1)
    w.persons["li"] = make_person(county["t1v1"], "李四", 3, born=date(1950, 2, 1), household=h2)
    w.persons["zhao"] = make_person(county["t2v1"], "赵六", 5)
    add_condition(w.persons["zhang"], w.diseases["高血压"])
    add_condition(w.persons["zhang"], w.diseases["2型糖尿病"])
    add_condition(w.persons["li"], w.diseases["高血压"])
    add_condition(w.persons["zhao"], w.diseases["高血压"])
    w.users = {
        "admin": make_user(Role.COUNTY_ADMIN, "421321", full_name="县管理员"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "t2": make_user(Role.TOWNSHIP, county["t2"].code),
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code, full_name="村医甲"),
        "doctor2": make_user(Role.VILLAGE_DOCTOR, county["t2v1"].code),
        "inspector": make_user(Role.INSPECTOR, "421321"),
    }
    team = Team.objects.create(township=county["t1"], name="第1镇一队", institution=county["clinic"])
    TeamMember.objects.create(team=team, name="王医生", role=MemberRole.LEADER, phone="13800000001")
    TeamMember.objects.create(
        team=team, name="村医甲", role=MemberRole.VILLAGE_DOCTOR, phone="13800000002", user=w.users["doctor"]
    )
    w.teams["t1"] = team
    schedules_sync(today=TODAY)
    return w


@pytest.fixture
def received() -> Any:
    """The ``data_changed`` sends of the test, as their keyword arguments."""
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    data_changed.connect(receiver, weak=False, dispatch_uid="care_tests_received")
    yield calls
    data_changed.disconnect(dispatch_uid="care_tests_received")
