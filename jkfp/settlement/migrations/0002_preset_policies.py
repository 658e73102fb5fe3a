"""预置政策入库 Store the shipped policy presets (``settlement.md §4``) so that ``jkfp init`` makes
them available; idempotent (a preset already stored with the same text is skipped)."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from django.db import migrations


def install(apps: Any, schema_editor: Any) -> None:
    from jkfp.engine import loads_policy, preset_names

    Policy = apps.get_model("settlement", "Policy")
    for name in preset_names():
        text = resources.files("jkfp.engine.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if Policy.objects.filter(sha256=digest).exists():
            continue
        parsed = loads_policy(text, fmt="toml", source=f"preset:{name}")
        latest = Policy.objects.filter(name=parsed.name).order_by("-version").first()
        Policy.objects.create(
            name=parsed.name,
            version=(latest.version + 1) if latest else 1,
            title=parsed.title[:300],
            valid_from=parsed.valid_from,
            valid_to=parsed.valid_to,
            source_text=text,
            source_format="toml",
            sha256=digest,
        )


class Migration(migrations.Migration):
    dependencies = [("settlement", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
