"""Fixtures of the capacity page tests: the facilities world of ``jkfp.capacity.tests.conftest``."""

from __future__ import annotations

from jkfp.capacity.tests.conftest import world

__all__ = ["world"]
