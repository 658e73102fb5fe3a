"""The admin site keeps a county administrator inside the county, and shows no persons at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
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


def _change(client: Client, user: Any, **fields: Any) -> Any:
    """POST the admin's change form of ``user`` with its current values and ``fields`` changed."""
    data = {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "region": user.region_id or "",
        "institution": user.institution_id or "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2020-01-01",
        "date_joined_1": "00:00:00",
        **fields,
    }
    return client.post(f"/admin/accounts/user/{user.pk}/change/", data)


def test_a_county_administrator_cannot_make_a_city_account(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """Issue 21: the admin's user form checks role and region against the editing administrator."""
    admin = make_user("county_admin", "421321", username="admin_suixian")
    clerk = make_user("township", "421321001000", username="clerk")
    client = Client()
    client.force_login(admin)
    refused = _change(client, clerk, role="city_admin", region="421300")
    assert refused.status_code == 200 and "只能在本人管辖区划内设置用户" in refused.content.decode()
    clerk.refresh_from_db()
    assert (clerk.role, clerk.region_id) == ("township", "421321001000")
    # Nor grant superuser: the privilege fields are read-only for a non-superuser.
    _change(client, clerk, is_superuser="on", is_staff="on")
    clerk.refresh_from_db()
    assert not clerk.is_superuser and not clerk.is_staff
    # Within the county, a role fitting the level is fine.
    moved = _change(client, clerk, region="421321002000")
    assert moved.status_code == 302, moved.content.decode()[:500]
    clerk.refresh_from_db()
    assert clerk.region_id == "421321002000"


def test_a_city_administrator_manages_the_accounts_of_its_counties(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    city = make_user("city_admin", "421300", username="admin_suizhou")
    make_user("county_admin", "421303", username="admin_zengdu")
    make_user("township", "421321001000", username="clerk_suixian")
    client = Client()
    client.force_login(city)
    body = client.get("/admin/accounts/user/").content.decode()
    assert "admin_zengdu" in body and "clerk_suixian" in body
    assert client.get("/admin/regions/region/").status_code == 200
    assert client.get("/admin/care/team/").status_code == 403  # a county's care teams are not the city's
    clerk = admin_user = city.__class__.objects.get(username="clerk_suixian")
    promoted = _change(client, clerk, role="county_admin", region="421303")
    assert promoted.status_code == 302
    refused = _change(client, admin_user, role="province_admin", region="420000")
    assert "只能在本人管辖区划内设置用户" in refused.content.decode()


def test_a_county_administrator_cannot_widen_their_region_by_its_level(make_user: Any) -> None:
    """Security S1: the region's scope comes from its code's digits; its level, code and parent are
    read-only for a non-superuser in the admin, and a level not matching the code is refused."""
    admin = make_user("county_admin", "421321", username="admin_suixian")
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/regions/region/421321/change/", {"code": "421321", "name": "随县", "level": "province"}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    region = Region.objects.get(code="421321")
    assert region.level == RegionLevel.COUNTY
    # Even a level changed behind the admin's back does not widen the scope.
    region.level = RegionLevel.PROVINCE
    assert region.prefix == "421321"
    with pytest.raises(ValidationError) as refused:
        region.full_clean()
    assert "级别不能设为省" in str(refused.value)


def test_a_county_administrator_cannot_bind_a_clerk_to_another_countys_hospital(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """Security S3: the institution of a hospital account must lie in the administrator's region, in
    the admin's user form and in ``user_create`` (an outside hospital by its 县外地区代码)."""
    from jkfp.accounts.services import user_create
    from jkfp.regions.models import Institution

    admin = make_user("county_admin", "421321", username="admin_suixian")
    clerk = make_user("hospital", "421321", username="window", institution_code="H001")
    client = Client()
    client.force_login(admin)
    refused = _change(client, clerk, institution="H101")
    assert refused.status_code == 200 and "只能绑定本人管辖区划内的医疗机构" in refused.content.decode()
    clerk.refresh_from_db()
    assert clerk.institution_id == "H001"
    with pytest.raises(ValidationError) as error:
        user_create(
            username="window_b",
            password="x-Very-long-9",
            role="hospital",
            region_code="421321",
            institution_code="H101",
            admin=admin,
        )
    assert "institution" in error.value.message_dict
    wuhan = Institution.objects.create(
        code="W001", name="武汉协和医院", level="3", in_county=False, outside_region_code="420102"
    )
    with pytest.raises(ValidationError):
        user_create(
            username="window_w",
            password="x-Very-long-9",
            role="hospital",
            region_code="421321",
            institution_code=wuhan.code,
            admin=admin,
        )
    # Its own county's hospital is fine.
    own = user_create(
        username="window_a",
        password="x-Very-long-9",
        role="hospital",
        region_code="421321",
        institution_code="H001",
        admin=admin,
    )
    assert own.institution_id == "H001"


def test_institutions_and_region_rules_are_limited_to_the_editors_region(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """Security S2: county A's administrator cannot open county B's hospital or rules, cannot save a
    rule for another region, and only reads (never changes) a deployment-wide rule."""
    from jkfp.indicators.models import PremiumRule

    b_rule = PremiumRule.objects.create(
        year=2026, tag="poor", premium_amount="380.00", subsidy_amount="380.00", region=two_counties["b"]
    )
    shared = PremiumRule.objects.create(
        year=2026, tag="poor", premium_amount="380.00", subsidy_amount="200.00"
    )
    admin = make_user("county_admin", "421321", username="admin_suixian")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/regions/institution/H101/change/").status_code in {302, 404}
    assert client.get("/admin/regions/institution/H001/change/").status_code == 200
    assert client.get(f"/admin/indicators/premiumrule/{b_rule.pk}/change/").status_code in {302, 404}
    rule = {"year": "2026", "tag": "poor", "premium_amount": "380.00", "subsidy_amount": "300.00"}
    refused = client.post("/admin/indicators/premiumrule/add/", {**rule, "region": "421303"})
    assert refused.status_code == 200 and not PremiumRule.objects.filter(subsidy_amount="300.00").exists()
    added = client.post("/admin/indicators/premiumrule/add/", {**rule, "region": "421321", "scope": "42"})
    assert added.status_code == 302, added.content.decode()[:500]
    assert PremiumRule.objects.get(subsidy_amount="300.00").scope == "421321"
    twice = client.post("/admin/indicators/premiumrule/add/", {**rule, "region": "421321"})
    assert twice.status_code == 200 and "已有参保资助规则" in twice.content.decode()
    client.post(f"/admin/indicators/premiumrule/{shared.pk}/change/", {**rule, "subsidy_amount": "1.00"})
    shared.refresh_from_db()
    assert str(shared.subsidy_amount) == "200.00"


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_county_administrator_adds_regions_only_below_its_own(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """The region admin's add form: a county administrator adds a township or village of its own
    county (under a parent of its county, the code below the parent) — not a region of another
    county, not a new county, not its own code again."""
    client = _login(make_user("county_admin", "421321"))
    add = "/admin/regions/region/add/"
    refused = [
        ({"code": "421303001009", "level": "village", "parent": "421303001000"}, "another county's village"),
        ({"code": "421399", "level": "county", "parent": "421300"}, "a new county of the city"),
        ({"code": "421321", "level": "county", "parent": "421300"}, "its own county again"),
        ({"code": "421321001009", "level": "village", "parent": "421303001000"}, "a parent outside"),
        ({"code": "421321002009", "level": "village", "parent": "421321001000"}, "not below the parent"),
        ({"code": "421321001009", "level": "village"}, "no parent"),
    ]
    for data, what in refused:
        response = client.post(add, {**data, "name": "新村"})
        assert response.status_code == 200, what
        assert not Region.objects.filter(name="新村").exists(), what
    added = client.post(
        add, {"code": "421321001009", "level": "village", "parent": "421321001000", "name": "新村"}
    )
    assert added.status_code == 302, added.content.decode()[:500]
    assert Region.objects.get(name="新村").parent_id == "421321001000"


def _options(client: Client, path: str, field: str) -> set[str]:
    import re

    body = client.get(path).content.decode()
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', body, re.S)
    assert select is not None, path
    return set(re.findall(r'<option value="([^"]+)"', select.group(1)))


RULE_ADMINS = {
    "/admin/monitoring/alertrule/add/": "county",
    "/admin/monitoring/monitoringparameter/add/": "county",
    "/admin/care/followuprule/add/": "county",
    "/admin/indicators/premiumrule/add/": "region",
}


def test_rule_admins_offer_province_city_county_within_the_editors_region(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """The region of a rule is a province, city or county inside the editor's region: never a
    township or village, never a region outside (a county administrator: its county only)."""
    city = _login(make_user("city_admin", "421300"))
    county = _login(make_user("county_admin", "421321"))
    for path, field in RULE_ADMINS.items():
        assert _options(city, path, field) == {"421300", "421321", "421303"}, path
        assert _options(county, path, field) == {"421321"}, path
    # A township typed in is refused too (the form validates against the same choices).
    from jkfp.monitoring.models import AlertRule

    rule = {"year": "2026", "code": "t", "name": "t", "kind": "person_oop", "tag_match": "any"}
    rule |= {"basis": "amount", "threshold_amount": "100.00", "active": "on"}
    for code in ("421321001000", "421321001001", "421303"):
        response = county.post("/admin/monitoring/alertrule/add/", {**rule, "county": code})
        assert response.status_code == 200 and not AlertRule.objects.filter(code="t").exists(), code
    assert county.post("/admin/monitoring/alertrule/add/", {**rule, "county": "421321"}).status_code == 302
    assert AlertRule.objects.get(code="t").county_id == "421321"


def test_the_disease_catalogue_rows_are_changed_by_a_superuser_only(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """The ``Disease`` rows are the whole deployment's catalogue (every county's cases, cards and rules name
    them): a county administrator neither changes nor deletes one — a county changes the catalogue for
    itself with a ``CatalogueEntry`` — and a disease it adds enters its own county's catalogue only."""
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from jkfp.registry.disease_catalogue import catalogue_on
    from jkfp.registry.models import CatalogueEntry, Disease

    disease = Disease.objects.create(name="测试病", kind="major", icd10="Z99")
    admin = make_user("county_admin", "421321")
    codenames = set(admin.user_permissions.values_list("codename", flat=True))
    assert {"view_disease", "add_disease", "add_catalogueentry", "change_catalogueentry"} <= codenames
    assert not codenames & {"change_disease", "delete_disease"}
    client = _login(admin)
    assert client.get(f"/admin/registry/disease/{disease.pk}/change/").status_code == 200  # read only
    form = {"name": "改名", "kind": "major", "icd10": "Z99", "aliases": "", "visits_per_year": "0"}
    client.post(f"/admin/registry/disease/{disease.pk}/change/", form)
    disease.refresh_from_db()
    assert disease.name == "测试病"
    assert client.post(f"/admin/registry/disease/{disease.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Disease.objects.filter(pk=disease.pk).exists()

    # A disease the list lacks, added by 随县: in 随县's catalogue, not in 曾都区's nor the deployment's.
    assert client.post("/admin/registry/disease/add/", {**form, "name": "县加病种"}).status_code == 302
    added = Disease.objects.get(name="县加病种")
    today = timezone.localdate()
    assert added.pk in catalogue_on("421321", today)
    assert added.pk not in catalogue_on("421303", today) and added.pk not in catalogue_on("", today)
    assert disease.pk in catalogue_on("421303", today)  # the rows a superuser added stay everyone's
    entries = {(e.region_id, e.included) for e in CatalogueEntry.objects.filter(disease=added)}
    assert entries == {(None, False), ("421321", True)}
    # A township account has no admin: a township region cannot hold a catalogue entry.
    assert _login(make_user("township", "421321001000")).get("/admin/registry/disease/add/").status_code in {
        302,
        403,
    }

    root = make_user("county_admin", "421321", username="root")
    root.is_superuser = True
    root.save()
    superuser = _login(root)
    assert (
        superuser.post(f"/admin/registry/disease/{disease.pk}/change/", form).status_code == 302
    )  # the same form
    disease.refresh_from_db()
    assert disease.name == "改名"
    assert superuser.post("/admin/registry/disease/add/", {**form, "name": "全系统病种"}).status_code == 302
    assert Disease.objects.get(name="全系统病种").pk in catalogue_on("421303", today)  # everyone's
    assert superuser.post(f"/admin/registry/disease/{disease.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Disease.objects.filter(pk=disease.pk).exists()

    # An account made before this release held every action on both catalogues: the migration takes away
    # what the admin refuses and leaves the rest.
    from importlib import import_module

    from django.apps import apps

    every = Permission.objects.filter(
        content_type__app_label__in=("registry", "care"),
        codename__in=[f"{a}_{m}" for a in ("add", "change", "delete") for m in ("disease", "servicepackage")],
    )
    assert every.count() == 6
    admin.user_permissions.add(*every)
    import_module("jkfp.accounts.migrations.0008_deployment_catalogue_permissions").revoke(apps, None)
    assert set(admin.user_permissions.values_list("codename", flat=True)) == codenames


def test_packages_standards_and_teams_stay_in_the_editors_region(
    make_user: Any, two_counties: dict[str, Any]
) -> None:
    """ServicePackage is one catalogue for the deployment: a county administrator reads it, only a
    superuser changes it. A capacity standard or a team of another county is neither shown nor
    changed, nor added for another county's region (or an institution of another county)."""
    from jkfp.capacity.models import CapacityStandard
    from jkfp.care.models import ServicePackage, Team

    package = ServicePackage.objects.create(name="基础包", items="血压测量")
    b_standard = CapacityStandard.objects.create(county=two_counties["b"], start_on="2020-01-01")
    b_team = Team.objects.create(name="曾都一队", township=two_counties["b_t1"])
    client = _login(make_user("county_admin", "421321"))
    assert client.get("/admin/care/servicepackage/").status_code == 200
    assert client.get(f"/admin/care/servicepackage/{package.pk}/change/").status_code == 200  # read only
    assert client.post("/admin/care/servicepackage/add/", {"name": "新包"}).status_code == 403
    client.post(f"/admin/care/servicepackage/{package.pk}/change/", {"name": "改名", "items": ""})
    package.refresh_from_db()
    assert package.name == "基础包"
    assert client.post(f"/admin/care/servicepackage/{package.pk}/delete/", {"post": "yes"}).status_code == 403

    body = client.get("/admin/capacity/capacitystandard/").content.decode()
    assert "曾都区" not in body
    assert client.get(f"/admin/capacity/capacitystandard/{b_standard.pk}/change/").status_code in {302, 404}
    standard = {"start_on": "2021-01-01", "county_hospitals_min": "1", "county_hospital_level_min": "2"}
    standard |= {"township_physicians_min": "1", "clinic_doctors_min": "1"}
    for code in ("421303", "421321001000"):
        response = client.post("/admin/capacity/capacitystandard/add/", {**standard, "county": code})
        added = CapacityStandard.objects.filter(county_id=code, start_on="2021-01-01")
        assert response.status_code == 200 and not added.exists(), code
    ok = client.post("/admin/capacity/capacitystandard/add/", {**standard, "county": "421321"})
    assert ok.status_code == 302, ok.content.decode()[:500]

    assert client.get(f"/admin/care/team/{b_team.pk}/change/").status_code in {302, 404}
    inline = {"members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "0"}
    inline["members-MAX_NUM_FORMS"] = "1000"
    for data in (
        {"name": "新队", "township": "421303001000"},  # another county's township
        {"name": "新队", "township": "421321001001"},  # a village, not a township
        {"name": "新队", "township": "421321001000", "institution": "H101"},  # another county's hospital
    ):
        response = client.post("/admin/care/team/add/", {**data, **inline})
        assert response.status_code == 200 and not Team.objects.filter(name="新队").exists(), data
    ok = client.post("/admin/care/team/add/", {"name": "新队", "township": "421321001000", **inline})
    assert ok.status_code == 302, ok.content.decode()[:500]
