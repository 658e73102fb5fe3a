"""Fixtures of the API tests: the 随县2020 policy, two hospitals with tokens, registered persons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from django.test import Client

from jkfp.core.idnumber import make_id_number


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
