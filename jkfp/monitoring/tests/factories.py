"""Test data of the monitoring tests: persons with tags, users per role, a no-benefit policy.

Settlements are made through the settlement services (``claim_submit``), under a policy whose every
layer pays nothing, so that the engine's ``personal`` equals the billed total to the fen and a test
can place a person's payments exactly one fen over or under a threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

from jkfp.registry.tests.factories import make_person as registry_person

YEAR = 2026
CATEGORIES = ("tekun", "dibao", "poor", "monitored", "ordinary")
_SERIAL = count(100)
_CLAIM = count(1)


def zero_policy_text(name: str = "monitor-zero") -> str:
    """政策 A policy valid 2025–2026 in which basic and critical insurance pay nothing (ratio 0)."""
    lines = [
        f'name = "{name}"',
        'title = "监测测试：各项报销为零"',
        'valid_from = "2025-01-01"',
        'valid_to = "2026-12-31"',
        "category_precedence = [" + ", ".join(f'"{c}"' for c in CATEGORIES) + "]",
    ]
    for category in CATEGORIES:
        lines += [
            f"[categories.{category}.basic]",
            'deductible = { "1" = "0", "2" = "0", "3" = "0" }',
            'ratio = { "1" = "0", "2" = "0", "3" = "0" }',
            f"[categories.{category}.critical]",
            'tiers = [["100000000", "", "0.5"]]',
        ]
    return "\n".join(lines) + "\n"


@dataclass
class MonitorWorld:
    county: dict[str, Any]
    users: dict[str, Any] = field(default_factory=dict)
    policy: Any = None


def make_person(village: Any, name: str, *, household: Any = None, born: date = date(1970, 5, 6)) -> Any:
    """人员 A person with a valid ID number (issued by 随县) in ``village``."""
    return registry_person(village, name, next(_SERIAL), born=born, region6="421321", household=household)


def make_household(village: Any, number: str) -> Any:
    from jkfp.registry.models import Household

    return Household.objects.create(household_no=number, village=village)


def tag(person: Any, code: str, start: date = date(2015, 1, 1), end: date | None = None) -> Any:
    from jkfp.registry.models import Tag

    return Tag.objects.create(person=person, code=code, start_on=start, end_on=end, source="测试")


def build_world(county: dict[str, Any], make_user: Callable[..., Any]) -> MonitorWorld:
    """The no-benefit policy and one user per role (township users of 第1镇 and 第2镇)."""
    from jkfp.accounts.models import Role
    from jkfp.settlement.services import policy_upload

    w = MonitorWorld(county=county)
    w.policy = policy_upload(text=zero_policy_text(), fmt="toml")
    w.users["admin"] = make_user(Role.COUNTY_ADMIN, "421321", full_name="县管理员")
    w.users["fund"] = make_user(Role.FUND, "421321")
    w.users["inspector"] = make_user(Role.INSPECTOR, "421321")
    w.users["t1"] = make_user(Role.TOWNSHIP, "421321001000", full_name="一镇卫生院")
    w.users["t2"] = make_user(Role.TOWNSHIP, "421321002000")
    w.users["doctor11"] = make_user(Role.VILLAGE_DOCTOR, "421321001001", full_name="一村村医")
    return w


def pay(person: Any, total: str, discharged: date, *, institution: Any, claim_id: str | None = None) -> Any:
    """结算 Create and settle a claim through the settlement services; returns the settlement."""
    from jkfp.settlement.services import claim_submit

    settlement, _ = claim_submit(
        claim_id=claim_id or f"MON{next(_CLAIM):06d}",
        person=person,
        institution=institution,
        admitted_on=discharged,
        discharged_on=discharged,
        total_amount=Decimal(total),
        out_of_scope_amount=Decimal("0"),
    )
    return settlement
