"""The care world of jkfp/care/tests for the page tests."""

from jkfp.care.tests.conftest import cw  # noqa: F401
