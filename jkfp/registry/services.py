"""花名册写操作 Registry services: every write of the registry goes through here."""

from __future__ import annotations

import csv
from importlib import resources

from django.db import transaction

from jkfp.registry.models import Disease


def disease_catalogue_load() -> int:
    """载入病种目录 Load the shipped disease catalogue; existing names are left as the county edited them.

    Returns the number of diseases created (0 when run again).
    """
    text = resources.files("jkfp.registry").joinpath("catalogue/diseases.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    existing = set(Disease.objects.values_list("name", flat=True))
    new = [
        Disease(
            name=row["name"],
            kind=row["kind"],
            icd10=row["icd10"],
            aliases=row["aliases"],
            visits_per_year=int(row["visits_per_year"] or 0),
        )
        for row in rows
        if row["name"] not in existing
    ]
    with transaction.atomic():
        Disease.objects.bulk_create(new)
    return len(new)
