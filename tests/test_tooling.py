"""工具约束 The lint exceptions only shrink (issue 14): the modules mypy may not check yet and the
``type: ignore`` comments of the package. Fixing one lowers the number here; adding one fails."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MYPY_EXCEPTIONS_MAX = 30  # modules with ignore_errors = true (was 30 when mypy first read all of jkfp)
# in jkfp/: 67 on main before issue 14, when mypy did not read the whole package with django-stubs
TYPE_IGNORES_MAX = 20


def test_mypy_exceptions_only_shrink() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    overrides = config["tool"]["mypy"]["overrides"]
    ignored = [m for o in overrides if o.get("ignore_errors") for m in o["module"]]
    assert len(ignored) == len(set(ignored))
    assert len(ignored) <= MYPY_EXCEPTIONS_MAX, ignored
    assert config["tool"]["mypy"]["files"] == ["jkfp"]


def test_type_ignores_only_shrink() -> None:
    count = sum(
        path.read_text(encoding="utf-8").count("type: ignore")
        for path in (ROOT / "jkfp").rglob("*.py")
        if "migrations" not in path.parts
    )
    assert count <= TYPE_IGNORES_MAX
