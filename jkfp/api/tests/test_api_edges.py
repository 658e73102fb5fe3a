"""接口边界 The API's edges (issue 17 §6): every error in the one JSON shape (a body too large,
malformed JSON, a wrong method, an unknown path), another hospital's claim answered exactly like an
unknown one, the plausibility limit, zero amounts flagged in the settlement ledger, and the schema
agreeing with the server on the ID number."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from jkfp.api.tests.conftest import ApiWorld
from jkfp.api.tests.schema_check import assert_matches_schema, committed_schema
from jkfp.api.tests.test_settlements_api import ITEM, POST, REVERSE, body, post_example
from jkfp.settlement.models import Claim

pytestmark = pytest.mark.django_db

SHAPE = {"code", "message", "errors"}


def _json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(response.content)
    assert set(data) == SHAPE and data["code"] == code, data
    assert "no-store" in response["Cache-Control"]
    return dict(data)


def test_a_10_mb_body_is_413_in_the_json_shape(client: Client, world: ApiWorld) -> None:
    big = json.dumps({"claim_id": "X" * (10 * 1024 * 1024)})
    response = client.post(
        POST,
        big,
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.tokens['H001']}"},
    )
    data = _json_error(response, 413, "too_large")
    assert "请求体过大" in data["message"]
    assert_matches_schema(response, "post", POST)
    assert not Claim.objects.exists()


def test_malformed_json_is_422_in_the_json_shape(client: Client, world: ApiWorld) -> None:
    response = client.post(
        POST,
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.tokens['H001']}"},
    )
    assert "JSON" in _json_error(response, 422, "invalid")["message"]


def test_wrong_method_and_unknown_paths_answer_json(client: Client, world: ApiWorld) -> None:
    auth = {"Authorization": f"Bearer {world.tokens['H001']}"}
    wrong = client.get(POST, headers=auth)
    _json_error(wrong, 405, "method_not_allowed")
    assert "POST" in wrong["Allow"]
    _json_error(client.delete(ITEM.format(claim_id="E1"), headers=auth), 405, "method_not_allowed")
    _json_error(client.get("/api/v1/nothing-here", headers=auth), 404, "not_found")
    _json_error(client.get("/api/v2/settlements", headers=auth), 404, "not_found")
    _json_error(client.get("/api/v1/offline/nothing-here"), 404, "not_found")


def test_another_hospitals_claim_is_answered_exactly_like_an_unknown_one(
    api_as: Any, world: ApiWorld
) -> None:
    post_example(api_as, world, "E1")  # H001's claim
    for path, send in (
        (ITEM, lambda c, p: c.get(p)),
        (REVERSE, lambda c, p: c.post(p, {"reason": "误结算"})),
    ):
        other = send(api_as("H002"), path.format(claim_id="E1"))
        unknown = send(api_as("H002"), path.format(claim_id="NO-SUCH-CLAIM"))
        assert (
            (other.status_code, other.content)
            == (unknown.status_code, unknown.content)
            == (
                404,
                unknown.content,
            )
        )
        assert json.loads(other.content)["code"] == "not_found"


@pytest.mark.parametrize(
    ("total", "status"),
    [("5000000.00", 200), ("5000000.01", 422), ("99999999.99", 422)],
)
def test_amounts_above_the_plausibility_limit_are_422_naming_the_field(
    api_as: Any, world: ApiWorld, total: str, status: int
) -> None:
    response = api_as("H001").post(POST, body(world, "E1", total_amount=total))
    assert response.status_code == status, response.content
    assert_matches_schema(response, "post", POST)
    if status == 422:
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == ["total_amount"]
        assert "合理上限 5000000.00 元" in errors[0]["message"] and "医疗总费用" in errors[0]["message"]


def test_the_plausibility_limit_is_configurable(api_as: Any, world: ApiWorld, settings: Any) -> None:
    settings.CLAIM_PLAUSIBLE_MAX_AMOUNT = "10000.00"
    response = api_as("H001").post(POST, body(world, "E1"))  # 20000.00
    assert response.status_code == 422
    assert "合理上限 10000.00 元" in response.json()["errors"][0]["message"]


def test_zero_amounts_settle_and_are_flagged_in_the_settlement_ledger(
    api_as: Any, world: ApiWorld, county: dict[str, Any]
) -> None:
    from jkfp.indicators.exports import cell_text
    from jkfp.indicators.ledgers import settlement_rows

    zero = api_as("H001").post(POST, body(world, "E1", total_amount="0.00", out_of_scope_amount="0.00"))
    assert zero.status_code == 200, zero.content
    assert zero.json()["personal"] == "0.00" and zero.json()["basic"] == "0.00"
    assert api_as("H002").post(POST, body(world, "E3")).status_code == 200
    rows, columns = settlement_rows(2020, county["county"])
    labels = [c.label for c in columns]
    flag = labels.index("零金额待核")
    cells = {
        row[labels.index("结算号")]: cell_text(columns[flag], row[flag])
        for row in rows.values_list(*[c.path for c in columns])
    }
    assert cells == {"E1": "是", "E3": "否"}


def test_the_schema_refuses_an_empty_id_number_as_the_server_does(api_as: Any, world: ApiWorld) -> None:
    schema = committed_schema()["components"]["schemas"]["SettlementIn"]["properties"]["id_number"]
    assert schema["pattern"] == "^[0-9]{17}[0-9Xx]$"
    for bad in ("", "12345", "4213211960050100", "42132119600501001Y"):
        response = api_as("H001").post(POST, body(world, "E1", id_number=bad))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "id_number"
