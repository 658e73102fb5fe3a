"""Indicator pages above the county (issue 21 item 4): the dashboard drills province → city → county →
township → village → person for the city's and the province's users, the city's self-assessment report
sets its counties side by side, and nobody sees a region outside their own (a guessed URL is a 404)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from django.urls import reverse

from jkfp.accounts.models import AuditEvent, Role
from jkfp.indicators import services
from jkfp.indicators.tests.factories import YEAR, World, build_world
from jkfp.indicators.tests.test_levels import _second_county
from jkfp.regions.models import Region, RegionLevel

pytestmark = pytest.mark.django_db
PROVINCE, CITY, COUNTY, OTHER = "420000", "421300", "421321", "421381"


@pytest.fixture
def city(county: dict[str, Any], make_user: Callable[..., Any]) -> dict[str, Any]:
    province = Region.objects.create(code=PROVINCE, name="湖北省", level=RegionLevel.PROVINCE)
    city = Region.objects.create(code=CITY, name="随州市", level=RegionLevel.CITY, parent=province)
    Region.objects.filter(code=COUNTY).update(parent=city)
    first: World = build_world(county, make_user)
    second: World = build_world(_second_county(city), make_user)
    services.snapshot_refresh(year=YEAR)
    return {
        "first": first,
        "second": second,
        "city_admin": make_user(Role.CITY_ADMIN, CITY),
        "city_inspector": make_user(Role.CITY_INSPECTOR, CITY),
        "province_admin": make_user(Role.PROVINCE_ADMIN, PROVINCE),
    }


def _page(client: Any, region: str | None = None) -> Any:
    params: dict[str, Any] = {"year": YEAR}
    if region:
        params["region"] = region
    return client.get(reverse("indicators:dashboard"), params)


def test_the_dashboard_drills_from_the_province_to_a_person(city: dict[str, Any], login: Any) -> None:
    client = login(city["province_admin"])
    page = _page(client).content.decode()
    assert "湖北省" in page and f"region={CITY}" in page  # the province with its city as a column
    page = _page(client, CITY).content.decode()
    assert f"region={COUNTY}" in page and f"region={OTHER}" in page  # the city's two counties
    page = _page(client, OTHER).content.decode()
    assert "广水第1镇" in page and f"region={OTHER}001000" in page
    page = _page(client, f"{OTHER}001000").content.decode()
    assert f"region={OTHER}001001" in page
    assert _page(client, f"{OTHER}001001").status_code == 200
    # The village's figure links to its persons: 广水市's own 甲, not 随县's.
    drill = client.get(
        reverse("indicators:drill", args=["verification_rate", "denominator"]),
        {"year": YEAR, "region": f"{OTHER}001001"},
    )
    assert drill.status_code == 200
    persons = city["second"].persons
    assert persons["A"].id_number[:6] == OTHER
    text = drill.content.decode()
    assert "甲" in text and city["first"].persons["A"].id_number[-4:] not in text


def test_a_city_user_sees_its_counties_and_nothing_else(city: dict[str, Any], login: Any) -> None:
    client = login(city["city_admin"])
    assert _page(client).status_code == 200
    assert _page(client, OTHER).status_code == 200
    assert _page(client, PROVINCE).status_code == 404  # above the city
    inspector = login(city["city_inspector"])
    assert _page(inspector, f"{COUNTY}001001").status_code == 200
    before = AuditEvent.objects.count()
    drill = inspector.get(
        reverse("indicators:drill", args=["verification_rate", "numerator"]), {"year": YEAR, "region": CITY}
    )
    assert drill.status_code == 200 and AuditEvent.objects.count() > before  # a drill to persons is audited
    assert inspector.post(reverse("indicators:refresh"), {"year": YEAR}).status_code == 403


def test_a_county_user_never_sees_the_city_or_the_other_county(city: dict[str, Any], login: Any) -> None:
    client = login(city["first"].users["admin"])
    assert _page(client).status_code == 200
    for region in (CITY, PROVINCE, OTHER, f"{OTHER}001000", f"{OTHER}001001"):
        assert _page(client, region).status_code == 404, region
        drill = client.get(
            reverse("indicators:drill", args=["verification_rate", "denominator"]),
            {"year": YEAR, "region": region},
        )
        assert drill.status_code == 404, region
        assert client.get(reverse("indicators:report"), {"year": YEAR, "region": region}).status_code == 404


def test_the_city_report_sets_its_counties_side_by_side(city: dict[str, Any], login: Any) -> None:
    from docx import Document

    client = login(city["city_admin"])
    response = client.get(reverse("indicators:report"), {"year": YEAR})
    assert response.status_code == 200
    document = Document(BytesIO(b"".join(response.streaming_content)))
    response.close()
    text = "\n".join(p.text for p in document.paragraphs)
    assert "随州市" in text and "各县（市、区）主要指标对比" in text
    assert "参保率：目标人数 14，参保人数 8，参保率 57.14%。" in text  # 2 × the county's 4 of 7
    assert len(document.tables) == 2  # the summary, then the counties side by side
    side = document.tables[1]
    assert [c.text for c in side.rows[0].cells] == ["指标", "随州市（合计）", "随县", "广水市"]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in side.rows}
    assert rows["参保率"][1:] == ["57.14%（8/14）", "57.14%（4/7）", "57.14%（4/7）"]
