"""One settlement order on every path (review M3): a person's two claims of the same day with the
same claim id (claim ids are unique per institution only) settle in primary-key order — through the
window (``claim_submit``), ``settle-claims`` (``claims_settle_year``) and ``resettle`` alike, each to the
fen of the Decimal reference settled in that order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from jkfp import engine
from jkfp.settlement import bulk, services
from jkfp.settlement.compute import engine_policy
from jkfp.settlement.fetch import engine_claim
from jkfp.settlement.models import Claim, ClaimStatus, Settlement, YearLedger
from jkfp.settlement.tests.factories import SettleWorld, amounts, submit

DAY = date(2020, 6, 1)


def _current() -> dict[int, tuple[str, ...]]:
    return {
        s.claim_id: amounts(s)
        for s in Settlement.objects.filter(is_current=True, claim__person__name="张三").order_by("claim_id")
    }


def test_same_person_day_and_claim_id_at_two_hospitals_settle_alike_on_every_path(sw: SettleWorld) -> None:
    # Two stays that give different amounts in the other order (the year's deductible and caps
    # fall on the first): the large one registered first at the county hospital, then the small one.
    first = submit(sw, "DUP1", "poor1", "county2", DAY, "60000.00", "1200.00")
    second = submit(sw, "DUP1", "poor1", "clinic1", DAY, "800.00", "10.00")
    window = _current()
    assert set(window) == {first.claim_id, second.claim_id} and first.claim_id < second.claim_id

    # The Decimal reference, the claims in primary-key order (their registration order).
    claims = list(Claim.objects.filter(person__name="张三").order_by("pk"))
    reference = engine.settle_in_order(_items(_rows()), trace=False)
    assert [tuple(f"{a:.2f}" for a in r.amounts) for r in reference] == [window[c.pk] for c in claims]
    # The other order would give other amounts: the test pins the order, not only the sums.
    swapped = engine.settle_in_order(_items(_rows()[::-1]), trace=False)
    assert [tuple(f"{a:.2f}" for a in r.amounts) for r in swapped] != [window[c.pk] for c in reversed(claims)]

    # settle-claims: the same claims pending again, settled in bulk.
    Settlement.objects.all().delete()
    YearLedger.objects.all().delete()
    Claim.objects.update(status=ClaimStatus.PENDING)
    result = bulk.claims_settle_year(year=2020)
    assert result.settled == 2 and result.invalid == 0
    assert _current() == window

    # resettle under the same policy: nothing changes.
    report = bulk.year_resettle(year=2020, policy_name=sw.policy.name)
    assert report.changed == 0
    assert _current() == window


def _items(rows: list[Settlement]) -> list[tuple[engine.Policy, engine.Claim]]:
    return [(engine_policy(s.policy), engine_claim(s.claim, s.category, "")) for s in rows]


def _rows() -> list[Settlement]:
    return list(
        Settlement.objects.filter(is_current=True, claim__person__name="张三")
        .select_related("claim", "policy")
        .order_by("claim_id")
    )


def test_the_registered_first_settles_first_whichever_is_settled_first(sw: SettleWorld) -> None:
    # Both registered pending (the large one first); the later-registered one settled first: the
    # first one then settles before it (the year in order, the other re-settled), to the fen.
    kw: dict[str, Any] = {"admitted_on": DAY, "discharged_on": DAY, "referred": None, "source": "import"}
    first = services.claim_create(
        claim_id="DUP2",
        person=sw.persons["poor1"],
        institution=sw.institutions["county2"],
        total_amount=Decimal("60000.00"),
        out_of_scope_amount=Decimal("1200.00"),
        **kw,
    )
    second = services.claim_create(
        claim_id="DUP2",
        person=sw.persons["poor1"],
        institution=sw.institutions["clinic1"],
        total_amount=Decimal("800.00"),
        out_of_scope_amount=Decimal("10.00"),
        **kw,
    )
    services.claim_settle(claim=second)
    services.claim_settle(claim=first)
    rows = _rows()
    assert [s.claim_id for s in rows] == [first.pk, second.pk]
    reference = engine.settle_in_order(_items(rows), trace=False)
    got = _current()
    assert [got[first.pk], got[second.pk]] == [tuple(f"{a:.2f}" for a in r.amounts) for r in reference]
