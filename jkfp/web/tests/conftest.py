"""Fixtures of the page tests: persons in three villages of two townships, and one user per role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jkfp.core.idnumber import make_id_number

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@dataclass
class World:
    """The fixture data: persons and households by key, and users by role."""

    persons: dict[str, Any] = field(default_factory=dict)
    households: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)


def add_person(
    village: Any,
    name: str,
    serial: int,
    *,
    household: Any = None,
    relation: str = "户主",
    sources: dict[str, dict[str, str]] | None = None,
    born: date = date(1960, 5, 1),
) -> Any:
    """人员 Create a person with a valid ID number, an active 低保 tag and the given source records."""
    from jkfp.registry.models import Person, SourceRecord, Tag

    id_number = make_id_number("421321", born, serial)
    person = Person.objects.create(
        id_number=id_number,
        name=name,
        sex="M" if int(id_number[16]) % 2 else "F",
        birth_date=born,
        village=village,
        household=household,
        relation=relation,
    )
    Tag.objects.create(person=person, code="dibao", start_on=date(2020, 1, 1), source="国家平台")
    now = timezone.now()
    for source, values in (sources or {}).items():
        SourceRecord.objects.create(
            person=person,
            source=source,
            year=2021,
            name=values.get("name", name),
            village_code=values.get("village_code", village.code),
            household_no=values.get("household_no", household.household_no if household else ""),
            tags=values.get("tags", "低保"),
            first_seen_at=now,
            last_seen_at=now,
        )
    return person


@pytest.fixture
def world(county: dict[str, Any], make_user: Callable[..., Any]) -> World:
    """Three households: H1 in 第1镇1村, H2 in 第1镇2村, H3 in 第2镇1村, with persons and sources."""
    from jkfp.accounts.models import Role
    from jkfp.registry.models import Condition, Disease, Household, Membership

    w = World()
    for key, village in (("h1", "t1v1"), ("h2", "t1v2"), ("h3", "t2v1")):
        w.households[key] = Household.objects.create(household_no=f"HH-{key}", village=county[village])
    both = {"国家平台": {}, "省系统": {}}
    w.persons["zhang"] = add_person(county["t1v1"], "张三", 1, household=w.households["h1"], sources=both)
    w.persons["zhang_wife"] = add_person(
        county["t1v1"], "李梅", 2, household=w.households["h1"], relation="配偶", sources={"国家平台": {}}
    )
    w.persons["wang"] = add_person(
        county["t1v2"],
        "王五",
        3,
        household=w.households["h2"],
        sources={"国家平台": {}, "省系统": {"name": "王伍"}},
    )
    w.persons["zhao"] = add_person(county["t2v1"], "张四", 4, household=w.households["h3"], sources=both)
    for p in w.persons.values():
        Membership.objects.create(
            person=p, household=p.household, relation=p.relation, start_on=date(2019, 1, 1)
        )
    for h, head in (("h1", "zhang"), ("h2", "wang"), ("h3", "zhao")):
        w.households[h].head = w.persons[head]
        w.households[h].save(update_fields=["head"])
    stroke = Disease.objects.create(name="脑卒中", kind="major")
    Condition.objects.create(person=w.persons["zhang"], disease=stroke, name="脑卒中", source="国家平台")
    Condition.objects.create(person=w.persons["zhang"], name="怪病", source="国家平台")
    w.users = {
        "admin": make_user(Role.COUNTY_ADMIN, "421321", full_name="县管理员"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "t2": make_user(Role.TOWNSHIP, county["t2"].code),
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code),
        "inspector": make_user(Role.INSPECTOR, "421321"),
        "inspector_t1": make_user(Role.INSPECTOR, county["t1"].code),
    }
    return w


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    """Log the test client in as ``user`` (bypassing the login form and its throttling)."""

    def _login(user: Any) -> Client:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
