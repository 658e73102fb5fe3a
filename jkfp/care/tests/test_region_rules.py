"""Follow-up rules per region (issue 21 item 3): per disease the row of the most specific region
containing the person's county wins — the county's over its city's over its province's over the
default row (no region) over the shipped §6 table."""

from __future__ import annotations

from typing import Any

from jkfp.care.models import FollowUpRule
from jkfp.care.selectors import rules_for
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import Disease, DiseaseKind


def rule(region: Region | None, disease: Disease, visits: int) -> FollowUpRule:
    return FollowUpRule.objects.create(county=region, disease=disease, visits_per_year=visits)


def test_the_county_row_overrides_the_default_row_per_disease(county: dict[str, Any]) -> None:
    a = Disease.objects.create(name="测试慢病甲", kind=DiseaseKind.CHRONIC, visits_per_year=2)
    b = Disease.objects.create(name="测试慢病乙", kind=DiseaseKind.CHRONIC, visits_per_year=2)
    other = Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY)
    rule(None, a, 3)
    rule(None, b, 5)
    rule(county["county"], a, 6)
    rule(other, b, 12)
    suixian = rules_for(county_code="421321")
    assert (suixian[a.pk].visits_per_year, suixian[b.pk].visits_per_year) == (6, 5)
    zengdu = rules_for(county_code="421303")
    assert (zengdu[a.pk].visits_per_year, zengdu[b.pk].visits_per_year) == (3, 12)
    # A county without rows of its own: the default rows.
    assert (rules_for(county_code="421381")[a.pk].visits_per_year, rules_for()[b.pk].visits_per_year) == (
        3,
        5,
    )


def test_county_over_city_over_province_over_default(county: dict[str, Any]) -> None:
    a = Disease.objects.create(name="测试慢病丙", kind=DiseaseKind.CHRONIC, visits_per_year=2)
    hubei = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=hubei)
    rule(None, a, 1)
    rule(hubei, a, 2)
    rule(suizhou, a, 3)
    rule(county["county"], a, 4)
    got = {
        code: rules_for(county_code=code)[a.pk].visits_per_year
        for code in ("421321", "421381", "420102", "110101")
    }
    assert got == {"421321": 4, "421381": 3, "420102": 2, "110101": 1}
