"""Fixtures of the API tests: the 随县2020 policy, two hospitals with tokens, registered persons; and a
village doctor's village for the offline app's API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jkfp.core.idnumber import make_id_number
from jkfp.registry.tests.factories import make_person


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: the reliability tests against a real gunicorn server (still part of make test)"
    )


@dataclass
class ApiWorld:
    tokens: dict[str, str] = field(default_factory=dict)
    persons: dict[str, Any] = field(default_factory=dict)
    institutions: dict[str, Any] = field(default_factory=dict)


def make_poor_person(village: Any, name: str, serial: int, *, tag: str = "poor") -> Any:
    """人员 A person born 1960 in ``village`` holding ``tag`` (a registry TagCode) since 2019."""
    from jkfp.registry.models import Person, Tag

    id_number = make_id_number("421321", date(1960, 5, 1), serial)
    person = Person.objects.create(
        id_number=id_number,
        name=name,
        sex="M" if int(id_number[16]) % 2 else "F",
        birth_date=date(1960, 5, 1),
        village=village,
    )
    if tag:
        Tag.objects.create(person=person, code=tag, start_on=date(2019, 1, 1), source="国家平台")
    return person


@pytest.fixture
def world(county: dict[str, Any]) -> ApiWorld:
    """H001 随县人民医院 (level 2, in county), H002 第1镇卫生院 (level 1), W003 an out-of-county
    level-3 hospital; a token each; 脱贫 persons 甲 and 乙 and ordinary 丙 in 第1镇1村."""
    from jkfp.accounts.services import institution_token_create
    from jkfp.regions.models import Institution
    from jkfp.settlement.services import policy_install_preset

    policy_install_preset(name="suixian-2020")
    w = ApiWorld()
    w.institutions = {
        "H001": county["hospital"],
        "H002": county["clinic"],
        "W003": Institution.objects.create(code="W003", name="武汉协和医院", level="3", in_county=False),
    }
    for code in w.institutions:
        w.tokens[code] = institution_token_create(institution_code=code)[1]
    w.persons["jia"] = make_poor_person(county["t1v1"], "甲", 11)
    w.persons["yi"] = make_poor_person(county["t1v1"], "乙", 13)
    w.persons["bing"] = make_poor_person(county["t1v1"], "丙", 15, tag="")
    return w


class ApiClient:
    """A test client speaking JSON with a bearer token."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, body, content_type="application/json", headers=self.headers)

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)


@pytest.fixture
def api_as(client: Client, world: ApiWorld) -> Any:
    def _as(code: str | None) -> ApiClient:
        return ApiClient(client, world.tokens[code] if code else None)

    return _as


# --- 村医离线接口 the offline app's API (issue 20) ----------------------------------------------------


@dataclass
class Field:
    persons: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    diseases: dict[str, Any] = field(default_factory=dict)
    county: dict[str, Any] = field(default_factory=dict)


DEVICE = "6f1c2c0e-6a53-4b8e-9a53-0c1f3d1e2a01"


def make_field_person(village: Any, name: str, serial: int, born: date = date(1960, 5, 1)) -> Any:
    return make_person(village, name, serial, born=born, region6="421321", phone="13800000000")


@pytest.fixture
def fw(county: dict[str, Any], make_user: Callable[..., Any]) -> Field:
    """张三 (第1镇1村, 高血压+2型糖尿病), 李四 (第1镇1村, 高血压, 65+), 王五 (第1镇2村, 高血压: outside
    the doctor's village), 赵六 (第2镇1村); the village doctor 村医甲 of 第1镇1村 (a team member),
    a second doctor of the same village, the county administrator; first visits due 5 days ago."""
    from jkfp.accounts.models import Role
    from jkfp.care.bulk import schedules_sync
    from jkfp.care.models import MemberRole, Team, TeamMember
    from jkfp.registry.models import Condition, Disease
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    w = Field(county=county)
    w.diseases = {d.name: d for d in Disease.objects.filter(kind="chronic")}
    w.persons["zhang"] = make_field_person(county["t1v1"], "张三", 1)
    w.persons["li"] = make_field_person(county["t1v1"], "李四", 3, born=date(1950, 2, 1))
    w.persons["wang"] = make_field_person(county["t1v2"], "王五", 5)
    w.persons["zhao"] = make_field_person(county["t2v1"], "赵六", 7)
    for key, names in {
        "zhang": ["高血压", "2型糖尿病"],
        "li": ["高血压"],
        "wang": ["高血压"],
        "zhao": ["高血压"],
    }.items():
        for name in names:
            Condition.objects.create(person=w.persons[key], disease=w.diseases[name], name=name)
    w.users = {
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code, full_name="村医甲"),
        "doctor_b": make_user(
            Role.VILLAGE_DOCTOR, county["t1v1"].code, username="cunyi_b", full_name="村医乙"
        ),
        "township": make_user(Role.TOWNSHIP, county["t1"].code),
        "admin": make_user(Role.COUNTY_ADMIN, "421321"),
    }
    team = Team.objects.create(township=county["t1"], name="第1镇一队")
    TeamMember.objects.create(
        team=team, name="村医甲", role=MemberRole.VILLAGE_DOCTOR, user=w.users["doctor"]
    )
    TeamMember.objects.create(
        team=team, name="村医乙", role=MemberRole.VILLAGE_DOCTOR, user=w.users["doctor_b"]
    )
    schedules_sync(today=timezone.localdate() - timedelta(days=5))
    return w


@pytest.fixture
def phone_client() -> Callable[[Any], Client]:
    """A logged-in client that sends Django's CSRF token as the app does (header X-CSRFToken)."""

    def _make(user: Any) -> Client:
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.get("/care/")  # a page with a form: sets the csrftoken cookie, as the site does for the phone
        client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
        return client

    return _make
