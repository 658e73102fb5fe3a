"""接口文档 The committed ``docs/openapi.json`` is what the code generates (CI fails on drift)."""

from __future__ import annotations

from jkfp.api.openapi import SCHEMA_PATH, schema_text


def test_committed_openapi_schema_matches_the_code() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "docs/openapi.json is out of date: run `python -m jkfp.api.openapi` and commit the result"
    )


def test_schema_documents_the_three_operations_with_bearer_auth() -> None:
    import json

    doc = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    paths = doc["paths"]
    assert set(paths) == {
        "/api/v1/settlements",
        "/api/v1/settlements/{claim_id}",
        "/api/v1/settlements/{claim_id}/reverse",
    }
    body = doc["components"]["schemas"]["SettlementIn"]
    assert set(body["required"]) == {
        "claim_id",
        "id_number",
        "admitted_on",
        "discharged_on",
        "total_amount",
        "out_of_scope_amount",
        "referred",
    }
    assert body["properties"]["total_amount"]["type"] == "string"
    for operations in paths.values():
        for operation in operations.values():
            assert operation["security"] == [{"InstitutionBearer": []}]
            assert {"200", "401", "404", "422"} <= set(operation["responses"])
