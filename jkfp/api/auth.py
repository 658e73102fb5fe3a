"""接口认证 ``Authorization: Bearer <token>``: the token names the institution (医疗机构) calling."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db.models.signals import post_save
from django.http import HttpRequest
from ninja.security import HttpBearer

from jkfp.accounts.models import InstitutionToken
from jkfp.accounts.selectors import institution_token_for
from jkfp.regions.models import Institution


@dataclass(frozen=True)
class ApiCaller:
    """接口调用方 The institution behind a token; ``username`` names it in the audit log
    (``接口:H001:jkfp_ab12``). Not a user account: ``is_authenticated`` is False, so the audit row's
    user is empty and the services run without a user (the token already fixes the institution)."""

    institution: Institution
    token_prefix: str
    is_authenticated: bool = False

    @property
    def username(self) -> str:
        return f"接口:{self.institution.code}:{self.token_prefix}"


# token → (caller, monotonic expiry). Only valid tokens are remembered, for TOKEN_TTL seconds: a
# revocation (``jkfp token revoke``) takes effect in every server process within that time, and
# at once in the process that revoked it (``token_cache_clear``). Institution edits (level,
# in-county) are picked up within the same time.
TOKEN_TTL = 5.0
TOKEN_CACHE_MAX = 1000
_tokens: dict[str, tuple[ApiCaller, float]] = {}


def token_cache_clear(**_: object) -> None:
    """Forget every remembered token (after a revocation, and in tests)."""
    _tokens.clear()


# A token row saved in this process (``institution_token_revoke``) forgets the remembered tokens.
post_save.connect(token_cache_clear, sender=InstitutionToken, dispatch_uid="jkfp.api.auth.token_cache_clear")


class InstitutionBearer(HttpBearer):
    """机构令牌 A valid, unrevoked token → ``request.auth`` is an ApiCaller; anything else → 401."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller | None:
        token = token.strip()
        now = time.monotonic()
        hit = _tokens.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        row = institution_token_for(token=token)
        if row is None:
            _tokens.pop(token, None)
            return None
        caller = ApiCaller(institution=row.institution, token_prefix=row.prefix)
        if len(_tokens) >= TOKEN_CACHE_MAX:
            _tokens.clear()
        _tokens[token] = (caller, now + TOKEN_TTL)
        return caller
