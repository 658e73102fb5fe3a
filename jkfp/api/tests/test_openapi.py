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
    paths = {k: v for k, v in doc["paths"].items() if k.startswith("/api/v1/settlements")}
    assert set(paths) == {
        "/api/v1/settlements",
        "/api/v1/settlements/{claim_id}",
        "/api/v1/settlements/{claim_id}/reverse",
    }
    body = doc["components"]["schemas"]["SettlementIn"]
    assert set(body["required"]) == {
        "claim_id",
        "id_number",
        "discharged_on",
        "total_amount",
        "out_of_scope_amount",
    }  # admitted_on and referred: a stay's (422 without them), optional for an outpatient visit
    assert body["properties"]["total_amount"]["type"] == "string"
    for operations in paths.values():
        for operation in operations.values():
            assert operation["security"] == [{"InstitutionBearer": []}]
            assert {"200", "401", "404", "422"} <= set(operation["responses"])


def test_schema_documents_the_offline_app_with_session_login() -> None:
    """村医离线接口 (issue 20): session login with CSRF; the device status needs no login."""
    import json

    doc = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    offline = {k: v for k, v in doc["paths"].items() if k.startswith("/api/v1/offline/")}
    assert set(offline) == {
        "/api/v1/offline/csrf",
        "/api/v1/offline/scope",
        "/api/v1/offline/sync",
        "/api/v1/offline/devices/{device_id}",
    }
    for path in ("/api/v1/offline/csrf", "/api/v1/offline/scope", "/api/v1/offline/sync"):
        for operation in offline[path].values():
            assert operation["security"] == [{"SessionAuth": []}]
            assert {"200", "401", "403", "410", "422"} <= set(operation["responses"])
    assert "security" not in offline["/api/v1/offline/devices/{device_id}"]["get"]
    assert set(doc["components"]["schemas"]["EntryIn"]["required"]) == {"uuid", "kind", "person_id", "data"}
