"""Fixtures of the command tests."""

from __future__ import annotations
