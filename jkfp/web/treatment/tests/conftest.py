"""Fixtures of the treatment page tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jkfp.treatment.tests.factories import TreatmentWorld, build_world


@pytest.fixture
def tw(county: dict[str, Any], make_user: Callable[..., Any]) -> TreatmentWorld:
    return build_world(county, make_user)


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    def _login(user: Any) -> Client:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
