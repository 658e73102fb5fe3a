"""Monitoring rules and parameters per region (issue 21 item 3): per rule code the row of the most
specific region containing the county; a county row (even an inactive one) overrides its city's,
a city's its province's; the deployment's defaults are written only for a county with none in its
chain."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jkfp.monitoring import selectors, services
from jkfp.monitoring.models import AlertRule, MonitoringParameter, RuleKind
from jkfp.regions.models import Region, RegionLevel

YEAR = 2020


def rule(region: Region, code: str, amount: str, *, active: bool = True) -> AlertRule:
    return AlertRule.objects.create(
        county=region,
        year=YEAR,
        code=code,
        name=code,
        kind=RuleKind.PERSON_OOP,
        threshold_amount=Decimal(amount),
        active=active,
    )


def test_city_rules_apply_to_its_counties_and_a_county_row_overrides(county: dict[str, Any]) -> None:
    hubei = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=hubei)
    zengdu = Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY, parent=suizhou)
    rule(hubei, "oop_low_income", "6000.00")
    rule(hubei, "oop_general", "25000.00")
    rule(suizhou, "oop_low_income", "5000.00")
    rule(county["county"], "oop_low_income", "4000.00")
    rule(county["county"], "oop_general", "25000.00", active=False)

    def got(code: str) -> dict[str, tuple[str, Decimal | None, bool]]:
        rows = selectors.alert_rules_in_force(county_code=code, year=YEAR)
        return {r.code: (r.county_id, r.threshold_amount, r.active) for r in rows}

    assert got("421321") == {
        "oop_low_income": ("421321", Decimal("4000.00"), True),
        "oop_general": ("421321", Decimal("25000.00"), False),  # the county switched the province's off
    }
    assert got("421303") == {
        "oop_low_income": ("421300", Decimal("5000.00"), True),
        "oop_general": ("420000", Decimal("25000.00"), True),
    }
    # Rules in the chain: no defaults are copied into the county (they would override the city's).
    assert services.alert_rules_ensure_defaults(county=zengdu, year=YEAR) == 0
    assert not AlertRule.objects.filter(county=zengdu).exists()
    # A county of another province has none in its chain: the defaults of domain.md §8.
    other = Region.objects.create(code="110101", name="东城区", level=RegionLevel.COUNTY)
    assert services.alert_rules_ensure_defaults(county=other, year=YEAR) == 3


def test_parameters_of_the_most_specific_region(county: dict[str, Any]) -> None:
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY)
    MonitoringParameter.objects.create(
        county=suizhou, year=YEAR, rural_income_amount=Decimal("15000.00"), assign_within_days=5
    )
    assert selectors.rural_income(county_code="421381", year=YEAR) == Decimal("15000.00")
    assert selectors.deadlines(county_code="421381", year=YEAR)["assign_within_days"] == 5
    MonitoringParameter.objects.create(
        county=county["county"], year=YEAR, rural_income_amount=Decimal("14000.00")
    )
    assert selectors.rural_income(county_code="421321", year=YEAR) == Decimal("14000.00")
    assert selectors.deadlines(county_code="421321", year=YEAR)["assign_within_days"] == 3  # its own row's
    assert selectors.rural_income(county_code="420102", year=YEAR) is None
