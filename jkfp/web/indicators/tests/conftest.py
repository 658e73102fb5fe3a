"""Fixtures of the indicator page tests: the hand-built county of ``jkfp.indicators.tests.factories``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jkfp.indicators import services
from jkfp.indicators.tests.factories import YEAR, World, build_world


@pytest.fixture
def world(county: dict[str, Any], make_user: Callable[..., Any]) -> World:
    w = build_world(county, make_user)
    services.snapshot_refresh(year=YEAR)
    return w


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    def _login(user: Any) -> Client:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
