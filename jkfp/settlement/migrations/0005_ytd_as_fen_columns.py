"""Year-to-date before/after a settlement as fourteen integer-fen columns instead of two comma-joined
texts (issue 14): add the columns, convert the stored texts, drop the texts."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

FIELDS = ("basic", "critical_base", "critical", "aid", "aid_deductible_used", "supplementary", "personal")
LABELS = ("基本医保", "大病保险累计基数", "大病保险", "医疗救助", "救助起付线已用", "补充保险", "个人负担")
COLUMNS = [f"ytd_{when}_{f}_fen" for when in ("before", "after") for f in FIELDS]


def convert(apps: Any, schema_editor: Any) -> None:
    Settlement = apps.get_model("settlement", "Settlement")
    batch = []
    rows = Settlement.objects.only("id", "ytd_before_fen", "ytd_after_fen").iterator(chunk_size=2000)
    for row in rows:
        for when in ("before", "after"):
            text = getattr(row, f"ytd_{when}_fen")
            values = [int(v) for v in text.split(",")] if text else [0] * len(FIELDS)
            for f, v in zip(FIELDS, values, strict=True):
                setattr(row, f"ytd_{when}_{f}_fen", v)
        batch.append(row)
        if len(batch) >= 2000:
            Settlement.objects.bulk_update(batch, COLUMNS)
            batch = []
    if batch:
        Settlement.objects.bulk_update(batch, COLUMNS)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0004_ytd_as_fen_text")]

    operations = [
        *(
            migrations.AddField(
                model_name="settlement",
                name=f"ytd_{when}_{f}_fen",
                field=models.BigIntegerField(default=0, verbose_name=f"{zh}{label}累计（分）"),
            )
            for when, zh in (("before", "结算前"), ("after", "结算后"))
            for f, label in zip(FIELDS, LABELS, strict=True)
        ),
        migrations.RunPython(convert, migrations.RunPython.noop),
        migrations.RemoveField(model_name="settlement", name="ytd_before_fen"),
        migrations.RemoveField(model_name="settlement", name="ytd_after_fen"),
    ]
