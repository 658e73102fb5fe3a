"""医院接口 The hospital API: the worked examples to the fen, idempotency, 409, 422, 404, 401, scope,
reversal, and every response checked against the committed ``docs/openapi.json``."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from jkfp import engine
from jkfp.accounts.models import AuditAction, AuditEvent, InstitutionToken
from jkfp.api.tests.conftest import ApiWorld
from jkfp.api.tests.schema_check import assert_matches_schema
from jkfp.core.idnumber import make_id_number
from jkfp.settlement.models import Claim, ClaimStatus, Settlement, YearLedger

pytestmark = pytest.mark.django_db

POST = "/api/v1/settlements"
ITEM = "/api/v1/settlements/{claim_id}"
REVERSE = "/api/v1/settlements/{claim_id}/reverse"
AMOUNTS = ("counted_total", "hospital_absorbed", "basic", "critical", "aid", "supplementary", "personal")

# settlement.md §5 worked examples: (institution, person, claim) → the seven amounts, as the spec writes them.
EXAMPLES = {
    "E1": ("H001", "jia", "2020-02-20", "2020-03-01", "20000.00", "1000.00", False),
    "E2": ("W003", "jia", "2020-05-20", "2020-06-01", "150000.00", "12000.00", True),
    "E3": ("H002", "yi", "2020-05-01", "2020-05-10", "8000.00", "800.00", False),
    "E4": ("H001", "bing", "2020-06-20", "2020-07-01", "20000.00", "1000.00", False),
}
EXPECTED = {
    "E1": ("20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00"),
    "E2": ("150000.00", "0.00", "95900.00", "27660.00", "10108.00", "13332.00", "3000.00"),
    "E3": ("7400.00", "600.00", "6300.00", "0.00", "630.00", "0.00", "470.00"),
    "E4": ("20000.00", "0.00", "12950.00", "0.00", "0.00", "0.00", "7050.00"),
}
CATEGORIES = {"E1": "poor", "E2": "poor", "E3": "poor", "E4": "ordinary"}


def body(world: ApiWorld, example: str, **changes: Any) -> dict[str, Any]:
    _inst, person, admitted, discharged, total, out, referred = EXAMPLES[example]
    data = {
        "claim_id": example,
        "id_number": world.persons[person].id_number,
        "admitted_on": admitted,
        "discharged_on": discharged,
        "total_amount": total,
        "out_of_scope_amount": out,
        "referred": referred,
    }
    data.update(changes)
    return data


def post_example(api_as: Any, world: ApiWorld, claim_id: str) -> Any:
    response = api_as(EXAMPLES[claim_id][0]).post(POST, body(world, claim_id))
    assert_matches_schema(response, "post", POST)
    return response


def amounts(data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(data[name] for name in AMOUNTS)


def test_worked_examples_to_the_fen(api_as: Any, world: ApiWorld) -> None:
    for claim_id in ("E1", "E2", "E3", "E4"):
        response = post_example(api_as, world, claim_id)
        assert response.status_code == 200, response.content
        data = response.json()
        assert amounts(data) == EXPECTED[claim_id]
        assert data["claim_id"] == claim_id
        assert data["category"] == CATEGORIES[claim_id]
        assert data["policy"] == "suixian-2020 v1"
    # E1: reimbursed exactly 90 % (settlement.md §5 example 1).
    assert Decimal(api_as("H001").get(ITEM.format(claim_id="E1")).json()["ratio"]) == Decimal("0.9")
    claim = Claim.objects.get(claim_id="E2")
    assert (claim.institution_id, claim.level, claim.in_county, claim.referred) == ("W003", 3, False, True)


def test_the_year_is_settled_in_discharge_order_whatever_the_arrival(api_as: Any, world: ApiWorld) -> None:
    """E2 first, then the earlier E1: E2 is re-settled and ends as the worked example says."""
    assert amounts(post_example(api_as, world, "E2").json()) != EXPECTED["E2"]
    assert amounts(post_example(api_as, world, "E1").json()) == EXPECTED["E1"]
    response = api_as("W003").get(ITEM.format(claim_id="E2"))
    assert_matches_schema(response, "get", ITEM)
    assert amounts(response.json()) == EXPECTED["E2"] and response.json()["status"] == "settled"
    ledger = YearLedger.objects.get(person=world.persons["jia"], year=2020)
    assert ledger.personal_ytd == Decimal("5000.00")  # 2000.00 + 3000.00: the yearly cap


def test_same_body_is_idempotent_and_a_different_body_conflicts(api_as: Any, world: ApiWorld) -> None:
    first = post_example(api_as, world, "E1")
    again = post_example(api_as, world, "E1")
    assert again.status_code == 200 and again.json() == first.json()
    assert Settlement.objects.filter(claim__claim_id="E1").count() == 1
    # Audited once, under the token's name (the re-post settles nothing).
    event = AuditEvent.objects.get(action=AuditAction.SETTLE, object_id="E1")
    prefix = InstitutionToken.objects.get(institution_id="H001").prefix
    assert event.username == f"接口:H001:{prefix}" and event.user is None and "2000.00" in event.detail
    changed = api_as("H001").post(POST, body(world, "E1", total_amount="20000.01"))
    assert changed.status_code == 409
    assert_matches_schema(changed, "post", POST)
    assert changed.json()["code"] == "conflict" and changed.json()["errors"][0]["field"] == "claim_id"
    assert Claim.objects.get(claim_id="E1").total_amount == Decimal("20000.00")


def test_another_institution_may_use_the_same_claim_id(api_as: Any, world: ApiWorld) -> None:
    """Claim ids are each institution's own (issue 17 §6): H002 posting H001's id gets its own claim
    (no 409 telling it the id exists elsewhere), each settled to the fen, each seen only by its own."""
    assert post_example(api_as, world, "E1").status_code == 200
    # H002 uses the id "E1" for its own stay (the E3 example: another person, another hospital).
    mine = api_as("H002").post(POST, body(world, "E3", claim_id="E1"))
    assert_matches_schema(mine, "post", POST)
    assert mine.status_code == 200, mine.content
    assert amounts(mine.json()) == EXPECTED["E3"] and mine.json()["claim_id"] == "E1"
    assert sorted(Claim.objects.filter(claim_id="E1").values_list("institution_id", "total_amount")) == [
        ("H001", Decimal("20000.00")),
        ("H002", Decimal("8000.00")),
    ]
    # Each reads its own claim; a repeat is idempotent, a changed body still conflicts — within H002.
    assert amounts(api_as("H001").get(ITEM.format(claim_id="E1")).json()) == EXPECTED["E1"]
    assert amounts(api_as("H002").get(ITEM.format(claim_id="E1")).json()) == EXPECTED["E3"]
    again = api_as("H002").post(POST, body(world, "E3", claim_id="E1"))
    assert again.status_code == 200 and again.json() == mine.json()
    changed = api_as("H002").post(POST, body(world, "E3", claim_id="E1", total_amount="8000.01"))
    assert changed.status_code == 409 and changed.json()["code"] == "conflict"
    # Reversing H002's "E1" leaves H001's settled.
    assert api_as("H002").post(REVERSE.format(claim_id="E1"), {"reason": "误结算"}).status_code == 200
    assert dict(Claim.objects.filter(claim_id="E1").values_list("institution_id", "status")) == {
        "H001": ClaimStatus.SETTLED,
        "H002": ClaimStatus.REVERSED,
    }
    assert Settlement.objects.filter(claim__claim_id="E1", is_current=True).count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"total_amount": 20000}, "total_amount", "字符串"),
        ({"total_amount": "20000.5"}, "total_amount", "两位小数"),
        ({"out_of_scope_amount": "-1.00"}, "out_of_scope_amount", "两位小数"),
        ({"out_of_scope_amount": "20000.01"}, "out_of_scope_amount", "不能大于医疗总费用"),
        ({"total_amount": "200000000.00"}, "total_amount", "上限"),
        ({"discharged_on": "2020-02-19"}, "discharged_on", "不能早于入院日期"),
        ({"discharged_on": "2020-02-30"}, "discharged_on", "YYYY-MM-DD"),
        ({"referred": "maybe"}, "referred", "true 或 false"),
        ({"claim_id": "E 1"}, "claim_id", "字母、数字"),
        ({"id_number": "wrong-check-char"}, "id_number", "校验码"),
        ({"hospital": "H009"}, "hospital", "不是本接口的字段"),
    ],
)
def test_invalid_body_is_422_naming_the_field(
    api_as: Any, world: ApiWorld, changes: dict[str, Any], field: str, words: str
) -> None:
    if changes.get("id_number") == "wrong-check-char":
        real = world.persons["jia"].id_number
        changes["id_number"] = real[:17] + ("0" if real[17] != "0" else "1")
    response = api_as("H001").post(POST, body(world, "E1", **changes))
    assert response.status_code == 422, response.content
    assert_matches_schema(response, "post", POST)
    data = response.json()
    assert data["code"] == "invalid"
    assert [e["field"] for e in data["errors"]] == [field]
    assert words in data["errors"][0]["message"] and field in data["message"]
    assert not Claim.objects.exists()


def test_missing_field_and_bad_json_are_422(api_as: Any, world: ApiWorld) -> None:
    data = body(world, "E1")
    del data["claim_id"]
    response = api_as("H001").post(POST, data)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "claim_id", "message": "结算申请号（claim_id）：必填，未提供"}
    ]
    # A stay needs its admission date and referral flag (an outpatient visit may leave them out).
    data = body(world, "E1")
    del data["referred"], data["admitted_on"]
    response = api_as("H001").post(POST, data)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "admitted_on", "message": "入院日期（admitted_on）：住院必填，未提供（门诊慢特病可省略）"},
        {"field": "referred", "message": "转诊备案（referred）：住院必填，未提供（门诊慢特病可省略）"},
    ]
    assert_matches_schema(response, "post", POST)
    assert not Claim.objects.exists()
    broken = api_as("H001").client.post(
        POST, "{not json", content_type="application/json", headers=api_as("H001").headers
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["message"]
    assert_matches_schema(broken, "post", POST)


def test_discharge_without_policy_in_force_is_422_naming_county_and_date(
    api_as: Any, world: ApiWorld
) -> None:
    response = api_as("H001").post(
        POST, body(world, "E1", admitted_on="2019-12-01", discharged_on="2019-12-10")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "discharged_on"
    assert "随县（421321） 2019-12-10" in response.json()["message"]


def test_unknown_person_is_404(api_as: Any, world: ApiWorld) -> None:
    stranger = make_id_number("421321", date(1970, 1, 1), 99)
    response = api_as("H001").post(POST, body(world, "E1", id_number=stranger))
    assert response.status_code == 404
    assert_matches_schema(response, "post", POST)
    assert response.json()["errors"][0]["field"] == "id_number"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer jkfp_forged", "Token x", "Bearer "])
def test_missing_or_unknown_token_is_401(client: Any, world: ApiWorld, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.post(POST, body(world, "E1"), content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert_matches_schema(response, "post", POST)
    assert response.json()["code"] == "unauthorized" and response["WWW-Authenticate"] == "Bearer"
    assert client.get(ITEM.format(claim_id="E1"), headers=headers).status_code == 401
    assert not Claim.objects.exists()


def test_revoked_token_is_401(api_as: Any, world: ApiWorld) -> None:
    from django.utils import timezone

    InstitutionToken.objects.filter(institution_id="H001").update(revoked_at=timezone.now())
    assert api_as("H001").post(POST, body(world, "E1")).status_code == 401


def test_an_institution_sees_only_its_own_claims(api_as: Any, world: ApiWorld) -> None:
    post_example(api_as, world, "E1")
    for path in (ITEM.format(claim_id="E1"), ITEM.format(claim_id="NOPE")):
        response = api_as("H002").get(path)
        assert response.status_code == 404
        assert_matches_schema(response, "get", ITEM)
    response = api_as("H002").post(REVERSE.format(claim_id="E1"), {"reason": "误结算"})
    assert response.status_code == 404
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.SETTLED
    own = api_as("H001").get(ITEM.format(claim_id="E1"))
    assert own.status_code == 200 and amounts(own.json()) == EXPECTED["E1"]


def test_reversal_restores_the_year_and_resettles_later_claims(api_as: Any, world: ApiWorld) -> None:
    post_example(api_as, world, "E1")
    post_example(api_as, world, "E2")
    response = api_as("H001").post(REVERSE.format(claim_id="E1"), {"reason": "患者信息录入错误"})
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "post", REVERSE)
    assert response.json()["status"] == "reversed" and amounts(response.json()) == EXPECTED["E1"]
    event = AuditEvent.objects.get(action=AuditAction.REVERSE, object_id="E1")
    assert event.username.startswith("接口:H001:")
    assert event.detail == (
        "接口冲销（患者信息录入错误） E1 总费用20000.00 目录外1000.00 基本医保14800.00 大病保险0.00 "
        "医疗救助2940.00 补充保险260.00 医院承担0.00 个人负担2000.00"
    )
    # E2 is now the person's first claim of 2020: the in-process reference engine says what it pays.
    policy = engine.load_preset("suixian-2020")
    alone = engine.settle_claim(
        policy,
        engine.Claim(
            claim_id="E2",
            person_id=world.persons["jia"].id_number,
            category="poor",
            discharge_on=date(2020, 6, 1),
            level=3,
            in_county=False,
            referred=True,
            total_amount=Decimal("150000.00"),
            out_of_scope_amount=Decimal("12000.00"),
        ),
        engine.YearToDate(),
    )
    e2 = api_as("W003").get(ITEM.format(claim_id="E2")).json()
    assert amounts(e2) == tuple(f"{a:.2f}" for a in alone.amounts)
    assert amounts(e2) != EXPECTED["E2"]
    ledger = YearLedger.objects.get(person=world.persons["jia"], year=2020)
    assert ledger.personal_ytd == alone.personal
    # Reversed twice, or re-posted after the reversal: conflicts with the claim's state.
    again = api_as("H001").post(REVERSE.format(claim_id="E1"), {"reason": "再次冲销"})
    assert again.status_code == 409
    assert_matches_schema(again, "post", REVERSE)
    assert api_as("H001").post(POST, body(world, "E1")).status_code == 409
    assert api_as("H001").get(ITEM.format(claim_id="E1")).json()["status"] == "reversed"


def test_reversal_needs_a_reason(api_as: Any, world: ApiWorld) -> None:
    post_example(api_as, world, "E1")
    response = api_as("H001").post(REVERSE.format(claim_id="E1"), {"reason": ""})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "reason"
    assert_matches_schema(response, "post", REVERSE)
    assert Claim.objects.get(claim_id="E1").status == ClaimStatus.SETTLED


def test_error_bodies_are_json_in_the_one_shape(api_as: Any, world: ApiWorld) -> None:
    response = api_as("H001").get(ITEM.format(claim_id="E9"))
    assert response.status_code == 404 and response["Content-Type"] == "application/json; charset=utf-8"
    assert set(json.loads(response.content)) == {"code", "message", "errors"}


def test_api_gives_the_fen_of_jkfp_settle_on_the_same_claims(
    api_as: Any, world: ApiWorld, tmp_path: Any, capsys: Any
) -> None:
    """Done-when of issue 4: the API and ``jkfp settle`` (no database) agree to the fen."""
    from jkfp.settle_cli import main as settle_main

    lines = ["claim_id,person_id,category,discharge_date,level,in_county,referred,total,out_of_scope"]
    levels = {"H001": (2, 1), "H002": (1, 1), "W003": (3, 0)}
    for claim_id, (inst, person, _adm, discharged, total, out, referred) in EXAMPLES.items():
        level, in_county = levels[inst]
        number = world.persons[person].id_number
        lines.append(
            f"{claim_id},{number},{CATEGORIES[claim_id]},{discharged},{level},{in_county},"
            f"{int(referred)},{total},{out}"
        )
    claims, out_file = tmp_path / "claims.csv", tmp_path / "out.csv"
    claims.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert settle_main(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out_file)]) == 0
    capsys.readouterr()
    rows = [line.split(",") for line in out_file.read_text(encoding="utf-8").splitlines()[1:]]
    by_cli = {row[0]: tuple(row[1:]) for row in rows}
    for claim_id in EXAMPLES:
        assert amounts(post_example(api_as, world, claim_id).json()) == by_cli[claim_id]


def test_api_answers_are_never_stored(api_as: Any, world: ApiWorld) -> None:
    for response in (
        post_example(api_as, world, "E1"),
        api_as("H001").get(ITEM.format(claim_id="E1")),
        api_as("H002").get(ITEM.format(claim_id="E1")),  # a 404 too
    ):
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, response.status_code
