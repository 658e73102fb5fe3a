"""预置政策 The policies the project ships (``settlement.md §4``)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from jkfp.engine.policy import Policy, PolicyError, PolicyProblem, loads_policy


def preset_names() -> tuple[str, ...]:
    """Names of the shipped presets, sorted (e.g. ``("suixian-2020", "transition-2024")``)."""
    folder = resources.files(__package__)
    return tuple(sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml")))


def preset_text(
    name: str,
    *,
    as_name: str | None = None,
    year: int | None = None,
    title: str | None = None,
    lines: Mapping[str, str] | None = None,
) -> str:
    """预置政策文本 The TOML text of the shipped preset ``name`` — the one place a preset is renamed and
    re-dated. ``as_name``/``title`` replace its ``name``/``title``; ``year`` re-dates it to 1 January –
    31 December of ``year``; ``lines`` replaces whole lines (old line → new line). With none of them
    the shipped text is returned as it is."""
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    if not (as_name or year or title or lines):
        return text
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if as_name and key == "name":
            line = f'name = "{as_name}"'
        elif title and key == "title":
            line = f'title = "{title}"'
        elif year and key == "valid_from":
            line = f'valid_from = "{year}-01-01"'
        elif year and key == "valid_to":
            line = f'valid_to = "{year}-12-31"'
        elif lines and line in lines:
            line = lines[line]
        out.append(line)
    return "\n".join(out) + "\n"


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
    return loads_policy(preset_text(name), fmt="toml", source=f"preset:{name}")
