"""接口与文档一致 A schema-based property test (hypothesis-jsonschema): request bodies generated from the
committed ``docs/openapi.json`` (``SettlementIn``), half of them for a registered person, are posted
to the server; every answer must be a status the schema documents, with a body the schema describes,
and a refusal (422) may only name a rule the schema cannot express (the ID number's check digit, the
dates' order and the policy in force, out-of-scope ≤ total, the plausibility limit, an outpatient
visit's conditional rules).

Bounded: ``MAX_EXAMPLES`` bodies per run (``make test`` runs it on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from jkfp.api.tests.conftest import ApiWorld
from jkfp.api.tests.schema_check import assert_matches_schema, committed_schema
from jkfp.api.tests.test_settlements_api import POST

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 60
# The rules a JSON schema cannot state, and the fields they name.
# (An outpatient visit's rules are conditional on ``kind``: its disease, one date for both, the card;
# a stay's: its admission date and referral flag.)
UNEXPRESSIBLE = {
    "referred",
    "id_number",
    "discharged_on",
    "out_of_scope_amount",
    "total_amount",
    "kind",
    "disease",
    "admitted_on",
}


def _bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of ``SettlementIn``: each property generated from its own schema by hypothesis-jsonschema
    (its object strategy relies on Hypothesis internals that this Hypothesis no longer has; no other
    property is allowed, so the object is the required properties and some of the optional ones)."""
    schema = committed_schema()["components"]["schemas"]["SettlementIn"]
    assert schema.get("additionalProperties") in (None, False)
    required = set(schema["required"])
    fields = {name: from_schema(prop) for name, prop in schema["properties"].items()}
    return st.fixed_dictionaries(
        {n: s for n, s in fields.items() if n in required},
        optional={n: s for n, s in fields.items() if n not in required},
    )


def test_generated_bodies_get_documented_answers(api_as: Any, world: ApiWorld) -> None:
    seen: Counter[int] = Counter()
    client = api_as("H001")
    real = world.persons["jia"].id_number
    bodies = _bodies()
    # Half of them for a registered person, admitted and discharged while the policy is in force, so
    # that bodies get past the rules the schema cannot state and reach the settlement.
    stay = {"id_number": real, "admitted_on": "2020-03-01", "discharged_on": "2020-03-10"}
    strategy = st.one_of(bodies, bodies.map(lambda b: {**b, **stay}))

    @settings(
        max_examples=MAX_EXAMPLES,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(strategy)
    def check(payload: dict[str, Any]) -> None:
        response = client.post(POST, payload)
        seen[response.status_code] += 1
        assert response.status_code != 500, response.content
        assert_matches_schema(response, "post", POST)
        if response.status_code == 422:
            fields = {e["field"] for e in json.loads(response.content)["errors"]}
            assert fields <= UNEXPRESSIBLE, (payload, response.content.decode())

    check()
    print(f"\nschema property test: {sum(seen.values())} bodies, statuses {dict(sorted(seen.items()))}")
    assert sum(seen.values()) >= MAX_EXAMPLES // 2
