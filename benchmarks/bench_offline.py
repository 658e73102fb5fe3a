"""The village doctor's phone (issue 20, performance.md): the offline work list and the app shell.

A real gunicorn server on a throw-away SQLite database with the offline app's test village (1,000
persons under follow-up, ``tests/browser/offline_seed.py``); Debian Chromium on a phone screen with
the CPU throttled 4× (``Emulation.setCPUThrottlingRate``, a mid-range phone). After one sync:

- ``offline_worklist_4x``: the network off, the app reloaded; time from navigation start until the
  work list is on screen (from the service worker's cache and IndexedDB: all persons due). Baseline
  in the same run: the server-rendered work list ``/care/`` of the same doctor, online, on the same
  throttled CPU, until its ``load`` event (it shows 50 rows a page). Budget: < 1 s.
- ``offline_shell``: the bytes of the app shell's first load, compressed as served (gzip for text,
  images as they are). Budget: ≤ 300 KB.

Best of 3 (``--small``: 1); the floors are the budgets (``--small``: 2.5× the time budget, this
2-core machine being shared).
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

PERSONS = 1000
RENDER_BUDGET_S = 1.0
SHELL_BUDGET_KB = 300.0
LOOSE = 2.5
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def shell_kb() -> float:
    """The compressed size of everything the shell loads (as ``test_the_shell_is_within_300_kb_compressed``)."""
    from django.contrib.staticfiles import finders
    from django.test import Client

    from jkfp.web.offline.views import SHELL_STATIC

    client = Client()
    parts = {name: Path(str(finders.find(name))).read_bytes() for name in SHELL_STATIC}
    for url in ("/m/", "/m/sw.js", "/m/manifest.webmanifest"):
        parts[url] = client.get(url).content
    return sum(len(b) if n.endswith(".png") else len(gzip.compress(b, 9)) for n, b in parts.items()) / 1024


def main(argv: list[str]) -> int:
    sys.path.insert(0, ".")
    from benchmarks.django_setup import setup_django

    small = "--small" in argv
    home = setup_django()
    from django.conf import settings
    from django.db import connections
    from playwright.sync_api import expect, sync_playwright

    from benchmarks.loadtest import Server
    from tests.browser.offline_seed import seed

    seed(PERSONS)
    connections.close_all()
    database = settings.DATABASES["default"]["NAME"]
    server = Server(database_url=f"sqlite:///{database}", home=home / "server", workers=1, threads=4)
    server.start(ready_path="/m/")
    base = f"http://127.0.0.1:{server.port}"
    rounds = 1 if small else 3
    ours: list[float] = []
    baseline: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{base}/login/?next=/m/")
            page.get_by_label("用户名").fill("cunyi")
            page.get_by_label("密码").fill("Passw0rd!jkfp")
            page.get_by_role("button", name="登录").click()
            expect(page.locator("#sync-status")).to_have_text("已同步", timeout=60000)
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            for _ in range(rounds):
                context.set_offline(True)
                page.reload()
                expect(page.locator("#worklist a").first).to_be_visible(timeout=30000)
                ours.append(float(page.evaluate("window.jkfpWorklistShown")) / 1000)
                context.set_offline(False)
                page.goto(f"{base}/care/")
                page.wait_for_load_state("load")
                baseline.append(
                    float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")) / 1000
                )
                page.goto(f"{base}/m/")
                expect(page.locator("#worklist a").first).to_be_visible(timeout=30000)
                time.sleep(0.2)
            browser.close()
    finally:
        server.kill()
    best, base_best = min(ours), min(baseline)
    size = shell_kb()
    print(
        f"offline_worklist_4x: ratio={base_best / best:.2f} (ours {best:.3f} s offline, all persons due; "
        f"baseline {base_best:.3f} s the online server page /care/ (50 rows); n={PERSONS}, CPU 4x, best of {rounds})"
    )
    print(
        f"offline_shell: ratio={SHELL_BUDGET_KB / size:.2f} (ours {size:.1f} KB compressed, budget {SHELL_BUDGET_KB:.0f} KB)"
    )
    limit = RENDER_BUDGET_S * (LOOSE if small else 1)
    if best >= limit or size > SHELL_BUDGET_KB:
        print(
            f"offline: over budget (render {best:.3f} s vs {limit:.1f} s, shell {size:.1f} KB)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
