"""Fixtures of the settlement tests: persons with dated tags, institutions, the 2020 preset policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jkfp.settlement.tests.factories import SettleWorld, build_world


@pytest.fixture
def sw(county: dict[str, Any], make_user: Callable[..., Any]) -> SettleWorld:
    return build_world(county, make_user)
