"""审计中间件 The one place where a web or API request becomes audit rows without a view's help.

Around every request (pages and ``/api/``; second in ``MIDDLEWARE``, after the proxy's address is
known) it sets the audit context (``services.audit_context``): every audit row written while the
request is served carries the client's address and browser, whichever service writes it. When the
response is ready it records, at most one row:

- **denied access** (``DENIED``): a 403 or 404 on a person-, household-, case- or claim-shaped URL
  (``DENIED_SHAPES``), by anyone — the probe itself is the event;
- otherwise, when nothing was audited while serving the request and a user (or an API token) made it:
  - a **submission** (``SUBMIT``): a POST/PUT/PATCH/DELETE answered below 400 (done, or sent back
    with a message) — so every write from the web leaves a row with its status, even where its
    service audits nothing of its own;
  - an **API read** (``API_READ``): a successful GET under ``/api/``;
  - a **search or list filter** (``SEARCH``): a successful GET of a page with a query besides the
    page number, with the query in the detail (ID numbers masked by ``core.idnumber.mask_text``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from jkfp.accounts.models import AuditAction
from jkfp.accounts.services import AuditContext, audit_context, audit_record
from jkfp.core.idnumber import mask_text

# URLs that name one person, household, case, claim (or what belongs to one): a 403/404 there is a
# denied access (a guessed id, another region's record), not a mistyped address.
DENIED_SHAPES = re.compile(
    r"/(?:persons|households|cases|claims|admissions|referrals|attachments|exports|settlements)/[^/]+"
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Query parameters that only page through a list: not a search.
PAGING = frozenset({"page"})
API_PREFIX = "/api/"
# Session plumbing of the offline app, not a read of data.
API_NOT_READS = ("/api/v1/offline/csrf",)


def _actor(request: HttpRequest) -> Any:
    """The signed-in user, or the API caller of a valid token, or None."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return getattr(request, "auth", None)


def _query_text(request: HttpRequest) -> str:
    parts = [f"{key}={value}" for key, values in request.GET.lists() if key not in PAGING for value in values]
    return mask_text("；".join(p for p in parts if not p.endswith("=")))


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match is not None else "") or request.path[:64]


def audit_response(request: HttpRequest, response: HttpResponseBase, context: AuditContext) -> None:
    """记请求审计 The row (if any) that this request's outcome adds to the audit log (module docstring)."""
    status = response.status_code
    path = request.path
    actor = _actor(request)
    institution = getattr(actor, "institution", None)  # an API token's institution
    region = getattr(actor, "region_id", None) or getattr(institution, "region_id", None) or ""
    if status in (403, 404) and DENIED_SHAPES.search(path):
        user = actor if actor is not None else getattr(request, "user", None)
        audit_record(
            user=user,
            action=AuditAction.DENIED,
            object_type="url",
            object_id=path[:64],
            detail=mask_text(f"{status} {request.method} {request.get_full_path()}"),
            region_code=region,
        )
        return
    if context.recorded or actor is None or status >= 400:
        return
    if request.method in WRITE_METHODS:
        audit_record(
            user=actor,
            action=AuditAction.SUBMIT,
            object_type="request",
            object_id=_view_name(request),
            detail=mask_text(f"{request.method} {path} {status}"),
            region_code=region,
        )
    elif request.method == "GET" and status == 200 and path.startswith(API_PREFIX):
        if not path.startswith(API_NOT_READS):
            audit_record(
                user=actor,
                action=AuditAction.API_READ,
                object_type="api",
                object_id=_view_name(request),
                detail=mask_text(request.get_full_path()),
                region_code=region,
            )
    elif request.method == "GET" and status == 200 and (query := _query_text(request)):
        audit_record(
            user=actor,
            action=AuditAction.SEARCH,
            object_type="search",
            object_id=_view_name(request),
            detail=f"{path} {query}",
            region_code=region,
        )


class AuditMiddleware:
    """Set the audit context around the request and record its outcome (module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with audit_context(request) as context:
            response = self.get_response(request)
            audit_response(request, response, context)
        return response
