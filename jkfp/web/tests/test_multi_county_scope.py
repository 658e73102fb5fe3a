"""多县部署的数据范围 Many counties in one deployment (issue 21, Security): a county user never sees
another county, a city user sees its counties only, a province user its province — through pages,
search, exports and the API; a guessed URL of a neighbouring county's person is a 404 audited as a
denial; a province user's export is audited like everyone's."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.accounts.scoping import region_choices
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import Household
from jkfp.web.tests.conftest import add_person
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db

SOURCES: dict[str, dict[str, str]] = {"国家平台": {}, "省系统": {}}


@pytest.fixture
def land(world: Any, two_counties: dict[str, Any], make_user: Any) -> dict[str, Any]:
    """随县 (A, the page tests' world), 曾都区 (B, same city 随州市) and 江岸区 (C, 武汉市, same
    province): one person in B and one in C, and one user per level and role."""
    wuhan = Region.objects.create(
        code="420100", name="武汉市", level=RegionLevel.CITY, parent=two_counties["province"]
    )
    jiangan = Region.objects.create(code="420102", name="江岸区", level=RegionLevel.COUNTY, parent=wuhan)
    street = Region.objects.create(
        code="420102001000", name="大智街道", level=RegionLevel.TOWNSHIP, parent=jiangan
    )
    c_village = Region.objects.create(
        code="420102001001", name="大智社区", level=RegionLevel.VILLAGE, parent=street
    )
    b_home = Household.objects.create(household_no="HH-B", village=two_counties["b_t1v1"])
    c_home = Household.objects.create(household_no="HH-C", village=c_village)
    persons = {
        "a": world.persons["zhang"],
        "b": add_person(two_counties["b_t1v1"], "钱七", 71, household=b_home, sources=SOURCES),
        "c": add_person(c_village, "孙八", 81, household=c_home, sources=SOURCES),
    }
    users = {
        "county_a": world.users["admin"],
        "inspector_a": world.users["inspector"],
        "county_b": make_user(Role.COUNTY_ADMIN, "421303"),
        "city": make_user(Role.CITY_ADMIN, "421300"),
        "city_inspector": make_user(Role.CITY_INSPECTOR, "421300"),
        "province": make_user(Role.PROVINCE_ADMIN, "420000"),
        "province_inspector": make_user(Role.PROVINCE_INSPECTOR, "420000"),
        "city_c": make_user(Role.CITY_ADMIN, "420100"),
    }
    return {"persons": persons, "users": users}


# Which persons each user sees (A 随县, B 曾都区 — both 随州市 —, C 江岸区 of 武汉市).
SEES = {
    "county_a": {"a"},
    "inspector_a": {"a"},
    "county_b": {"b"},
    "city": {"a", "b"},
    "city_inspector": {"a", "b"},
    "province": {"a", "b", "c"},
    "province_inspector": {"a", "b", "c"},
    "city_c": {"c"},
}


def _as(client: Client, user: Any) -> Client:
    client.logout()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_person_and_household_pages_at_every_level(client: Client, land: dict[str, Any]) -> None:
    """Every (user, person): the page when in scope, else a 404 showing nothing, audited as a denial."""
    persons, users = land["persons"], land["users"]
    for who, user in users.items():
        _as(client, user)
        for key, person in persons.items():
            denials = AuditEvent.objects.filter(user=user, action=AuditAction.DENIED).count()
            for url in (
                reverse("web:person_detail", args=[person.pk]),
                reverse("web:household_detail", args=[person.household_id]),
            ):
                response = client.get(url)
                body = response.content.decode()
                if key in SEES[who]:
                    assert response.status_code == 200 and person.name in body, (who, key, url)
                else:
                    assert response.status_code == 404, (who, key, url, response.status_code)
                    assert person.name not in body and person.id_number[-6:] not in body
            if key not in SEES[who]:  # the guessed URLs are in the audit log as denials
                denied = AuditEvent.objects.filter(user=user, action=AuditAction.DENIED)
                assert denied.count() == denials + 2, (who, key)
                assert denied.filter(object_id=reverse("web:person_detail", args=[person.pk])).exists()


def test_search_at_every_level(client: Client, land: dict[str, Any]) -> None:
    persons, users = land["persons"], land["users"]
    for who, user in users.items():
        _as(client, user)
        for key, person in persons.items():
            response = client.get(reverse("web:person_search"), {"q": person.name})
            assert response.status_code == 200, who
            link = reverse("web:person_detail", args=[person.pk])  # a result row (the query echoes the name)
            assert (link in response.content.decode()) == (key in SEES[who]), (who, key)


def test_region_pickers_and_guessed_region_codes(client: Client, land: dict[str, Any]) -> None:
    users = land["users"]
    city = dict(region_choices(user=users["city"]))
    assert {"421321", "421303", "421321001000", "421303001000"} <= set(city)
    assert not any(code.startswith("4201") for code in city)
    province = dict(region_choices(user=users["province"]))
    assert {"421300", "420100", "421321", "421303", "420102"} == set(province)
    assert set(dict(region_choices(user=users["county_a"]))) == {
        r.code for r in Region.objects.filter(code__startswith="421321", level__in=("township", "village"))
    }
    # A filter naming a county outside the user's region shows nobody (the scope still applies).
    link = reverse("web:person_detail", args=[land["persons"]["b"].pk])
    _as(client, users["county_a"])
    html = client.get(reverse("web:person_search"), {"village": "421303001001", "q": "钱七"}).content.decode()
    assert link not in html
    _as(client, users["city"])
    html = client.get(reverse("web:person_search"), {"village": "421303", "q": "钱"}).content.decode()
    assert link in html


def _export_names(client: Client) -> str:
    data = background_export(client, reverse("web:reconciliation_export"))
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)


@pytest.mark.parametrize("who", ["county_b", "city_inspector", "province_inspector", "city_c"])
def test_exports_hold_the_scope_and_are_audited(client: Client, land: dict[str, Any], who: str) -> None:
    persons, user = land["persons"], land["users"][who]
    text = _export_names(_as(client, user))
    for key, person in persons.items():
        assert (person.name in text) == (key in SEES[who]), (who, key)
        assert person.id_number not in text  # masked
    exported = AuditEvent.objects.filter(user=user, action=AuditAction.EXPORT)
    assert exported.exists(), who
    assert all(e.region_code == user.region_id for e in exported)


def test_upper_users_only_read(client: Client, land: dict[str, Any]) -> None:
    """No care, verification or settlement entry from a city or province account (403), while the
    city administrator manages the users of its counties and a county administrator cannot reach
    the city's accounts."""
    a = land["persons"]["a"]
    for who in ("city", "province", "city_inspector", "province_inspector"):
        _as(client, land["users"][who])
        assert (
            client.post(reverse("web:person_verify", args=[a.pk]), {"status": "confirmed"}).status_code == 403
        )
        assert client.post(reverse("care:visit", args=[a.pk]), {}).status_code == 403
        assert client.get(reverse("settlement:window")).status_code == 403
    _as(client, land["users"]["city"])
    users = client.get(reverse("web:user_list")).content.decode()
    assert land["users"]["county_b"].username in users and land["users"]["county_a"].username in users
    assert land["users"]["city_c"].username not in users
    _as(client, land["users"]["county_a"])
    users = client.get(reverse("web:user_list")).content.decode()
    assert land["users"]["city"].username not in users and land["users"]["county_b"].username not in users


def test_the_api_keeps_each_hospital_to_its_own_claims_and_derives_in_county(
    client: Client, land: dict[str, Any]
) -> None:
    """Through the API: 随县人民医院 (H001) and 曾都区医院 (H101) settle 钱七 of 曾都区 — out of county at
    H001, in county at H101 (derived in the API's own person query) — and neither reads the other's
    claim: a guessed claim URL is a 404, audited as a denial."""
    from jkfp.accounts.services import institution_token_create
    from jkfp.registry.models import Tag
    from jkfp.settlement.models import Claim
    from jkfp.settlement.services import policy_install_preset

    policy_install_preset(name="suixian-2020")
    b = land["persons"]["b"]
    Tag.objects.create(person=b, code="poor", start_on=date(2015, 1, 1), source="测试")
    tokens = {code: institution_token_create(institution_code=code)[1] for code in ("H001", "H101")}

    def call(code: str, method: str, path: str, data: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {tokens[code]}"}
        if method == "POST":
            return client.post(path, data, content_type="application/json", headers=headers)
        return client.get(path, headers=headers)

    client.logout()
    for code, claim_id in (("H001", "API-A"), ("H101", "API-B")):
        stay = {
            "claim_id": claim_id,
            "id_number": b.id_number,
            "admitted_on": "2020-05-01",
            "discharged_on": "2020-05-10",
            "total_amount": "20000.00",
            "out_of_scope_amount": "1000.00",
            "referred": False,
        }
        answer = call(code, "POST", "/api/v1/settlements", stay)
        assert answer.status_code == 200, (code, answer.content.decode())
    assert dict(Claim.objects.values_list("claim_id", "in_county")) == {"API-A": False, "API-B": True}
    assert call("H001", "GET", "/api/v1/settlements/API-A").status_code == 200
    guessed = call("H001", "GET", "/api/v1/settlements/API-B")
    assert guessed.status_code == 404 and b.name not in guessed.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_id="/api/v1/settlements/API-B"
    ).exists()


def test_a_hospital_window_admits_and_settles_a_neighbouring_countys_resident_by_full_id_only(
    client: Client, land: dict[str, Any], make_user: Any
) -> None:
    """S6: a clerk of 随县人民医院 (H001, county A) finds 钱七 of 曾都区 (B) at the window by the full ID
    number only — a partial number or the name finds nothing — admits and settles the stay: out of
    county (derived per person), by B's own policy, to the fen against that policy's reference. The
    clerk still cannot open, search or list the person."""
    from jkfp import engine
    from jkfp.registry.models import Tag
    from jkfp.registry.selectors import person_for_admission
    from jkfp.settlement.models import Admission, Claim, Settlement
    from jkfp.settlement.services import policy_install_preset, policy_upload
    from jkfp.settlement.tests.test_region_policies import preset_text, reference_row

    policy_install_preset(name="suixian-2020")
    b_text = preset_text("transition-2024", as_name="zengdu-2020")
    b_policy = policy_upload(text=b_text, fmt="toml", region=Region.objects.get(code="421303"))
    b = land["persons"]["b"]
    Tag.objects.create(person=b, code="poor", start_on=date(2015, 1, 1), source="测试")
    clerk = make_user(Role.HOSPITAL, "421321", institution_code="H001")
    _as(client, clerk)
    window = reverse("settlement:window")
    stay = {"admitted_on": "2020-05-01", "deposit_waived_amount": "0.00"}
    for partial in (b.id_number[1:], b.id_number[:17], b.id_number[-6:], b.name):
        response = client.post(window, {**stay, "id_number": partial})
        assert response.status_code == 400, partial
        assert "身份证号不合法" in response.content.decode(), partial
        assert person_for_admission(user=clerk, id_number=partial) is None
    assert not Admission.objects.exists()

    response = client.post(window, {**stay, "id_number": b.id_number})
    assert response.status_code == 302, response.content.decode()
    admission = Admission.objects.get()
    assert (admission.person_id, admission.institution_id) == (b.pk, "H001")
    listed = client.get(window).content.decode()
    assert b.name in listed and b.id_number not in listed  # the name and the masked number only
    form = client.get(reverse("settlement:discharge", args=[admission.pk])).content.decode()
    assert "本患者县域外" in form and b.id_number not in form  # derived for B's resident at A's hospital
    response = client.post(
        reverse("settlement:discharge", args=[admission.pk]),
        {
            "claim_id": "W-B",
            "discharged_on": "2020-05-10",
            "total_amount": "20000.00",
            "out_of_scope_amount": "1000.00",
        },
    )
    claim = Claim.objects.get(claim_id="W-B")
    assert response.status_code == 302 and response["Location"] == reverse("settlement:slip", args=[claim.pk])
    assert (claim.person_id, claim.in_county) == (b.pk, False)
    row = Settlement.objects.get(claim=claim, is_current=True)
    assert row.policy_id == b_policy.pk
    expected = reference_row(
        b_text,
        claim_id="W-B",
        person_id=b.id_number,
        category=row.category,  # from the person's tags (低保 and 脱贫), as the window chose it
        discharge_on=date(2020, 5, 10),
        level=2,
        in_county=False,
        referred=False,
        total_amount=Decimal("20000.00"),
        out_of_scope_amount=Decimal("1000.00"),
    )
    assert tuple(f"{getattr(row, f):.2f}" for f in engine.OUTPUT_FIELDS) == expected
    slip = client.get(reverse("settlement:slip", args=[claim.pk])).content.decode()
    assert b.name in slip and b.id_number not in slip
    # Nothing else of the person: no person or household page, no search (the role's pages: 403).
    for url, query in (
        (reverse("web:person_detail", args=[b.pk]), {}),
        (reverse("web:household_detail", args=[b.household_id]), {}),
        (reverse("web:person_search"), {"q": b.id_number}),
    ):
        refused = client.get(url, query)
        assert refused.status_code == 403 and b.name not in refused.content.decode(), url
    # Audited like any window stay: the admission, the settlement (in B's region), the slip.
    events = AuditEvent.objects.filter(user=clerk)
    assert events.filter(action=AuditAction.SUBMIT, object_id="settlement:window").count() == 1
    settled = events.get(action=AuditAction.SETTLE, object_id="W-B")
    assert settled.region_code == b.village_id
    assert events.filter(action=AuditAction.VIEW_SLIP, object_id="W-B").count() == 1
