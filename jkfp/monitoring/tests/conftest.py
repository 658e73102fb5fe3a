"""Fixtures of the monitoring tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jkfp.monitoring.tests.factories import MonitorWorld, build_world


@pytest.fixture
def mw(county: dict[str, Any], make_user: Callable[..., Any]) -> MonitorWorld:
    return build_world(county, make_user)
