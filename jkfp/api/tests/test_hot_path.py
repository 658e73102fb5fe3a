"""The API's hot path: remembered tokens still honour revocation, ``/api/`` skips the browser
middleware but keeps the security headers, the audit row commits with the settlement, and an
in-order discharge costs a fixed handful of SQL statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jkfp.accounts.models import AuditAction, AuditEvent, InstitutionToken
from jkfp.api import auth
from jkfp.api.tests.conftest import ApiWorld
from jkfp.api.tests.test_settlements_api import EXPECTED, POST, body
from jkfp.settlement.models import Claim, Settlement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_tokens() -> None:
    auth.token_cache_clear()


def test_a_token_revoked_through_the_service_is_refused_at_once(api_as: Any, world: ApiWorld) -> None:
    from jkfp.accounts.services import institution_token_revoke

    assert api_as("H001").post(POST, body(world, "E1")).status_code == 200  # the token is now remembered
    row = InstitutionToken.objects.get(institution_id="H001")
    institution_token_revoke(token_id=row.pk, reason="遗失")
    assert api_as("H001").post(POST, body(world, "E4")).status_code == 401
    assert not Claim.objects.filter(claim_id="E4").exists()


def test_a_remembered_token_is_checked_again_after_its_ttl(
    api_as: Any, world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.utils import timezone

    assert api_as("H001").post(POST, body(world, "E1")).status_code == 200
    # Revoked by another process (no signal here): this process trusts its memory for TOKEN_TTL.
    InstitutionToken.objects.filter(institution_id="H001").update(revoked_at=timezone.now())
    assert api_as("H001").post(POST, body(world, "E4")).status_code == 200
    later = auth.time.monotonic() + auth.TOKEN_TTL + 0.1
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    assert api_as("H001").post(POST, body(world, "E3", claim_id="E3B")).status_code == 401


def test_api_requests_skip_the_browser_middleware_but_keep_security_headers(
    api_as: Any, world: ApiWorld, client: Any
) -> None:
    response = api_as("H001").post(POST, body(world, "E1"))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in response  # the CSP middleware did not run
    assert not response.cookies  # no session, no CSRF cookie
    page = client.get("/login/")
    assert "Content-Security-Policy" in page  # a page still goes through the full stack
    missing = api_as("H001").get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing["X-Frame-Options"] == "DENY"


def test_the_audit_row_commits_with_the_settlement(
    api_as: Any, world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api_as("H001").post(POST, body(world, "E1")).status_code == 200
    audit = AuditEvent.objects.get(action=AuditAction.SETTLE, object_id="E1")
    assert audit.username.startswith("接口:H001:")
    assert audit.detail.startswith("接口结算 E1 总费用20000.00 目录外1000.00 ")
    assert audit.detail.endswith(f" 个人负担{EXPECTED['E1'][6]}")
    assert audit.region_code == world.persons["jia"].village_id

    def broken(**_: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr("jkfp.api.settlements.audit_record", broken)
    with pytest.raises(RuntimeError, match="audit store down"):
        api_as("H001").post(POST, body(world, "E4"))
    assert not Claim.objects.filter(claim_id="E4").exists()  # no settlement without its audit row
    assert Settlement.objects.count() == 1


def test_an_in_order_discharge_costs_a_fixed_handful_of_statements(api_as: Any, world: ApiWorld) -> None:
    assert api_as("H001").post(POST, body(world, "E1")).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = api_as("H001").post(POST, body(world, "E4"))
    assert response.status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # token (remembered), person, claim insert (+ case link), ledger lock, policy/tags/later claims,
    # settlement insert, ledger update, audit row.
    assert len(statements) <= 7, statements
    if connection.vendor == "postgresql":
        # Three round trips: the person; the claim, the ledger lock and the inputs; the settlement
        # row, the ledger and the audit row (one multi-statement query each).
        assert len(statements) == 3, statements
        claim_sql, write_sql = statements[1], statements[2]
        assert claim_sql.count("INSERT INTO") == 2 and "UNION ALL" in claim_sql
        assert write_sql.count("INSERT INTO") == 2 and write_sql.count("UPDATE ") == 1


def test_batched_writes_are_sent_when_the_block_ends_and_dropped_on_an_error() -> None:
    from jkfp.accounts.services import audit_record
    from jkfp.core.bulkdb import batched_writes

    with batched_writes():
        first = audit_record(user=None, action=AuditAction.SETTLE, object_type="batch", object_id="1")
        second = audit_record(user=None, action=AuditAction.SETTLE, object_type="batch", object_id="2")
        assert first.pk is None and not AuditEvent.objects.filter(object_type="batch").exists()
    assert first.pk is not None and second.pk is not None and second.pk > first.pk
    stored = AuditEvent.objects.filter(object_type="batch").order_by("pk")
    assert [(e.pk, e.object_id) for e in stored] == [(first.pk, "1"), (second.pk, "2")]
    with pytest.raises(RuntimeError, match="boom"), batched_writes():  # noqa: PT012 (the block is the one operation under test)
        audit_record(user=None, action=AuditAction.SETTLE, object_type="batch", object_id="3")
        raise RuntimeError("boom")
    assert not AuditEvent.objects.filter(object_id="3").exists()
