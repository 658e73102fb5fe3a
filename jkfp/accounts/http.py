"""类型化请求 Typed requests: what a view may assume of ``request`` once its guard has run.

``AuthedRequest`` is the request of a signed-in user (views behind ``login_required`` or
``role_required``): ``request.user`` is a ``User``, never ``AnonymousUser``, so views read its role
and region without a ``type: ignore``. ``UploadRequest`` also carries the size-limiting upload
handler that a streaming upload view installs before the body is read.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers, patch_cache_control

from jkfp.accounts.models import User


class AuthedRequest(HttpRequest):
    """The request of a signed-in user."""

    user: User  # narrowed from User | AnonymousUser by the view's guard


class UploadRequest(AuthedRequest):
    """A signed-in user's upload, with the handler that limits its size while it streams in."""

    jkfp_upload_handler: Any


class SessionApiRequest(HttpRequest):
    """A request of the session-authenticated API (the offline app): ``request.auth`` is its ``User``."""

    auth: User


def no_store(response: HttpResponseBase) -> HttpResponseBase:
    """不缓存 Mark ``response`` as never to be stored by a browser or proxy (``Cache-Control: no-store``):
    every page, file and API answer that may hold personal data (issue 17 §8)."""
    add_never_cache_headers(response)  # max-age=0, no-cache, no-store, must-revalidate, private
    patch_cache_control(response, no_store=True, private=True)
    return response
