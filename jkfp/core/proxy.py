"""反向代理 The client's address behind a trusted reverse proxy.

nginx (deploy/nginx/jkfp.conf) sets ``X-Real-IP`` to the address it saw. When the request comes from
one of ``settings.TRUSTED_PROXIES`` (loopback by default), ``REMOTE_ADDR`` becomes that address, so
the audit log and the login throttling (django-axes reads ``REMOTE_ADDR`` only) see the real client.
A request from anywhere else keeps its own address: nobody can claim another by sending the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

REAL_IP_HEADER = "HTTP_X_REAL_IP"


def client_address(meta: dict[str, str], trusted: frozenset[str]) -> str:
    """来源地址 ``REMOTE_ADDR``, or the proxy's ``X-Real-IP`` when the peer is a trusted proxy."""
    peer = meta.get("REMOTE_ADDR", "")
    forwarded = meta.get(REAL_IP_HEADER, "").strip()
    if not forwarded or peer not in trusted:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded))
    except ValueError:
        return peer


class TrustedProxyMiddleware:
    """Set ``REMOTE_ADDR`` to the client's address given by a trusted proxy (first in MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.trusted = frozenset(settings.TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if REAL_IP_HEADER in request.META:
            request.META["REMOTE_ADDR"] = client_address(request.META, self.trusted)
        return self.get_response(request)
