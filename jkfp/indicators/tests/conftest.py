"""Fixtures of the indicator tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jkfp.indicators.tests.factories import World, build_world


@pytest.fixture
def world(county: dict[str, Any], make_user: Callable[..., Any]) -> World:
    return build_world(county, make_user)
