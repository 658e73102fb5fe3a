"""The admin site keeps a county administrator inside the county, and shows no persons at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jkfp.regions.models import Region, RegionLevel


@pytest.fixture
def other_county(county: dict[str, Any]) -> Region:
    return Region.objects.create(code="421302", name="曾都区", level=RegionLevel.COUNTY)


def test_user_list_shows_only_users_of_own_county(make_user: Any, other_county: Region) -> None:
    admin = make_user("county_admin", "421321", username="admin_suixian")
    make_user("township", "421321001000", username="own_township")
    make_user("county_admin", other_county.code, username="admin_zengdu")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "own_township" in body
    assert "admin_zengdu" not in body
    other = admin.__class__.objects.get(username="admin_zengdu")
    assert client.get(f"/admin/accounts/user/{other.pk}/change/").status_code in {302, 404}


def test_region_list_is_scoped(make_user: Any, other_county: Region) -> None:
    admin = make_user("county_admin", "421321")
    client = Client()
    client.force_login(admin)
    body = client.get("/admin/regions/region/").content.decode()
    assert "第1镇" in body
    assert "曾都区" not in body


def test_persons_are_not_in_the_admin(make_user: Any) -> None:
    admin = make_user("county_admin", "421321")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/registry/person/").status_code == 404
    assert client.get("/admin/registry/disease/").status_code == 200


def test_care_teams_are_scoped_and_settings_editable(
    make_user: Any, county: dict[str, Any], other_county: Region
) -> None:
    from jkfp.care.models import Team

    other_town = Region.objects.create(
        code="421302001000", name="曾都区第1镇", level=RegionLevel.TOWNSHIP, parent=other_county
    )
    Team.objects.create(name="第1镇家庭医生一队", township=county["t1"], institution=county["clinic"])
    far = Team.objects.create(name="曾都区家庭医生队", township=other_town, institution=county["clinic"])
    admin = make_user("county_admin", "421321")
    client = Client()
    client.force_login(admin)
    body = client.get("/admin/care/team/").content.decode()
    assert "第1镇家庭医生一队" in body and "曾都区家庭医生队" not in body
    assert client.get(f"/admin/care/team/{far.pk}/change/").status_code in {302, 404}
    for path in (
        "/admin/care/followuprule/",
        "/admin/care/servicepackage/",
        "/admin/indicators/premiumrule/",
        "/admin/capacity/capacitystandard/",
    ):
        assert client.get(path).status_code == 200, path
