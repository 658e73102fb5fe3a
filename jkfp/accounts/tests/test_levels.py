"""区划级别 Regions up to the province (issue 21 item 1): prefixes follow the level, users bind to any."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from jkfp.accounts.models import READ_ONLY_ROLES, Role
from jkfp.accounts.scoping import region_narrow, scope, user_sees_code
from jkfp.regions.models import Region, RegionLevel, scope_prefix


@pytest.mark.parametrize(
    ("code", "level", "prefix"),
    [
        ("420000", RegionLevel.PROVINCE, "42"),
        ("421300", RegionLevel.CITY, "4213"),
        ("421321", RegionLevel.COUNTY, "421321"),
        ("421321001000", RegionLevel.TOWNSHIP, "421321001"),
        ("421321001002", RegionLevel.VILLAGE, "421321001002"),
    ],
)
def test_scope_prefix_follows_the_level(code: str, level: str, prefix: str) -> None:
    assert scope_prefix(code, level) == prefix


def test_new_inspectors_are_read_only() -> None:
    assert {Role.INSPECTOR, Role.CITY_INSPECTOR, Role.PROVINCE_INSPECTOR} == READ_ONLY_ROLES


@pytest.mark.django_db
def test_city_and_province_users_see_their_counties_and_nothing_else(
    two_counties: dict[str, Any], make_user: Any
) -> None:
    city_admin = make_user(Role.CITY_ADMIN, "421300")
    province_inspector = make_user(Role.PROVINCE_INSPECTOR, "420000")
    county_admin = make_user(Role.COUNTY_ADMIN, "421321")
    for user in (city_admin, province_inspector):
        assert user_sees_code(user, "421321001002") and user_sees_code(user, "421303001001")
    # 仙桃市 (directly under the province) and 武汉: the province's, not the city's; 湖南: nobody's here.
    for code in ("429004001001", "420100001001"):
        assert user_sees_code(province_inspector, code) and not user_sees_code(city_admin, code)
    assert not user_sees_code(province_inspector, "430100001001")
    assert user_sees_code(county_admin, "421321001002")
    assert not user_sees_code(county_admin, "421303001001")


@pytest.mark.django_db
def test_a_region_parameter_narrows_the_scope_and_never_widens_it(
    two_counties: dict[str, Any], make_user: Any
) -> None:
    county_admin = make_user(Role.COUNTY_ADMIN, "421321")
    city_admin = make_user(Role.CITY_ADMIN, "421300")

    def codes(user: Any, region: str | None) -> set[str]:
        villages = scope(Region.objects.filter(level=RegionLevel.VILLAGE), user, "code")
        return set(region_narrow(villages, region, "code").values_list("code", flat=True))

    everything = codes(city_admin, None)
    assert {"421303001001", "421303001002"} < everything and codes(city_admin, "  ") == everything
    assert codes(city_admin, "421303") == {"421303001001", "421303001002"}  # a county of the city
    assert codes(city_admin, "421303001002") == {"421303001002"}  # one village
    # Another county's code asked by a county user: nothing (the scope still applies), as for no code.
    assert codes(county_admin, "421303") == set() and codes(county_admin, "421303001001") == set()
    assert codes(county_admin, "东城") == set() and codes(county_admin, "4213030010") == set()
    assert codes(county_admin, None) == everything - {"421303001001", "421303001002"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "code"),
    [
        (Role.CITY_ADMIN, "421321"),
        (Role.CITY_ADMIN, "420000"),
        (Role.PROVINCE_ADMIN, "421300"),
        (Role.CITY_INSPECTOR, "421321001000"),
        (Role.COUNTY_ADMIN, "421300"),
    ],
)
def test_a_role_binds_to_its_own_level_only(
    two_counties: dict[str, Any], make_user: Any, role: str, code: str
) -> None:
    with pytest.raises(ValidationError, match="不能绑定到"):
        make_user(role, code)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("42", "420000"),
        ("4213", "421300"),
        ("421300000000", "421300"),
        ("421321", "421321"),
        ("421321000000", "421321"),
        ("421321001", "421321001000"),
        ("421321001002", "421321001002"),
        ("4213x", None),
        ("42132", None),
    ],
)
def test_a_typed_region_code_reads_as_its_stored_form(typed: str, stored: str | None) -> None:
    from jkfp.regions.models import stored_code

    assert stored_code(typed) == stored


@pytest.mark.django_db
def test_createuser_takes_a_city_code_in_any_form(two_counties: dict[str, Any], make_user: Any) -> None:
    assert make_user(Role.CITY_INSPECTOR, "4213").region_id == "421300"


def test_allowed_is_the_matrix_for_every_role_and_url() -> None:
    from types import SimpleNamespace

    from django.contrib.auth.models import AnonymousUser

    from jkfp.accounts.permissions import MATRIX, allowed

    users = [SimpleNamespace(role=role, is_authenticated=True, is_active=True) for role in Role]
    for name, entry in MATRIX.items():
        for user in users:
            for write in (False, True):
                expected = entry.public or entry.allows(user.role, write=write)
                assert allowed(user, name, write=write) is expected, (name, user.role, write)
        assert allowed(AnonymousUser(), name) is entry.public
    assert not allowed(users[0], "web:no_such_page")
    assert not allowed(
        SimpleNamespace(role=Role.COUNTY_ADMIN, is_authenticated=True, is_active=False), "web:home"
    )
