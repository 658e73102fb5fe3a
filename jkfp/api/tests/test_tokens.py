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
