"""浏览器测试的公共部分 Headless Debian Chromium on a phone-sized screen, with a log of script errors.

Playwright's sync API runs an event loop in the test's thread, so Django's async-safety check would
refuse the ORM there: the tests touch the database only before the browser starts and after it has
finished (the live server runs the requests in its own thread). Hence ``phone`` is a factory the test
opens itself (``with phone() as tab:``) after its ORM set-up, not a fixture that starts the browser.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Passw0rd!jkfp"  # the password of the root conftest's make_user
PHONE_VIEWPORT = {"width": 390, "height": 844}


def open_menu(page: Any) -> None:
    """展开菜单 Open the phone's navigation menu and wait until it stands open.

    Bootstrap slides the menu open (``collapsing``, 0.35 s) before it is ``show``: a click that
    lands in the slide can miss its target (seen: 退出 clicked 50 ms after the toggle submitted
    nothing), where a person's finger waits for the menu to appear."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="展开菜单").click()
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))


@dataclass
class Tab:
    """一个浏览器页面 The page of a phone-sized browser and the console errors and script errors it logged."""

    page: Any
    base_url: str
    problems: list[str] = field(default_factory=list)

    def log_in(self, username: str, *, path: str | None = "/login/") -> None:
        """登录 Open ``path`` (None: stay on the login page already shown) and log in as ``username``."""
        if path is not None:
            self.page.goto(f"{self.base_url}{path}")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(PASSWORD)
        self.page.get_by_role("button", name="登录").click()


class _NoStaticHandler:
    """The live server's static handler that hands every request to the site itself.

    pytest-django's live server serves ``/static/`` from the finders, which know no hashed names; the
    site's whitenoise serves the collected, hashed, compressed files as production does.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.application(environ, start_response)


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-django's live server, with static files served by the site's whitenoise."""
    from django.test.testcases import LiveServerThread
    from pytest_django import live_server_helper

    server = live_server_helper.LiveServer("localhost", start=False)
    thread = server.thread
    server.thread = LiveServerThread(
        "localhost", static_handler=_NoStaticHandler, connections_override=thread.connections_override
    )
    server.thread.daemon = True
    server.start()
    yield server
    server.stop()


@pytest.fixture
def phone(live_server: Any, settings: Any) -> Callable[..., AbstractContextManager[Tab]]:
    """``with phone() as tab:`` a fresh headless Chromium (closed afterwards) showing one phone-sized page."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

    @contextmanager
    def open_tab(*, accept_downloads: bool = False) -> Iterator[Tab]:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport=PHONE_VIEWPORT,  # type: ignore[arg-type]
                    locale="zh-CN",
                    accept_downloads=accept_downloads,
                )
                tab = Tab(page=context.new_page(), base_url=live_server.url)
                tab.page.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
                tab.page.on("pageerror", lambda e: tab.problems.append(str(e)))
                yield tab
            finally:
                browser.close()

    return open_tab
