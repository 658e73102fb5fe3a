"""Fixtures of the settlement tests: persons with dated tags, institutions, the 2020 preset policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement.tests.factories import SettleWorld, build_world, card


@pytest.fixture
def sw(county: dict[str, Any], make_user: Callable[..., Any]) -> SettleWorld:
    return build_world(county, make_user)


@pytest.fixture
def ow(sw: SettleWorld) -> SettleWorld:
    """The settle world with the disease catalogue; A = poor1 (poor) holds a 高血压 card, B = plain
    (ordinary) a 2型糖尿病 card."""
    disease_catalogue_load()
    card(sw.persons["poor1"], "高血压")
    card(sw.persons["plain"], "2型糖尿病")
    return sw
