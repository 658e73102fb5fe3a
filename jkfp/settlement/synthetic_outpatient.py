"""示例门诊慢特病结算 Synthetic outpatient special chronic disease claims (门诊慢特病) of the demo county.

For the chronic patients who hold a card (慢病卡, made by the care demo) for a disease of the demo
policy's ``outpatient_diseases``, ``demo_outpatient_build`` writes visits within each card's
validity to a claims CSV (with the ``kind``/``disease`` columns), imports it with ``claims_import``
(the code of ``jkfp import-claims``, which checks the card) and settles the year with
``claims_settle_year`` (``jkfp settle-claims``); a few more visits are settled one by one at a
township window with ``claim_submit`` (one-stop, with traces). Same seed → same file → running it
again changes nothing.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

from jkfp.care.models import ChronicCard
from jkfp.regions.models import Institution, prefix_range
from jkfp.registry.models import Person
from jkfp.settlement.bulk import claims_settle_year
from jkfp.settlement.cards import outpatient_diseases
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import Claim, ClaimKind, ClaimSource
from jkfp.settlement.services import claim_submit
from jkfp.settlement.synthetic import demo_claim_id

HEADER = (
    "claim_id",
    "person_id",
    "institution_code",
    "admit_date",
    "discharge_date",
    "referred",
    "total",
    "out_of_scope",
    "kind",
    "disease",
)
MAX_CARDS = 600
WINDOW_VISITS = 8


@dataclass
class DemoOutpatient:
    """What the outpatient demo did."""

    cards: int = 0
    claims: int = 0
    created: int = 0
    window: int = 0

    def text(self) -> str:
        return (
            f"持卡慢病患者 {self.cards} 张卡；门诊慢特病结算 {self.claims} 笔（新增 {self.created}，窗口 {self.window}） / "
            f"{self.cards} cards; {self.claims} outpatient claims ({self.created} new, {self.window} at a window)"
        )


def _cards(county_code: str, year: int, last_day: date) -> list[tuple[int, str, str, date, date]]:
    """(person id, ID number, outpatient disease, first day, last day) of the cards valid in ``year``."""
    wanted = outpatient_diseases()
    lo, hi = prefix_range(county_code)
    out = []
    for pid, number, disease_id, certified, valid_to in (
        ChronicCard.objects.filter(
            person__village_id__gte=lo, person__village_id__lt=hi, disease_id__in=list(wanted)
        )
        .order_by("person_id", "disease_id")
        .values_list("person_id", "person__id_number", "disease_id", "certified_on", "valid_to")[:MAX_CARDS]
    ):
        first = max(certified, date(year, 1, 1))
        last = min(valid_to or last_day, last_day)
        if first <= last:
            out.append((pid, number, wanted[disease_id], first, last))
    return out


def demo_outpatient_build(
    *, out_dir: Path, county_code: str, today: date | None = None, errors_dir: Path | None = None
) -> DemoOutpatient:
    """示例门诊慢特病 Visits of the card holders: imported and batch-settled, a few at a window."""
    today = today or timezone.localdate()
    year = today.year
    result = DemoOutpatient()
    last_day = min(today - timedelta(days=1), date(year, 12, 31))
    if last_day < date(year, 1, 1):
        return result
    cards = _cards(county_code, year, last_day)
    result.cards = len(cards)
    institutions = list(
        Institution.objects.filter(in_county=True, level__in=("1", "2"))
        .order_by("code")
        .values_list("code", flat=True)
    )
    if not cards or not institutions:
        return result
    rng = random.Random(19)
    rows: list[tuple[str, ...]] = []
    for _pid, number, disease, first, last in cards:
        for _ in range(rng.randint(1, 4)):
            day = first + timedelta(days=rng.randint(0, (last - first).days))
            total = rng.randint(8_000, 150_000)  # 80–1500 yuan
            oos = total * rng.choice((0, 0, 2, 5)) // 100
            rows.append(
                (
                    demo_claim_id(county_code, f"OPD{year}{len(rows) + 1:06d}"),
                    number,
                    rng.choice(institutions),
                    day.isoformat(),
                    day.isoformat(),
                    "",
                    f"{total // 100}.{total % 100:02d}",
                    f"{oos // 100}.{oos % 100:02d}",
                    ClaimKind.OUTPATIENT,
                    disease,
                )
            )
    path = out_dir / f"门诊慢特病结算{year}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    result.claims = len(rows)
    summary = claims_import(path=path, errors_dir=errors_dir)
    result.created = summary.created
    if summary.created:
        claims_settle_year(year=year)
    result.window = _window_visits(cards, county_code=county_code, year=year, last_day=last_day)
    return result


def _window_visits(
    cards: list[tuple[int, str, str, date, date]], *, county_code: str, year: int, last_day: date
) -> int:
    """A few visits settled one by one at a township centre's window (one-stop, with traces)."""
    if Claim.objects.filter(claim_id__startswith=demo_claim_id(county_code, f"OPW{year}")).exists():
        return 0
    lo, hi = prefix_range(county_code)
    clinic = (
        Institution.objects.filter(in_county=True, level="1", region_id__gte=lo, region_id__lt=hi)
        .order_by("code")
        .first()
    )
    if clinic is None:
        return 0
    made = 0
    for k, (pid, _number, disease, first, last) in enumerate(cards[:WINDOW_VISITS], start=1):
        day = last if last <= last_day else last_day
        if day < first:
            continue
        total = 20_000 + 7_919 * k
        claim_submit(
            claim_id=demo_claim_id(county_code, f"OPW{year}{k:04d}"),
            person=Person.objects.get(pk=pid),
            institution=clinic,
            admitted_on=day,
            discharged_on=day,
            total_amount=f"{total // 100}.{total % 100:02d}",
            out_of_scope_amount="0.00",
            kind=ClaimKind.OUTPATIENT,
            disease=disease,
            source=ClaimSource.WINDOW,
        )
        made += 1
    return made
