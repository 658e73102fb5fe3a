"""Fixtures of the monitoring page tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jkfp.monitoring.tests.factories import MonitorWorld, build_world


@pytest.fixture
def mw(county: dict[str, Any], make_user: Callable[..., Any]) -> MonitorWorld:
    return build_world(county, make_user)


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    def _login(user: Any) -> Client:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
