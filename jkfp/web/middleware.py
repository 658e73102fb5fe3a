"""不缓存个人信息 ``Cache-Control: no-store`` on every response to a signed-in user.

A page, an export or a PDF shown to a signed-in user may hold personal data (names, ID numbers,
diseases, amounts): no browser, proxy or shared computer may keep a copy (issue 17 §8, 最小必要).
The hospital API's answers get the same header in ``jkfp.api.middleware``; anonymous pages (the
login page, the offline app's shell and its service worker, static files) keep their own caching.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from jkfp.accounts.http import no_store


class NoStoreMiddleware:
    """Every response to an authenticated user carries ``Cache-Control: no-store``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user: Any = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            no_store(response)
        return response
