"""Year-to-date before/after a settlement as comma-separated fen text instead of JSON (ADR 0004):
add the new columns, convert the stored JSON, drop the JSON columns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations, models

FIELDS = ("basic", "critical_base", "critical", "aid", "aid_deductible_used", "supplementary", "personal")


def _fen(values: Any) -> str:
    values = values or {}
    return ",".join(str(int(Decimal(str(values.get(f, "0"))) * 100)) for f in FIELDS)


def convert(apps: Any, schema_editor: Any) -> None:
    Settlement = apps.get_model("settlement", "Settlement")
    batch = []
    for row in Settlement.objects.only("id", "ytd_before", "ytd_after").iterator(chunk_size=2000):
        row.ytd_before_fen = _fen(row.ytd_before)
        row.ytd_after_fen = _fen(row.ytd_after)
        batch.append(row)
        if len(batch) >= 2000:
            Settlement.objects.bulk_update(batch, ["ytd_before_fen", "ytd_after_fen"])
            batch = []
    if batch:
        Settlement.objects.bulk_update(batch, ["ytd_before_fen", "ytd_after_fen"])


class Migration(migrations.Migration):
    dependencies = [("settlement", "0003_claim_major_disease_case")]

    operations = [
        migrations.AddField(
            model_name="settlement",
            name="ytd_before_fen",
            field=models.CharField(blank=True, max_length=200, verbose_name="结算前当年累计（分）"),
        ),
        migrations.AddField(
            model_name="settlement",
            name="ytd_after_fen",
            field=models.CharField(blank=True, max_length=200, verbose_name="结算后当年累计（分）"),
        ),
        migrations.RunPython(convert, migrations.RunPython.noop),
        migrations.RemoveField(model_name="settlement", name="ytd_after"),
        migrations.RemoveField(model_name="settlement", name="ytd_before"),
    ]
