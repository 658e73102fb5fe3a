"""村医离线应用页面 The shell, its service worker and manifest, the shell's size budget, the device pages."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client

from jkfp.accounts.models import AuditAction, AuditEvent, Role
from jkfp.offline.models import Device
from jkfp.web.offline.views import SHELL_STATIC, shell_urls

pytestmark = pytest.mark.django_db

# Issue 20 / performance.md: the first load of the app shell ≤ 300 KB compressed.
SHELL_BUDGET_BYTES = 300 * 1024


def test_the_shell_holds_no_data_and_every_file_it_loads_is_precached() -> None:
    response = Client().get("/m/")
    assert response.status_code == 200
    html = response.content.decode()
    loaded = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert loaded and loaded <= set(shell_urls())
    assert '<link rel="manifest" href="/m/manifest.webmanifest">' in html
    worker = Client().get("/m/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/m/" and "no-cache" in worker["Cache-Control"]
    for url in shell_urls():
        assert json.dumps(url) in worker.content.decode()


def test_the_manifest_makes_the_app_installable() -> None:
    data = json.loads(Client().get("/m/manifest.webmanifest").content)
    assert (data["start_url"], data["scope"], data["display"], data["short_name"]) == (
        "/m/",
        "/m/",
        "standalone",
        "村医随访",
    )
    sizes = {icon["sizes"] for icon in data["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in data["icons"]:
        assert staticfiles_storage.exists(icon["src"].removeprefix(settings.STATIC_URL)), (
            icon
        )  # hashed, collected


def test_the_shell_is_within_300_kb_compressed() -> None:
    client = Client()
    parts = {name: Path(str(finders.find(name))).read_bytes() for name in SHELL_STATIC}
    parts["/m/"] = client.get("/m/").content
    parts["/m/sw.js"] = client.get("/m/sw.js").content
    parts["/m/manifest.webmanifest"] = client.get("/m/manifest.webmanifest").content
    # The images are sent as they are (PNG does not compress); the text is gzipped, as whitenoise serves it.
    sizes = {n: len(b) if n.endswith(".png") else len(gzip.compress(b, 9)) for n, b in parts.items()}
    total = sum(sizes.values())
    print(f"app shell: {total / 1024:.1f} KB compressed ({', '.join(f'{n} {s}' for n, s in sizes.items())})")
    assert total <= SHELL_BUDGET_BYTES


def test_devices_are_listed_and_revoked_by_the_county_administrator(
    county: dict[str, Any], make_user: Callable[..., Any]
) -> None:
    doctor = make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code, full_name="村医甲")
    admin = make_user(Role.COUNTY_ADMIN, "421321")
    township = make_user(Role.TOWNSHIP, county["t1"].code)
    device = Device.objects.create(device_id=uuid.uuid4(), user=doctor, label="Android 手机")
    client = Client()
    client.force_login(township)
    assert client.get("/offline/devices/").status_code == 403
    client.force_login(admin)
    page = client.get("/offline/devices/")
    assert page.status_code == 200 and "村医甲" in page.content.decode()
    refused = client.post(f"/offline/devices/{device.pk}/revoke/", {"reason": ""}, follow=True)
    assert "请填写吊销原因" in refused.content.decode()
    done = client.post(f"/offline/devices/{device.pk}/revoke/", {"reason": "手机丢失"}, follow=True)
    assert "已吊销" in done.content.decode()
    device.refresh_from_db()
    assert (
        device.revoked_at is not None
        and device.revoke_reason == "手机丢失"
        and device.revoked_by == admin.username
    )
    assert AuditEvent.objects.filter(action=AuditAction.CHANGE, object_type="offline_device").count() == 1
    assert client.post("/offline/devices/999999/revoke/", {"reason": "手机丢失"}).status_code == 404
