"""Indicators above the county (issue 21 item 4): a city's figures are the sums of its counties' numerators
and denominators, and a county's figures are exactly what the county alone computes.

The hand-built county of ``factories.py`` (随县 421321) is computed alone first; then it joins a city
(随州市 421300, under 湖北省 420000) beside a second county built the same way (广水市 421381: same persons,
care, claims, alerts and enrolment, its own ID numbers and claim numbers — and one more verified ill
target, so that A+B differs from 2A), and the snapshot is computed again for the whole deployment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

from django.core.management import call_command

from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.models import IndicatorSnapshot
from jkfp.indicators.services import snapshot_refresh
from jkfp.indicators.tests.factories import YEAR, build_world
from jkfp.regions.models import Institution, Region, RegionLevel
from jkfp.registry.models import Person

Pair = tuple[Decimal | None, Decimal | None]
ZERO_PAIR: Pair = (Decimal(0), Decimal(0))


def _second_county(parent: Region) -> dict[str, Any]:
    """广水市 421381 shaped like the ``county`` fixture (two townships of two villages, a hospital, a clinic)."""
    c = Region.objects.create(code="421381", name="广水市", level=RegionLevel.COUNTY, parent=parent)
    regions: dict[str, Any] = {"county": c}
    for t in (1, 2):
        town = Region.objects.create(
            code=f"421381{t:03d}000", name=f"广水第{t}镇", level=RegionLevel.TOWNSHIP, parent=c
        )
        regions[f"t{t}"] = town
        for v in (1, 2):
            regions[f"t{t}v{v}"] = Region.objects.create(
                code=f"421381{t:03d}{v:03d}", name=f"广水第{t}镇{v}村", level=RegionLevel.VILLAGE, parent=town
            )
    regions["hospital"] = Institution.objects.create(
        code="G001", name="广水市第一人民医院", level="2", region=c
    )
    regions["clinic"] = Institution.objects.create(
        code="G002", name="广水第1镇卫生院", level="1", region=regions["t1"]
    )
    return regions


def _snapshot() -> dict[tuple[str, str, int], Pair]:
    return {
        (region, code, month): (num, den)
        for region, code, month, num, den in IndicatorSnapshot.objects.filter(year=YEAR).values_list(
            "region_code", "code", "month", "numerator", "denominator"
        )
    }


def _sum(parts: list[Pair | None]) -> Pair:
    """The sum of the parts with data; no part with data: 暂无数据 (None, None)."""
    present = [p for p in parts if p is not None and p[1] is not None]
    if not present:
        return (None, None)
    nums = [p[0] or Decimal(0) for p in present]
    dens = [p[1] or Decimal(0) for p in present]
    return (sum(nums, Decimal(0)), sum(dens, Decimal(0)))


def test_a_city_is_the_sum_of_its_counties_and_a_county_is_itself_alone(
    county: dict[str, Any], make_user: Callable[..., Any]
) -> None:
    build_world(county, make_user)
    snapshot_refresh(year=YEAR)
    alone = _snapshot()
    assert {k for k in alone if k[0] == "421321" and k[2] == 0} == {("421321", i.code, 0) for i in INDICATORS}

    province = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    city = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=province)
    Region.objects.filter(code="421321").update(parent=city)
    second = build_world(_second_county(city), make_user)
    # One more verified ill target in the second county, so that its sum with the first differs from
    # twice the first.
    Person.objects.filter(pk=second.persons["C"].pk).update(
        verification_status="confirmed", verified_on=date(2024, 2, 1)
    )
    snapshot_refresh(year=YEAR)
    together = _snapshot()

    # Every figure of the county and below it is exactly the figure it had alone (months too).
    assert {k: v for k, v in together.items() if k[0].startswith("421321")} == alone
    # The second county, built the same way, has the same figures as the first but its verification.
    for (region, code, month), pair in alone.items():
        if code != "verification_rate":
            assert together[("421381" + region[6:], code, month)] == pair, (region, code, month)
    assert alone[("421321", "verification_rate", 0)] == (Decimal(3), Decimal(6))
    assert together[("421381", "verification_rate", 0)] == (Decimal(4), Decimal(6))

    # The city (and the province above it) is the sum of its counties, numerator and denominator.
    checked = 0
    for indicator in INDICATORS:
        for month in range(13):
            parts = [together.get((c, indicator.code, month)) for c in ("421321", "421381")]
            if all(p is None for p in parts):
                assert (city.code, indicator.code, month) not in together
                continue
            expected = _sum(parts)
            assert together.get((city.code, indicator.code, month), ZERO_PAIR) == expected, indicator.code
            assert together.get((province.code, indicator.code, month), ZERO_PAIR) == expected, indicator.code
            checked += 1
    # Not vacuous: the yearly figures of every indicator and the monthly ones of the event indicators.
    assert checked > len(INDICATORS)
    figures = {k[1]: v for k, v in together.items() if k[0] == city.code and k[2] == 0}
    # (A, D, J) + (A, C, D, J) verified of 6 + 6 ill targets; 2 × the county's enrolment denominator
    assert figures["verification_rate"] == (Decimal(7), Decimal(12))
    assert figures["enrolment_rate"] == (Decimal(8), Decimal(14))

    # jkfp indicators --region: a city lists its counties, a province its cities, with the stored figures.
    out = StringIO()
    call_command("indicators", "--year", str(YEAR), "--region", city.code, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert [c["region"] for c in data["children"]] == ["421321", "421381"]
    rate = data["indicators"]["verification_rate"]
    assert (rate["numerator"], rate["denominator"]) == (7, 12)
    first, other = (child["indicators"]["verification_rate"] for child in data["children"])
    assert (first["numerator"], other["numerator"]) == (3, 4)
    out = StringIO()
    call_command("indicators", "--year", str(YEAR), "--region", province.code, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert [c["region"] for c in data["children"]] == [city.code]
    assert data["indicators"] == data["children"][0]["indicators"]
    # Without --region: the top of the tree (the province).
    out = StringIO()
    call_command("indicators", "--year", str(YEAR), "--json", stdout=out)
    assert json.loads(out.getvalue())["region"] == province.code
    # A region typed by its significant digits (湖北省 as 42, 随州市 as 4213) is the same region (stored_code).
    for typed, stored in ((province.code[:2], province.code), (city.code[:4], city.code)):
        out = StringIO()
        call_command("indicators", "--year", str(YEAR), "--region", typed, "--json", stdout=out)
        assert json.loads(out.getvalue())["region"] == stored
