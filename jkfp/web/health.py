"""健康检查页 ``/healthz``: JSON for monitoring, 200 when all is well and 503 otherwise; no login."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from jkfp.ops.health import health_report


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """健康检查 Database, migrations, worker heartbeat age and free disk (nothing personal)."""
    report = health_report()
    return JsonResponse(
        report.as_dict(), status=200 if report.ok else 503, json_dumps_params={"ensure_ascii": False}
    )
