"""结算政策页 The read-only policies page (issue 21 item 3): a county administrator or inspector sees
its own county's, its city's, its province's and the deployment's policies — never a neighbouring
county's; a city administrator also its counties'; a role without it gets 403."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jkfp.accounts.models import Role
from jkfp.settlement import services
from jkfp.settlement.models import Policy
from jkfp.settlement.tests.test_region_policies import preset_text


@pytest.fixture
def policies(two_counties: dict[str, Any]) -> dict[str, Policy]:
    Policy.objects.all().delete()
    out = {}
    for key, region in (
        ("deployment", None),
        ("province", two_counties["province"]),
        ("city", two_counties["city"]),
        ("a", two_counties["county"]),
        ("b", two_counties["b"]),
    ):
        text = preset_text("suixian-2020", as_name=f"政策-{key}")
        out[key] = services.policy_upload(text=text, fmt="toml", region=region)
    return out


def shown(client: Client) -> set[str]:
    response = client.get("/settlement/policies/")
    assert response.status_code == 200
    return {p.name for p in response.context["policies"]}


def test_each_level_sees_its_own_and_above_never_a_neighbour(
    policies: dict[str, Policy], make_user: Any
) -> None:
    client = Client()
    client.force_login(make_user(Role.COUNTY_ADMIN, "421321", username="a_admin"))
    assert shown(client) == {"政策-deployment", "政策-province", "政策-city", "政策-a"}
    page = client.get("/settlement/policies/").content.decode()
    assert "政策-b" not in page and "随县（421321）" in page and "曾都区" not in page
    client.force_login(make_user(Role.INSPECTOR, "421303", username="b_inspector"))
    assert shown(client) == {"政策-deployment", "政策-province", "政策-city", "政策-b"}
    client.force_login(make_user(Role.CITY_ADMIN, "421300", username="city_admin"))
    assert shown(client) == {"政策-deployment", "政策-province", "政策-city", "政策-a", "政策-b"}
    client.force_login(make_user(Role.PROVINCE_INSPECTOR, "420000", username="prov_inspector"))
    assert len(shown(client)) == 5
    client.force_login(make_user(Role.TOWNSHIP, "421321001000", username="township"))
    assert client.get("/settlement/policies/").status_code == 403
    client.force_login(make_user(Role.HOSPITAL, "421321", username="clerk", institution_code="H001"))
    assert client.get("/settlement/policies/").status_code == 403
