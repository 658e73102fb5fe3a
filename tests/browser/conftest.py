"""The shared fixtures of jkfp/conftest.py (a small county, users per role) for the browser tests."""

from jkfp.conftest import county, make_user

__all__ = ["county", "make_user"]
