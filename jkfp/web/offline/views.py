"""村医离线应用页面 The installable app's shell, its service worker and manifest, and the county
administrator's device list with revocation (issue 20).

Who reaches what is the permission matrix's (``jkfp.accounts.permissions``): the shell, worker and
manifest are public and hold no data (the phone needs them before it logs in and while offline); the
data comes only from ``/api/v1/offline/``, which admits ``jkfp.offline.services.FIELD_ROLES``; the
device pages admit the county administrator.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.offline import selectors, services
from jkfp.web.offline.forms import RevokeForm

# Every static file the shell (web/offline/app.html) loads: the service worker precaches their
# real URLs (hashed when the static storage hashes), so the app opens with no network at all.
SHELL_STATIC = (
    "vendor/bootstrap/css/bootstrap.min.css",
    "vendor/idb/umd.js",
    "offline/rules.js",
    "offline/app.js",
    "offline/app.css",
    "offline/icon.svg",
    "offline/icon-192.png",
    "offline/icon-512.png",
)
SHELL_TEMPLATES = ("web/offline/app.html", "web/offline/sw.js")
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def shell_urls() -> list[str]:
    """离线缓存清单 The URLs the service worker precaches: the page, the manifest, the static files."""
    return [
        reverse("offline:app"),
        reverse("offline:manifest"),
        *(staticfiles_storage.url(name) for name in SHELL_STATIC),
    ]


@lru_cache(maxsize=1)
def _sources_digest() -> str:
    digest = hashlib.sha256()
    for name in SHELL_STATIC:
        found = finders.find(name)
        path = Path(found if isinstance(found, str) else staticfiles_storage.path(name))
        digest.update(name.encode() + b"\0" + path.read_bytes())
    for template in SHELL_TEMPLATES:  # the site's own templates (settings.TEMPLATES' DIRS)
        digest.update((TEMPLATE_DIR / template).read_bytes())
    return digest.hexdigest()


def shell_version() -> str:
    """离线缓存版本 Changes whenever a shell file or one of its URLs changes: the phone then installs
    the new worker and its cache replaces the old one."""
    digest = hashlib.sha256(_sources_digest().encode())
    digest.update("\n".join(shell_urls()).encode())
    return digest.hexdigest()[:16]


@require_GET
def app(request: HttpRequest) -> HttpResponse:
    """村医随访（离线版） The app shell: no data in it, everything comes from the phone's copy."""
    return render(request, "web/offline/app.html")


@never_cache
@require_GET
def worker(request: HttpRequest) -> HttpResponse:
    """离线缓存脚本 The service worker, served from /m/ so that its scope covers the app."""
    response = render(
        request,
        "web/offline/sw.js",
        {
            "version": shell_version(),
            "shell_json": json.dumps(shell_urls()),
            "app_url": json.dumps(reverse("offline:app")),
        },
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = reverse("offline:app")
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """应用清单 The web app manifest (添加到主屏幕)."""
    start = reverse("offline:app")
    data = {
        "name": "健康扶贫 · 村医随访",
        "short_name": "村医随访",
        "description": "村医随访工作清单、随访、送药、体检登记；没有信号也能用，有网络时自动上传。",
        "lang": "zh-CN",
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f6f7f9",
        "theme_color": "#0d6efd",
        "icons": [
            {"src": staticfiles_storage.url("offline/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {
                "src": staticfiles_storage.url("offline/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any maskable",
            },
            {"src": staticfiles_storage.url("offline/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
def devices(request: AuthedRequest) -> HttpResponse:
    """离线设备 The phones that synced for the accounts of the county, with revocation."""
    rows = selectors.devices(user=request.user)
    counts = selectors.device_entry_counts(device_ids=[d.pk for d in rows])
    listed = [(d, counts.get(d.pk, {})) for d in rows]
    return render(request, "web/offline/devices.html", {"devices": listed, "form": RevokeForm()})


@require_POST
def device_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    """吊销设备 End the phone's session; its next sync wipes the phone's copy."""
    device = selectors.device_get(user=request.user, pk=pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, services.ERR_REVOKE_REASON)
        return redirect("offline:devices")
    try:
        services.device_revoke(
            user=request.user,
            device=device,
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, f"已吊销 {device.user} 的设备；该手机下次联网时会清除数据")
    return redirect("offline:devices")
