"""Page weight on a phone: the bytes a page costs over the wire, by kind (HTML, CSS, JS, other).

    .venv/bin/python scripts/page_weight.py http://127.0.0.1:8000 demo-doctor jkfp-demo-2026 /care/

Logs in with headless Debian Chromium on a phone-sized screen, then loads the page with an empty cache
and again (a later visit), and prints the encoded (compressed, as transferred) bytes of each kind, from
Chromium's own network events. Used for issue 15's before/after figures of the village doctor's work list.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
KINDS = {"Document": "html", "Stylesheet": "css", "Script": "js"}


def weigh(page: Any, session: Any, url: str) -> dict[str, int]:
    kinds: dict[str, str] = {}
    sizes: dict[str, int] = defaultdict(int)

    def sent(event: dict[str, Any]) -> None:
        kinds[event["requestId"]] = KINDS.get(event.get("type", ""), "other")

    def finished(event: dict[str, Any]) -> None:
        sizes[kinds.get(event["requestId"], "other")] += int(event["encodedDataLength"])

    session.on("Network.requestWillBeSent", sent)
    session.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="networkidle")
    session.remove_listener("Network.requestWillBeSent", sent)
    session.remove_listener("Network.loadingFinished", finished)
    return dict(sizes)


def main() -> int:
    base, username, password, path = sys.argv[1:5]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        session = context.new_cdp_session(page)
        session.send("Network.enable")
        session.send("Network.clearBrowserCache")
        session.send("Network.setCacheDisabled", {"cacheDisabled": False})
        for label in ("first visit (empty cache)", "next visit"):
            sizes = weigh(page, session, f"{base}{path}")
            core = sum(sizes.get(k, 0) for k in ("html", "css", "js"))
            detail = ", ".join(f"{k} {v:,}" for k, v in sorted(sizes.items()))
            print(f"{path} {label}: HTML+CSS+JS {core:,} bytes ({detail})")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
