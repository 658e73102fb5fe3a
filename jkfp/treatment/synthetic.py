"""示例大病救治名单 A synthetic cases file for the demo county, from the persons' major-disease conditions.

Every person of the database with a condition linked to a major disease gets one row per such
disease, with a plausible diagnosis date, hospitals taken from the institution table and a status
mix close to the county reports (domain.md §9: 59 of 71 treated, the others mostly dialysis patients
whose claims had not reached insurance, and one awaiting elective surgery). The file goes through
``cases_import`` like any county file. Unscoped: for ``jkfp demo`` and tests only.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

from jkfp.regions.models import Institution
from jkfp.registry.models import Condition, DiseaseKind
from jkfp.treatment.models import CaseStatus, UntreatedReason

HEADER = ("身份证号", "病种", "确诊医院", "确诊日期", "定点医院", "救治状态", "未救治原因")
DIALYSIS_DISEASE = "终末期肾病"
# Share of each status among cases (the rest, 70 %, are treated).
IN_TREATMENT_SHARE = 0.13
UNTREATED_SHARE = 0.14
NOT_NEEDED_SHARE = 0.03
OTHER_REASONS = (
    UntreatedReason.AWAITING_ELECTIVE_SURGERY,
    UntreatedReason.REFUSED,
    UntreatedReason.OUTSIDE_COUNTY,
)


@dataclass
class DemoCasesFile:
    """示例名单 The file written and how many rows of each status it holds."""

    path: Path
    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)


def _status(rng: random.Random, disease: str) -> tuple[str, str]:
    draw = rng.random()
    if draw < UNTREATED_SHARE:
        reason = (
            UntreatedReason.DIALYSIS_CLAIM_PENDING
            if disease == DIALYSIS_DISEASE
            else rng.choice(OTHER_REASONS)
        )
        return CaseStatus.UNTREATED, str(reason.label)
    draw -= UNTREATED_SHARE
    if draw < IN_TREATMENT_SHARE:
        return CaseStatus.IN_TREATMENT, ""
    draw -= IN_TREATMENT_SHARE
    if draw < NOT_NEEDED_SHARE:
        return CaseStatus.NOT_NEEDED, ""
    return CaseStatus.TREATED, ""


def demo_cases_write(*, path: Path, seed: int = 6, today: date | None = None) -> DemoCasesFile:
    """写示例大病名单 Write the demo cases CSV (UTF-8, Chinese headers and status labels) to ``path``."""
    today = today or timezone.localdate()
    rng = random.Random(seed)
    institutions = list(Institution.objects.order_by("code").values_list("code", "level"))
    # Codes, not names: two institutions may share a name.
    designated = [code for code, level in institutions if level in ("2", "3")] or [
        code for code, _ in institutions
    ]
    result = DemoCasesFile(path=path)
    conditions = (
        Condition.objects.filter(disease__kind=DiseaseKind.MAJOR)
        .select_related("disease")
        .values_list("person__id_number", "person__birth_date", "disease__name")
        .order_by("person_id", "disease_id")
        # Two condition names of one person may map to one disease (脑卒中 and its alias 中风):
        # one case per person and disease, as the import requires.
        .distinct()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for id_number, born, disease in conditions.iterator(chunk_size=2000):
            earliest = max(born, today - timedelta(days=3 * 365))
            span = (today - earliest).days
            diagnosed_on = earliest + timedelta(days=rng.randint(0, max(span, 0)))
            status, reason = _status(rng, disease)
            diagnosis = rng.choice(designated) if designated else ""
            writer.writerow(
                (
                    id_number,
                    disease,
                    diagnosis,
                    diagnosed_on.isoformat(),
                    rng.choice(designated) if designated else "",
                    CaseStatus(status).label,
                    reason,
                )
            )
            result.rows += 1
            result.by_status[status] += 1
    return result
