"""示例门诊慢特病 The demo's outpatient visits: only card holders, within each card's validity, imported and
batch-settled, a few at a window (one-stop); running it again changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jkfp.care.models import ChronicCard
from jkfp.registry.models import Disease
from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement.models import Claim, ClaimKind, ClaimSource, ClaimStatus, Settlement
from jkfp.settlement.synthetic_outpatient import demo_outpatient_build
from jkfp.settlement.tests.factories import SettleWorld

pytestmark = pytest.mark.django_db


def test_visits_of_card_holders_settled_and_idempotent(sw: SettleWorld, tmp_path: Path) -> None:
    disease_catalogue_load()
    htn, dm, cold = (Disease.objects.get(name=n) for n in ("高血压", "2型糖尿病", "冠心病"))
    ChronicCard.objects.create(person=sw.persons["poor1"], disease=htn, certified_on=date(2019, 3, 1))
    ChronicCard.objects.create(
        person=sw.persons["poor2"], disease=dm, certified_on=date(2020, 6, 1), valid_to=date(2020, 8, 31)
    )
    ChronicCard.objects.create(
        person=sw.persons["plain"], disease=cold, certified_on=date(2018, 1, 1), valid_to=date(2019, 12, 31)
    )  # expired before the demo year: no visit
    today = date(2020, 12, 1)
    first = demo_outpatient_build(out_dir=tmp_path, county_code="421321", today=today, errors_dir=tmp_path)
    assert first.cards == 2 and first.claims >= 2 and first.created == first.claims and first.window == 2
    claims = Claim.objects.filter(kind=ClaimKind.OUTPATIENT)
    assert claims.count() == first.claims + first.window
    assert not claims.exclude(status=ClaimStatus.SETTLED).exists()
    assert claims.filter(source=ClaimSource.WINDOW).count() == 2
    assert not claims.filter(person=sw.persons["plain"]).exists()
    for claim in claims.filter(person=sw.persons["poor2"]):
        assert date(2020, 6, 1) <= claim.discharged_on <= date(2020, 8, 31) and claim.disease == "2型糖尿病"
    assert (
        Settlement.objects.filter(claim__kind=ClaimKind.OUTPATIENT, is_current=True).count() == claims.count()
    )
    again = demo_outpatient_build(out_dir=tmp_path, county_code="421321", today=today, errors_dir=tmp_path)
    assert (again.created, again.window) == (0, 0)
    assert Claim.objects.filter(kind=ClaimKind.OUTPATIENT).count() == claims.count()
