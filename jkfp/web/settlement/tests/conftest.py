"""Fixtures of the settlement page tests (the settlement app's world: persons, hospitals, users)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jkfp.settlement.tests.factories import SettleWorld, build_world


@pytest.fixture
def sw(county: dict[str, Any], make_user: Callable[..., Any]) -> SettleWorld:
    return build_world(county, make_user)


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    def _login(user: Any) -> Client:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
