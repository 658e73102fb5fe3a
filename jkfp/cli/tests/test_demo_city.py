"""`jkfp demo --counties N` (issue 21 item 5): a city of N counties, each with its own policy version,
hospitals that treat each other's residents, city accounts — and the city's indicators are the sums of
its counties'."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from jkfp.accounts.models import Role, User
from jkfp.cli.tests.test_demo import printed_accounts
from jkfp.indicators.models import IndicatorSnapshot
from jkfp.regions.models import Region, RegionLevel
from jkfp.settlement.models import Claim, Policy, Settlement

pytestmark = pytest.mark.django_db(transaction=False)

CITY, FIRST, SECOND = "421300", "421321", "421381"


def test_demo_city_of_two_counties(tmp_path: Path) -> None:
    buf = io.StringIO()
    call_command("demo", persons=300, counties=2, out=tmp_path, stdout=buf)
    output = buf.getvalue()
    year = timezone.localdate().year

    city = Region.objects.get(code=CITY)
    assert city.level == RegionLevel.CITY and city.parent_id is None
    for code in (FIRST, SECOND):
        county = Region.objects.get(code=code)
        assert (county.level, county.parent_id) == (RegionLevel.COUNTY, CITY)
        assert Region.objects.filter(code__startswith=code, level=RegionLevel.VILLAGE).exists()

    # The logins are printed: each county's accounts (the first county's as in the one-county demo) and the city's.
    accounts = printed_accounts(output)
    for username in (
        "demo-admin",
        "demo-admin-421381",
        "demo-doctor-421381",
        "demo-city-admin",
        "demo-city-inspector",
    ):
        assert accounts.get(username) == "jkfp-demo-2026", username
    assert (
        User.objects.get(username="demo-city-admin").role,
        User.objects.get(username="demo-city-admin").region_id,
    ) == (
        Role.CITY_ADMIN,
        CITY,
    )
    assert User.objects.get(username="demo-city-inspector").role == Role.CITY_INSPECTOR
    assert User.objects.get(username="demo-admin-421381").region_id == SECOND

    # Each county its own policy version, bound to it; the second's basic ratios are one point lower.
    own = {code: Policy.objects.get(name=f"demo-{year}-{code}") for code in (FIRST, SECOND)}
    assert {code: p.region_id for code, p in own.items()} == {FIRST: FIRST, SECOND: SECOND}
    assert '"1" = "0.89"' in own[SECOND].source_text and '"1" = "0.90"' in own[FIRST].source_text
    for code, policy in own.items():
        live = Settlement.objects.filter(
            is_current=True, claim__discharged_on__year=year, claim__person__village__code__startswith=code
        )
        assert live.exists()
        assert not live.exclude(policy=policy).exists(), code  # the county's own policy is in force

    # Hospitals treat each other's residents: stays of each county's persons in the other's hospitals.
    for home, other in ((FIRST, SECOND), (SECOND, FIRST)):
        assert Claim.objects.filter(
            person__village__code__startswith=home, institution__region__code__startswith=other
        ).exists(), home

    # The city's indicators are the sums of its two counties' numerators and denominators.
    rows = IndicatorSnapshot.objects.filter(year=year, month=0, region_code__in=[CITY, FIRST, SECOND])
    by = {(r.region_code, r.code): (r.numerator, r.denominator) for r in rows}
    checked = 0
    for (region, code), (num, den) in by.items():
        if region != CITY or den is None:
            continue
        parts = [by[(c, code)] for c in (FIRST, SECOND) if by[(c, code)][1] is not None]
        assert (num, den) == (
            sum((p[0] or Decimal(0) for p in parts), Decimal(0)),
            sum((p[1] or Decimal(0) for p in parts), Decimal(0)),
        ), code
        checked += 1
    assert checked >= 10


def test_demo_counties_bounds(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--counties"):
        call_command("demo", persons=100, counties=0, out=tmp_path, stdout=io.StringIO())
