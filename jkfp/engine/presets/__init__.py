"""预置政策 The policies the project ships (``settlement.md §4``)."""

from __future__ import annotations

from importlib import resources

from jkfp.engine.policy import Policy, PolicyError, PolicyProblem, loads_policy


def preset_names() -> tuple[str, ...]:
    """Names of the shipped presets, sorted (e.g. ``("suixian-2020", "transition-2024")``)."""
    folder = resources.files(__package__)
    return tuple(sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml")))


def load_preset(name: str) -> Policy:
    """读取预置政策 Load and validate the shipped preset called ``name``."""
    names = preset_names()
    if name not in names:
        raise PolicyError(
            [
                PolicyProblem(
                    "",
                    f"没有名为“{name}”的预置政策（可用：{'、'.join(names)}）",
                    f"no preset called {name!r} (available: {', '.join(names)})",
                )
            ]
        )
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return loads_policy(text, fmt="toml", source=f"preset:{name}")
