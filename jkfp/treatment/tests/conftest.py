"""Fixtures of the treatment tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jkfp.treatment.tests.factories import TreatmentWorld, build_world


@pytest.fixture
def tw(county: dict[str, Any], make_user: Callable[..., Any]) -> TreatmentWorld:
    return build_world(county, make_user)
