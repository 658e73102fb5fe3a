"""门诊慢特病 Claims get a kind (住院/门诊慢特病) and the outpatient disease (settlement.md §6); the shipped
presets, which now carry ``outpatient`` blocks and ``outpatient_diseases``, are stored again as a new
version where an older text is stored (an upgraded database; a fresh one has them already)."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from django.db import migrations, models


def presets_again(apps: Any, schema_editor: Any) -> None:
    from jkfp.engine import loads_policy, preset_names

    Policy = apps.get_model("settlement", "Policy")
    for name in preset_names():
        text = resources.files("jkfp.engine.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        parsed = loads_policy(text, fmt="toml", source=f"preset:{name}")
        latest = Policy.objects.filter(name=parsed.name).order_by("-version").first()
        if latest is None or Policy.objects.filter(sha256=digest).exists():
            continue
        Policy.objects.create(
            name=parsed.name,
            version=latest.version + 1,
            title=parsed.title[:300],
            valid_from=parsed.valid_from,
            valid_to=parsed.valid_to,
            source_text=text,
            source_format="toml",
            sha256=digest,
        )


class Migration(migrations.Migration):
    dependencies = [("settlement", "0005_ytd_as_fen_columns")]

    operations = [
        migrations.AddField(
            model_name="claim",
            name="disease",
            field=models.CharField(blank=True, max_length=50, verbose_name="门诊慢特病病种"),
        ),
        migrations.AddField(
            model_name="claim",
            name="kind",
            field=models.CharField(
                choices=[("inpatient", "住院"), ("outpatient", "门诊慢特病")],
                default="inpatient",
                max_length=10,
                verbose_name="就诊类别",
            ),
        ),
        migrations.AddConstraint(
            model_name="claim",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind", "inpatient"), models.Q(("disease", ""), _negated=True), _connector="OR"),
                name="claim_outpatient_has_disease",
            ),
        ),
        migrations.RunPython(presets_again, migrations.RunPython.noop),
    ]
