"""门诊慢特病累计 The ledger row keeps §6's outpatient sums (issue 19, speed): a visit that sorts after
the person's settled claims settles on the locked ledger row alone (no read of the year), and the
result is the reference engine's settling the whole year in order, to the fen — after visits, stays,
an earlier visit (re-settled in order), a reversal, ``settle-claims`` and ``resettle``; a ledger row
written before the sums were kept (NULL) settles the year in order once and then keeps them."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from jkfp import engine
from jkfp.settlement import bulk, fetch, services
from jkfp.settlement.compute import engine_policy, outpatient_ytd_sums, outpatient_ytd_text
from jkfp.settlement.models import Claim, ClaimKind, ClaimStatus, Settlement, YearLedger
from jkfp.settlement.tests.factories import E5, E6, SettleWorld, amounts, card, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reads of a person's settled claims of the year (``fetch._year_chain``): the
    in-order path."""
    calls: list[int] = []
    real = fetch._year_chain

    def counted(ledger: YearLedger, *, exclude: int) -> list[Settlement]:
        calls.append(ledger.person_id)
        return real(ledger, exclude=exclude)

    monkeypatch.setattr(fetch, "_year_chain", counted)
    return calls


def check_against_reference(person: Any, year: int = 2020) -> None:
    """The person's current settlements and ledger row equal the reference engine settling their
    settled claims of ``year`` in order (each with the policy and category it is settled with)."""
    rows = list(
        Settlement.objects.select_related("claim", "policy").filter(
            is_current=True,
            claim__person=person,
            claim__status=ClaimStatus.SETTLED,
            claim__discharged_on__year=year,
        )
    )
    items = [
        (engine_policy(r.policy), fetch.engine_claim(r.claim, r.category, person.id_number)) for r in rows
    ]
    by_claim = {r.claim.claim_id: r for r in rows}
    results = engine.settle_in_order(items, trace=False)
    for result in results:
        row = by_claim[result.claim_id]
        assert (
            tuple(engine.decimal_to_fen(getattr(row, f)) for f in engine.OUTPUT_FIELDS) == result.amounts_fen
        )
        assert row.ytd_before_fen == result.ytd_before.as_fen()
    ledger = YearLedger.objects.get(person=person, year=year)
    end = results[-1].ytd_after if results else engine.YearToDate()
    assert ledger.claim_count == len(results)
    assert (
        tuple(engine.decimal_to_fen(getattr(ledger, f"{f}_ytd")) for f in engine.reference.STAY_SUMS)
        == end.as_fen()
    )
    assert ledger.outpatient_ytd is not None
    assert outpatient_ytd_sums(ledger.outpatient_ytd or "") == end.outpatient_fen()


def test_the_text_round_trips() -> None:
    sums = (30000, 261600, (("2型糖尿病", 0), ("高血压", 261600)))
    assert outpatient_ytd_sums(outpatient_ytd_text(sums)) == sums
    assert outpatient_ytd_text(engine.NO_OUTPATIENT_SUMS) == ""
    assert outpatient_ytd_sums("") == engine.NO_OUTPATIENT_SUMS


def test_a_later_visit_settles_on_the_ledger_row(ow: SettleWorld, chain_reads: list[int]) -> None:
    e5 = visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    ledger = YearLedger.objects.get(person=ow.persons["poor1"], year=2020)
    assert outpatient_ytd_sums(ledger.outpatient_ytd or "") == (0, 38400, (("高血压", 38400),))
    e6 = visit(ow, "E6", "poor1", "clinic1", date(2020, 9, 1), "4000.00", "0.00", "高血压")
    # §8 example 6 needs example 5's 384.00 of the 高血压 cap: read from the ledger row, not the year
    assert (amounts(e5), amounts(e6)) == (E5, E6)
    assert chain_reads == []
    # B (ordinary, deductible 300): the second visit finds the deductible used up in the ledger row
    visit(ow, "B1", "plain", "county2", date(2020, 5, 1), "200.00", "0.00", "2型糖尿病")
    b2 = visit(ow, "B2", "plain", "county2", date(2020, 6, 1), "1000.00", "50.00", "2型糖尿病")
    assert chain_reads == []
    assert amounts(b2)[2] == "510.00"  # (950 − 100 left of the deductible) × 60 %
    ledger = YearLedger.objects.get(person=ow.persons["plain"], year=2020)
    assert outpatient_ytd_sums(ledger.outpatient_ytd or "") == (30000, 51000, (("2型糖尿病", 51000),))
    for name in ("poor1", "plain"):
        check_against_reference(ow.persons[name])


def test_an_earlier_visit_and_a_reversal_settle_the_year_in_order(
    ow: SettleWorld, chain_reads: list[int]
) -> None:
    visit(ow, "E6", "poor1", "clinic1", date(2020, 9, 1), "4000.00", "0.00", "高血压")
    visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    assert len(chain_reads) == 1  # E5 sorts before E6: in order
    check_against_reference(ow.persons["poor1"])
    services.claim_reverse(claim=Claim.objects.get(claim_id="E6"), reason="录入错误")
    check_against_reference(ow.persons["poor1"])
    e7 = visit(ow, "E7", "poor1", "clinic1", date(2020, 10, 1), "4000.00", "0.00", "高血压")
    assert len(chain_reads) == 2  # the reversal's; E7 went on the ledger row
    assert amounts(e7)[2] == "2616.00"  # E5's 384.00 of the cap used, E6's released
    check_against_reference(ow.persons["poor1"])


def test_random_visits_and_stays_equal_the_reference(ow: SettleWorld) -> None:
    """Visits and stays of three persons in random order (some before settled ones, some reversed),
    through the window's service: every settlement and ledger row equals the reference's."""
    card(ow.persons["poor2"], "高血压")
    card(ow.persons["poor2"], "2型糖尿病")
    card(ow.persons["poor1"], "2型糖尿病")
    rng = random.Random(19)
    diseases = {"poor1": ["高血压", "2型糖尿病"], "poor2": ["高血压", "2型糖尿病"], "plain": ["2型糖尿病"]}
    settled: list[str] = []
    for n in range(40):
        person = rng.choice(sorted(diseases))
        day = date(2020, 1, 1) + timedelta(days=rng.randrange(360))
        if rng.random() < 0.7:
            total = Decimal(rng.randrange(5_000, 400_000)) / 100
            visit(
                ow, f"V{n}", person, rng.choice(["clinic1", "county2"]), day, f"{total:.2f}",
                f"{total * rng.choice([Decimal(0), Decimal(0), Decimal('0.05')]):.2f}", rng.choice(diseases[person]),
            )  # fmt: skip
        else:
            total = Decimal(rng.randrange(100_000, 6_000_000)) / 100
            services.claim_submit(
                claim_id=f"V{n}",
                person=ow.persons[person],
                institution=ow.institutions["county2"],
                admitted_on=day - timedelta(days=3),
                discharged_on=day,
                total_amount=total,
                out_of_scope_amount=(total / 10).quantize(Decimal("0.01")),
            )
        settled.append(f"V{n}")
        if n % 9 == 8:
            gone = settled.pop(rng.randrange(len(settled)))
            services.claim_reverse(claim=Claim.objects.get(claim_id=gone), reason="测试冲销")
    for name in diseases:
        check_against_reference(ow.persons[name])


def test_settle_claims_and_resettle_keep_the_sums(ow: SettleWorld, chain_reads: list[int]) -> None:
    for claim_id, on, total in (("P1", date(2020, 2, 1), "500.00"), ("P2", date(2020, 3, 1), "4000.00")):
        services.claim_create(
            claim_id=claim_id,
            person=ow.persons["poor1"],
            institution=ow.institutions["clinic1"],
            admitted_on=on,
            discharged_on=on,
            total_amount=total,
            out_of_scope_amount="0.00",
            kind=ClaimKind.OUTPATIENT,
            disease="高血压",
        )
    bulk.claims_settle_year(year=2020)
    check_against_reference(ow.persons["poor1"])
    e = visit(ow, "W1", "poor1", "clinic1", date(2020, 4, 1), "2000.00", "0.00", "高血压")
    assert chain_reads == []
    assert amounts(e)[2] == "0.00"  # 400 + 2600 of the 高血压 cap of 3000 used by P1 and P2
    check_against_reference(ow.persons["poor1"])
    bulk.year_resettle(year=2020, policy_name="suixian-2020")
    check_against_reference(ow.persons["poor1"])


def test_a_row_without_the_sums_settles_the_year_in_order_once(
    ow: SettleWorld, chain_reads: list[int]
) -> None:
    visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    YearLedger.objects.filter(person=ow.persons["poor1"]).update(outpatient_ytd=None)  # as before the column
    e6 = visit(ow, "E6", "poor1", "clinic1", date(2020, 9, 1), "4000.00", "0.00", "高血压")
    assert amounts(e6) == E6 and len(chain_reads) == 1
    check_against_reference(ow.persons["poor1"])
    visit(ow, "E7", "poor1", "clinic1", date(2020, 10, 1), "100.00", "0.00", "高血压")
    assert len(chain_reads) == 1
    check_against_reference(ow.persons["poor1"])


def test_the_migration_marks_rows_with_outpatient_claims_as_not_kept(ow: SettleWorld) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("jkfp.settlement.migrations.0008_ledger_outpatient_ytd")
    visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    services.claim_submit(
        claim_id="S1",
        person=ow.persons["poor2"],
        institution=ow.institutions["county2"],
        admitted_on=date(2020, 5, 1),
        discharged_on=date(2020, 5, 9),
        total_amount=Decimal("10000.00"),
        out_of_scope_amount=Decimal("0.00"),
    )
    migration.mark_rows(apps, None)
    kept = dict(YearLedger.objects.values_list("person__name", "outpatient_ytd"))
    assert kept == {ow.persons["poor1"].name: None, ow.persons["poor2"].name: ""}
