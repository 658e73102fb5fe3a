"""Monitoring rules and parameters per region (issue 21 item 3): per rule code the row of the most
specific region containing the county; a county row (even an inactive one) overrides its city's,
a city's its province's, a province's the deployment-wide defaults (written once a year)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from jkfp.monitoring import rules, selectors, services
from jkfp.monitoring.models import Alert, AlertRule, MonitoringParameter, RuleKind
from jkfp.monitoring.tests.factories import YEAR as SCAN_YEAR
from jkfp.monitoring.tests.factories import MonitorWorld
from jkfp.regions.models import Region, RegionLevel

YEAR = 2020


def rule(region: Region, code: str, amount: str, *, active: bool = True, year: int = YEAR) -> AlertRule:
    return AlertRule.objects.create(
        county=region,
        year=year,
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

    def got(code: str) -> dict[str, tuple[str | None, Decimal | None, bool]]:
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
    # The defaults are deployment-wide: written once a year, they fill only the codes no region sets.
    assert services.alert_rules_ensure_defaults(year=YEAR) == 3
    assert services.alert_rules_ensure_defaults(year=YEAR) == 0
    assert not AlertRule.objects.filter(county=zengdu).exists()
    assert got("421303") == {
        "oop_low_income": ("421300", Decimal("5000.00"), True),
        "oop_general": ("420000", Decimal("25000.00"), True),
        "major_disease": (None, None, True),
    }
    # A county of another province has none in its chain: the defaults of domain.md §8.
    other = Region.objects.create(code="110101", name="东城区", level=RegionLevel.COUNTY)
    assert {c: v[:2] for c, v in got(other.code).items()} == {
        "oop_low_income": (None, Decimal("5000.00")),
        "oop_general": (None, Decimal("20000.00")),
        "major_disease": (None, None),
    }


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


def test_a_city_rule_added_after_a_countys_first_scan_applies_to_that_county(mw: MonitorWorld) -> None:
    """M5: the first scan of 随县 writes the defaults; a 随州市 rule of a default's code added after it
    applies to 随县 (the defaults do not shadow it): a poor person with 4,000.00 yuan paid is under
    the default 5,000.00 but alerted by the city's 3,000.00 at the next scan — unless the county
    then sets its own row."""
    from jkfp.monitoring.tests.factories import make_person, pay, tag

    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY)
    Region.objects.filter(code="421321").update(parent=suizhou)
    person = make_person(mw.county["t1v1"], "城市规则")
    tag(person, "poor")
    pay(person, "4000.00", date(SCAN_YEAR, 3, 1), institution=mw.county["hospital"])
    as_of = date(SCAN_YEAR, 9, 30)
    assert services.alert_scan(as_of=as_of).alerts_created == 0
    rule(suizhou, "oop_low_income", "3000.00", year=SCAN_YEAR)
    in_force = {r.code: r for r in selectors.alert_rules_in_force(county_code="421321", year=SCAN_YEAR)}
    assert (in_force["oop_low_income"].county_id, in_force["oop_low_income"].threshold_amount) == (
        "421300",
        Decimal("3000.00"),
    )
    assert in_force["oop_general"].county_id is None  # the default still fills what the city leaves
    assert services.alert_scan(as_of=as_of).alerts_created == 1
    alert = Alert.objects.get(person=person)
    assert (alert.rule.county_id, alert.threshold_amount, alert.amount) == (
        "421300",
        Decimal("3000.00"),
        Decimal("4000.00"),
    )
    rule(
        mw.county["county"], "oop_low_income", "4000.01", year=SCAN_YEAR
    )  # the county's own row overrides the city's
    in_force = {r.code: r for r in selectors.alert_rules_in_force(county_code="421321", year=SCAN_YEAR)}
    assert in_force["oop_low_income"].county_id == "421321"


def test_the_migration_moves_the_county_copies_of_the_defaults_to_the_deployment(mw: MonitorWorld) -> None:
    """The data migration (monitoring 0003): county rows equal to the defaults as the first scan wrote
    them become the deployment's rows, their alerts follow; a county-edited row stays the county's."""
    from importlib import import_module

    from django.apps import apps

    from jkfp.monitoring.tests.factories import make_person, pay, tag

    migration = import_module("jkfp.monitoring.migrations.0003_alert_rule_defaults_deployment_wide")
    county = mw.county["county"]
    old = {
        d.code: AlertRule.objects.create(
            county=county,
            year=SCAN_YEAR,
            code=d.code,
            name=d.name,
            kind=d.kind,
            tag_match=d.tag_match,
            tag_codes=",".join(d.tag_codes),
            threshold_amount=d.threshold_amount,
            note=migration.NOTE,
        )
        for d in rules.DEFAULT_RULES
    }
    AlertRule.objects.filter(pk=old["oop_general"].pk).update(threshold_amount=Decimal("18000.00"))
    person = make_person(mw.county["t1v1"], "旧预警")
    tag(person, "poor")
    pay(person, "6000.00", date(SCAN_YEAR, 3, 1), institution=mw.county["hospital"])
    created = services.alert_scan(as_of=date(SCAN_YEAR, 9, 30)).alerts_created  # on the county copies
    assert created == 1 and Alert.objects.get().rule_id == old["oop_low_income"].pk

    migration.defaults_deployment_wide(apps, None)

    rows = {(r.county_id, r.code): r.threshold_amount for r in AlertRule.objects.filter(year=SCAN_YEAR)}
    assert rows == {
        (None, "oop_low_income"): Decimal("5000.00"),
        (None, "oop_general"): Decimal("20000.00"),  # written by the scan above (today's code)
        (None, "major_disease"): None,
        ("421321", "oop_general"): Decimal("18000.00"),  # edited by the county: its own rule
    }
    alert = Alert.objects.get()
    assert (alert.rule.county_id, alert.rule.code) == (None, "oop_low_income")
    assert services.alert_scan(as_of=date(SCAN_YEAR, 9, 30)).alerts_existing == 1  # not alerted twice
