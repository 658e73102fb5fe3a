"""接口认证 ``Authorization: Bearer <token>``: the token names the institution (医疗机构) calling."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security import HttpBearer

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


class InstitutionBearer(HttpBearer):
    """机构令牌 A valid, unrevoked token → ``request.auth`` is an ApiCaller; anything else → 401."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller | None:
        row = institution_token_for(token=token.strip())
        if row is None:
            return None
        return ApiCaller(institution=row.institution, token_prefix=row.prefix)
