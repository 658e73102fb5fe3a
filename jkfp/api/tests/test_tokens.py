"""接口令牌 ``jkfp token create``: prints a token once, stores only its digest, audits the creation."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from jkfp.accounts.models import AuditAction, AuditEvent, InstitutionToken
from jkfp.accounts.selectors import institution_for_token

pytestmark = pytest.mark.django_db


def test_token_create_prints_a_token_and_stores_only_its_digest(county: dict[str, Any]) -> None:
    out, err = StringIO(), StringIO()
    call_command("token", "create", "--institution", "H001", "--label", "HIS", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("jkfp_") and len(token) > 40
    row = InstitutionToken.objects.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.token_hash, row.prefix, row.label} and row.prefix == token[:9]
    assert institution_for_token(token=token) == county["hospital"]
    assert institution_for_token(token=token + "x") is None
    event = AuditEvent.objects.get(action=AuditAction.TOKEN)
    assert "H001" in event.detail and token not in event.detail
    assert "随县人民医院" in err.getvalue()


def test_token_create_for_an_unknown_institution_fails_in_both_languages(county: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match="机构代码NOPE不存在 / unknown institution NOPE"):
        call_command("token", "create", "--institution", "NOPE", stdout=StringIO(), stderr=StringIO())
    assert not InstitutionToken.objects.exists()


def test_two_tokens_differ(county: dict[str, Any]) -> None:
    tokens = set()
    for _ in range(2):
        out = StringIO()
        call_command("token", "create", "--institution", "H002", stdout=out, stderr=StringIO())
        tokens.add(out.getvalue().strip())
    assert len(tokens) == 2 and InstitutionToken.objects.filter(institution_id="H002").count() == 2


def test_token_list_shows_prefixes_never_tokens_and_revoke_makes_the_token_invalid(
    county: dict[str, Any],
) -> None:
    out = StringIO()
    call_command("token", "create", "--institution", "H001", "--label", "HIS", stdout=out, stderr=StringIO())
    token = out.getvalue().strip()
    row = InstitutionToken.objects.get()
    listing = StringIO()
    call_command("token", "list", "--institution", "H001", stdout=listing)
    lines = listing.getvalue().strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{row.pk}\tH001") and f"{row.prefix}…" in lines[1]
    assert token not in listing.getvalue() and row.token_hash not in listing.getvalue()

    done = StringIO()
    call_command("token", "revoke", str(row.pk), "--reason", "遗失", stdout=done)
    assert f"编号{row.pk}" in done.getvalue() and "revoked token" in done.getvalue()
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert institution_for_token(token=token) is None
    revocation = AuditEvent.objects.filter(action=AuditAction.TOKEN).order_by("-id").first()
    assert revocation is not None and "吊销接口令牌" in revocation.detail and "遗失" in revocation.detail
    assert token not in revocation.detail


def test_token_revoke_refuses_unknown_and_already_revoked_tokens(county: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match="令牌编号999不存在 / unknown token id 999"):
        call_command("token", "revoke", "999", stdout=StringIO())
    call_command("token", "create", "--institution", "H001", stdout=StringIO(), stderr=StringIO())
    row = InstitutionToken.objects.get()
    call_command("token", "revoke", str(row.pk), stdout=StringIO())
    with pytest.raises(
        CommandError, match=f"令牌编号{row.pk}已于.*吊销 / token {row.pk} was already revoked"
    ):
        call_command("token", "revoke", str(row.pk), stdout=StringIO())
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN).count() == 2
