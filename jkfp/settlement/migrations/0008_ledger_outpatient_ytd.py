"""The ledger row keeps §6's outpatient sums (issue 19: a visit settles on the ledger row in O(1)).

Rows written before the column get NULL ("not kept") when the person has a settled outpatient claim
that year: their next claim settles the year in order, which sets the sums. Every other row gets ""
(no outpatient claim: the sums are zero)."""

from django.db import migrations, models
from django.db.models.functions import ExtractYear


def mark_rows(apps, schema_editor):
    ledger = apps.get_model("settlement", "YearLedger")
    claim = apps.get_model("settlement", "Claim")
    ledger.objects.update(outpatient_ytd="")
    pairs = (
        claim.objects.filter(kind="outpatient", status="settled")
        .annotate(year=ExtractYear("discharged_on"))
        .values_list("year", "person_id")
        .distinct()
    )
    by_year: dict[int, list[int]] = {}
    for year, person in pairs:
        by_year.setdefault(int(year), []).append(person)
    for year, persons in by_year.items():
        for start in range(0, len(persons), 500):
            ledger.objects.filter(year=year, person_id__in=persons[start : start + 500]).update(
                outpatient_ytd=None
            )


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0007_subsidies_payment_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="yearledger",
            name="outpatient_ytd",
            field=models.TextField(blank=True, null=True, verbose_name="门诊慢特病累计（分）"),
        ),
        migrations.AlterField(
            model_name="yearledger",
            name="outpatient_ytd",
            field=models.TextField(blank=True, default="", null=True, verbose_name="门诊慢特病累计（分）"),
        ),
        migrations.RunPython(mark_rows, migrations.RunPython.noop),
    ]
