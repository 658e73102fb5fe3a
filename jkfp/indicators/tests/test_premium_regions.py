"""Premium-subsidy rules per region (issue 21 item 3): per tag the rule of the most specific region
containing the person's county; the deployment's rules where a county has none; premium standard and
subsidy from the one rule chosen, so the personal share is never negative."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from jkfp.core.idnumber import make_id_number
from jkfp.indicators.ledgers import premium_rows
from jkfp.indicators.services import premium_rule_set
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import Person, Tag

YEAR = 2020


def person(village: Region, name: str, serial: int, tag: str) -> Person:
    p = Person.objects.create(
        id_number=make_id_number(village.code[:6], date(1970, 1, 1), serial),
        name=name,
        sex="M",
        birth_date=date(1970, 1, 1),
        village=village,
    )
    Tag.objects.create(person=p, code=tag, start_on=date(2015, 1, 1), source="测试")
    return p


def test_a_county_rule_overrides_the_deployment_per_tag(county: dict[str, Any]) -> None:
    zengdu = Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421303001000", name="南郊", level=RegionLevel.TOWNSHIP, parent=zengdu)
    village = Region.objects.create(
        code="421303001001", name="两水村", level=RegionLevel.VILLAGE, parent=town
    )
    money = Decimal
    premium_rule_set(year=YEAR, tag="poor", premium_amount=money("250.00"), subsidy_amount=money("200.00"))
    premium_rule_set(year=YEAR, tag="dibao", premium_amount=money("250.00"), subsidy_amount=money("250.00"))
    premium_rule_set(
        year=YEAR, tag="poor", premium_amount=money("300.00"), subsidy_amount=money("100.00"), region=zengdu
    )
    person(county["t1v1"], "随县甲", 1, "poor")
    person(village, "曾都乙", 2, "poor")
    person(village, "曾都丙", 3, "dibao")

    def ledger(region: Region) -> dict[str, tuple[str, Decimal, Decimal, Decimal]]:
        qs, _ = premium_rows(YEAR, region)
        return {r[0]: r[1:] for r in qs.values_list("name", "sub_tag", "premium", "subsidy", "own")}

    assert ledger(county["county"]) == {"随县甲": ("poor", money("250.00"), money("200.00"), money("50.00"))}
    assert ledger(zengdu) == {
        "曾都乙": ("poor", money("300.00"), money("100.00"), money("200.00")),  # 曾都区's own rule
        # no 曾都区 rule for 低保: the deployment's rule, its premium standard with its subsidy
        "曾都丙": ("dibao", money("250.00"), money("250.00"), money("0.00")),
    }


def test_county_over_city_over_province_over_deployment(county: dict[str, Any]) -> None:
    money = Decimal
    hubei = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=hubei)
    zengdu = Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY, parent=suizhou)
    town = Region.objects.create(code="421303001000", name="南郊", level=RegionLevel.TOWNSHIP, parent=zengdu)
    village = Region.objects.create(
        code="421303001001", name="两水村", level=RegionLevel.VILLAGE, parent=town
    )
    for region, amount in (
        (None, "10.00"),
        (hubei, "20.00"),
        (suizhou, "30.00"),
        (county["county"], "40.00"),
    ):
        premium_rule_set(
            year=YEAR,
            tag="poor",
            premium_amount=money("320.00"),
            subsidy_amount=money(amount),
            region=region,
        )
    person(county["t1v1"], "随县甲", 1, "poor")
    person(village, "曾都乙", 2, "poor")

    def subsidy(region: Region) -> dict[str, Decimal]:
        qs, _ = premium_rows(YEAR, region)
        return dict(qs.values_list("name", "subsidy"))

    assert subsidy(county["county"]) == {"随县甲": money("40.00")}  # the county's own
    assert subsidy(zengdu) == {"曾都乙": money("30.00")}  # its city's
    assert subsidy(suizhou) == {
        "随县甲": money("40.00"),
        "曾都乙": money("30.00"),
    }  # a city ledger: each its own


def test_premium_and_subsidy_come_from_one_rule_never_a_negative_share(county: dict[str, Any]) -> None:
    """M7: 随县 sets a low premium for 脱贫 (100.00, subsidy 30.00); the deployment's 低保 rule pays the
    whole 250.00. A 低保 person of 随县 was charged 随县's 100.00 premium less the deployment's 250.00
    subsidy (个人实缴 −150.00): now the 低保 rule gives both (0.00). A person holding both tags gets
    the rule leaving the smaller personal share; every row to the fen, none negative."""
    money = Decimal
    premium_rule_set(year=YEAR, tag="dibao", premium_amount=money("250.00"), subsidy_amount=money("250.00"))
    premium_rule_set(
        year=YEAR,
        tag="poor",
        premium_amount=money("100.00"),
        subsidy_amount=money("30.00"),
        region=county["county"],
    )
    premium_rule_set(year=YEAR, tag="tekun", premium_amount=money("380.00"), subsidy_amount=money("300.00"))
    person(county["t1v1"], "低保甲", 1, "dibao")
    person(county["t1v1"], "脱贫乙", 2, "poor")
    both = person(county["t1v2"], "两类丙", 3, "poor")
    Tag.objects.create(person=both, code="tekun", start_on=date(2015, 1, 1), source="测试")
    qs, _ = premium_rows(YEAR, county["county"])
    rows = {r[0]: r[1:] for r in qs.values_list("name", "sub_tag", "premium", "subsidy", "own")}
    assert rows == {
        "低保甲": ("dibao", money("250.00"), money("250.00"), money("0.00")),
        "脱贫乙": ("poor", money("100.00"), money("30.00"), money("70.00")),
        # 特困 pays the larger subsidy (300.00) but leaves 80.00; 随县's 脱贫 rule leaves 70.00
        "两类丙": ("poor", money("100.00"), money("30.00"), money("70.00")),
    }
    assert all(own >= 0 for *_, own in rows.values())
