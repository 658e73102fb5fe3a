"""Test data of the settlement tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from jkfp.registry.tests.factories import make_person as registry_person


@dataclass
class SettleWorld:
    """Persons, institutions, users and the policy by key."""

    county: dict[str, Any]
    persons: dict[str, Any] = field(default_factory=dict)
    institutions: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    policy: Any = None


def make_person(village: Any, name: str, serial: int, born: date = date(1980, 1, 1)) -> Any:
    """人员 A person with a valid ID number (issued by 随县) in ``village``."""
    return registry_person(village, name, serial, born=born, region6="421321")


def tag(person: Any, code: str, start: date = date(2015, 1, 1), end: date | None = None) -> Any:
    from jkfp.registry.models import Tag

    return Tag.objects.create(person=person, code=code, start_on=start, end_on=end, source="测试")


def build_world(county: dict[str, Any], make_user: Callable[..., Any]) -> SettleWorld:
    """poor1/poor2 (poor, 第1镇1村/第1镇2村), plain (no tag, 第2镇1村); H001 level 2 in county,
    H002 level 1 in county, H900 level 3 out of county; policy suixian-2020; one user per role."""
    from jkfp.accounts.models import Role
    from jkfp.regions.models import Institution
    from jkfp.settlement.services import policy_install_preset

    w = SettleWorld(county=county)
    w.policy = policy_install_preset(name="suixian-2020")
    w.institutions["county2"] = county["hospital"]
    w.institutions["clinic1"] = county["clinic"]
    w.institutions["out3"] = Institution.objects.create(
        code="H900", name="省人民医院", level="3", in_county=False
    )
    w.persons["poor1"] = make_person(county["t1v1"], "张三", 11)
    w.persons["poor2"] = make_person(county["t1v2"], "李四", 22)
    w.persons["plain"] = make_person(county["t2v1"], "王五", 33)
    tag(w.persons["poor1"], "poor")
    tag(w.persons["poor2"], "poor")
    w.users["admin"] = make_user(Role.COUNTY_ADMIN, "421321")
    w.users["fund"] = make_user(Role.FUND, "421321")
    w.users["t1"] = make_user(Role.TOWNSHIP, "421321001000")
    w.users["t2"] = make_user(Role.TOWNSHIP, "421321002000")
    w.users["hosp"] = make_user(Role.HOSPITAL, "421321", username="hosp", institution_code="H001")
    w.users["clinic"] = make_user(Role.HOSPITAL, "421321", username="clinicuser", institution_code="H002")
    return w


def submit(
    w: SettleWorld, claim_id: str, person: str, inst: str, discharged: date, total: str, oos: str, **kw: Any
) -> Any:
    """Create and settle a claim through ``claim_submit`` (no user: the system)."""
    from jkfp.settlement.services import claim_submit

    settlement, _ = claim_submit(
        claim_id=claim_id,
        person=w.persons[person],
        institution=w.institutions[inst],
        admitted_on=kw.pop("admitted", discharged),
        discharged_on=discharged,
        total_amount=Decimal(total),
        out_of_scope_amount=Decimal(oos),
        **kw,
    )
    return settlement


def amounts(s: Any) -> tuple[str, ...]:
    """The seven amounts of a settlement as strings with two decimals."""
    return tuple(
        f"{getattr(s, f):.2f}"
        for f in (
            "counted_total",
            "hospital_absorbed",
            "basic",
            "critical",
            "aid",
            "supplementary",
            "personal",
        )
    )


# settlement.md §8, examples 5–7 (counted_total, hospital_absorbed, basic, critical, aid, supplementary, personal).
E5 = ("492.50", "7.50", "384.00", "0.00", "48.00", "11.25", "49.25")
E6 = ("4000.00", "0.00", "2616.00", "0.00", "692.00", "292.00", "400.00")
E7 = ("1000.00", "0.00", "390.00", "0.00", "0.00", "0.00", "610.00")


def card(person: Any, disease: str, certified: date = date(2019, 1, 1), valid_to: date | None = None) -> None:
    """The person's chronic-disease card (慢病卡) for ``disease``."""
    from jkfp.care.models import ChronicCard
    from jkfp.registry.models import Disease

    ChronicCard.objects.create(
        person=person, disease=Disease.objects.get(name=disease), certified_on=certified, valid_to=valid_to
    )


def visit(
    w: SettleWorld,
    claim_id: str,
    person: str,
    inst: str,
    on: date,
    total: str,
    oos: str,
    disease: str,
    **kw: Any,
) -> Any:
    """An outpatient visit (§6) through ``claim_submit``; its current settlement."""
    from jkfp.settlement import services
    from jkfp.settlement.models import ClaimKind

    settlement, _ = services.claim_submit(
        claim_id=claim_id,
        person=w.persons[person],
        institution=w.institutions[inst],
        admitted_on=kw.pop("admitted", on),
        discharged_on=on,
        total_amount=Decimal(total),
        out_of_scope_amount=Decimal(oos),
        kind=ClaimKind.OUTPATIENT,
        disease=disease,
        **kw,
    )
    return settlement
