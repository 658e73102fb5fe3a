"""门诊慢特病 Outpatient claims in the system (settlement.md §6, issue 19): §8's examples through
``claim_submit`` to the fen, the card rule (no valid card → refused naming ``disease``), the other
refusals naming their field, the year-to-date shared with stays, reversal and re-ordering."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import ValidationError

from jkfp.settlement import bulk, clearing, services
from jkfp.settlement.cards import ERR_NO_CARD
from jkfp.settlement.compute import ERR_NO_OUTPATIENT_BLOCK
from jkfp.settlement.models import Claim, ClaimKind, Settlement, YearLedger
from jkfp.settlement.tests.factories import E5, E6, E7, SettleWorld, amounts, card, visit

pytestmark = pytest.mark.django_db


def test_section8_outpatient_examples_settle_exactly(ow: SettleWorld, tmp_path: Path) -> None:
    e5 = visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    e6 = visit(ow, "E6", "poor1", "clinic1", date(2020, 9, 1), "4000.00", "0.00", "高血压")
    e7 = visit(ow, "E7", "plain", "county2", date(2020, 5, 1), "1000.00", "50.00", "2型糖尿病")
    assert (amounts(e5), amounts(e6), amounts(e7)) == (E5, E6, E7)
    # Fund clearing counts outpatient claims like stays: H002's April is E5.
    (april,) = clearing.clearing_statement(month="2020-04")
    assert (april.institution_code, april.claims, april.basic, april.aid, april.supplementary) == (
        "H002",
        1,
        Decimal("384.00"),
        Decimal("48.00"),
        Decimal("11.25"),
    )
    assert (april.outpatient_claims, april.outpatient_funds) == (1, Decimal("443.25"))
    may = clearing.clearing_statement(month="2020-05")  # E7 at the county hospital, with no stay
    assert [(r.institution_code, r.claims, r.outpatient_claims, r.outpatient_funds) for r in may] == [
        ("H001", 1, 1, Decimal("390.00"))
    ]
    book = openpyxl.load_workbook(clearing.clearing_xlsx([april], tmp_path / "clearing.xlsx"), read_only=True)
    header, line, total = list(book.active.iter_rows(values_only=True))
    assert header[12:] == ("其中门诊慢特病笔数", "其中门诊慢特病基金应付")
    assert line[12:] == total[12:] == (1, 443.25)
    assert e5.category == "poor" and e7.category == "ordinary"
    claim = Claim.objects.get(claim_id="E6")
    assert (claim.kind, claim.disease, claim.admitted_on, claim.admission_id) == (
        "outpatient",
        "高血压",
        date(2020, 9, 1),
        None,
    )
    assert "已付 384.00，剩余 2616.00 → 2616.00" in e6.trace
    # The ledger holds the stays' sums: outpatient claims add only aid and supplementary.
    ledger = YearLedger.objects.get(person=ow.persons["poor1"], year=2020)
    assert (ledger.basic_ytd, ledger.personal_ytd, ledger.aid_ytd, ledger.supplementary_ytd) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("740.00"),
        Decimal("303.25"),
    )
    # Idempotent: the same visit again returns the same settlement.
    again, created = services.claim_submit(
        claim_id="E5",
        person=ow.persons["poor1"],
        institution=ow.institutions["clinic1"],
        admitted_on=date(2020, 4, 1),
        discharged_on=date(2020, 4, 1),
        total_amount=Decimal("500.00"),
        out_of_scope_amount=Decimal("20.00"),
        kind=ClaimKind.OUTPATIENT,
        disease="高血压病",  # the catalogue's alias is the same disease
    )
    assert (created, again.pk) == (False, e5.pk)


def test_an_earlier_visit_resettles_later_ones_and_a_stay_shares_only_the_funds(ow: SettleWorld) -> None:
    e6 = visit(ow, "E6", "poor1", "clinic1", date(2020, 9, 1), "4000.00", "0.00", "高血压")
    assert amounts(e6)[2] == "3000.00"  # alone, the whole 高血压 cap
    visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    current = Settlement.objects.get(claim__claim_id="E6", is_current=True)
    assert amounts(current) == E6 and current.reason == "reorder"
    # A stay after the visits: its caps and yearly out-of-pocket are untouched by them (§5 example 1).
    stay, _ = services.claim_submit(
        claim_id="S1",
        person=ow.persons["poor1"],
        institution=ow.institutions["county2"],
        admitted_on=date(2020, 9, 20),
        discharged_on=date(2020, 10, 1),
        total_amount=Decimal("20000.00"),
        out_of_scope_amount=Decimal("1000.00"),
    )
    assert amounts(stay) == ("20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00")
    # Reversing the earlier visit re-settles the later one back to the cap.
    services.claim_reverse(claim=Claim.objects.get(claim_id="E5"), reason="录入错误")
    current = Settlement.objects.get(claim__claim_id="E6", is_current=True)
    assert amounts(current)[2] == "3000.00"


def test_refusals_name_the_field(ow: SettleWorld) -> None:
    def refused(**kw: Any) -> dict[str, list[str]]:
        args: dict[str, Any] = {
            "claim_id": "X1",
            "person": ow.persons["poor1"],
            "institution": ow.institutions["clinic1"],
            "admitted_on": date(2020, 4, 1),
            "discharged_on": date(2020, 4, 1),
            "total_amount": Decimal("100.00"),
            "out_of_scope_amount": Decimal("0.00"),
            "kind": ClaimKind.OUTPATIENT,
            "disease": "高血压",
        } | kw
        with pytest.raises(ValidationError) as info:
            services.claim_submit(**args)
        return info.value.message_dict

    # No card for that disease; a card not yet or no longer valid on the visit date.
    assert refused(disease="冠心病") == {"disease": [ERR_NO_CARD.format(day="2020-04-01", disease="冠心病")]}
    card(ow.persons["poor2"], "高血压", certified=date(2020, 5, 1), valid_to=date(2020, 8, 31))
    assert "disease" in refused(person=ow.persons["poor2"])
    assert "disease" in refused(
        person=ow.persons["poor2"], admitted_on=date(2020, 9, 1), discharged_on=date(2020, 9, 1)
    )
    assert refused(disease="感冒")["disease"][0].startswith("病种“感冒”不是结算政策的门诊慢特病病种")
    assert refused(disease="") == {"disease": [services.ERR_DISEASE_REQUIRED]}
    assert refused(kind="clinic") == {"kind": [services.ERR_KIND]}
    assert refused(admitted_on=date(2020, 3, 30)) == {"admitted_on": [services.ERR_OUTPATIENT_DATES]}
    assert refused(kind=ClaimKind.INPATIENT) == {"disease": [services.ERR_DISEASE_INPATIENT]}
    assert not Claim.objects.exists()


def test_a_category_without_an_outpatient_block_is_refused(ow: SettleWorld) -> None:
    text = resources.files("jkfp.engine.presets").joinpath("suixian-2020.toml").read_text(encoding="utf-8")
    start = text.index("[categories.ordinary.outpatient]")
    end = text.find("\n[", start + 1)
    text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    policy = services.policy_upload(text=text.replace('name = "suixian-2020"', 'name = "no-op"'), fmt="toml")
    with pytest.raises(ValidationError) as info:
        visit(ow, "B1", "plain", "county2", date(2020, 5, 1), "1000.00", "50.00", "2型糖尿病")
    assert info.value.message_dict == {
        "kind": [ERR_NO_OUTPATIENT_BLOCK.format(category="ordinary", policy=policy.label)]
    }
    assert not Claim.objects.filter(claim_id="B1").exists()


def test_resettle_keeps_outpatient_claims_and_refuses_a_policy_that_cannot_settle_them(
    ow: SettleWorld,
) -> None:
    visit(ow, "E5", "poor1", "clinic1", date(2020, 4, 1), "500.00", "20.00", "高血压")
    visit(ow, "E7", "plain", "county2", date(2020, 5, 1), "1000.00", "50.00", "2型糖尿病")
    same = bulk.year_resettle(year=2020, policy_name="suixian-2020")
    assert (same.claims, same.changed) == (2, 0)
    # The 2020 preset with the ordinary outpatient ratios cut by 10 points: E7 changes, E5 does not.
    text = resources.files("jkfp.engine.presets").joinpath("suixian-2020.toml").read_text(encoding="utf-8")
    cut = text.replace(
        'ratio = { "1" = "0.65", "2" = "0.60", "3" = "0.55" }',
        'ratio = { "1" = "0.55", "2" = "0.50", "3" = "0.45" }',
    )
    assert cut != text
    services.policy_upload(text=cut.replace('name = "suixian-2020"', 'name = "cut"'), fmt="toml")
    report = bulk.year_resettle(year=2020, policy_name="cut")
    assert report.changed == 2  # the policy changes on both; E7's amounts too
    e7 = Settlement.objects.get(claim__claim_id="E7", is_current=True)
    assert amounts(e7) == (
        "1000.00",
        "0.00",
        "325.00",
        "0.00",
        "0.00",
        "0.00",
        "675.00",
    )  # (950 − 300) × 50 %
    assert amounts(Settlement.objects.get(claim__claim_id="E5", is_current=True)) == E5
    start = text.index("[categories.ordinary.outpatient]")
    end = text.find("\n[", start + 1)
    without = (text[:start] + (text[end + 1 :] if end >= 0 else "")).replace(
        'name = "suixian-2020"', 'name = "no-op"'
    )
    services.policy_upload(text=without, fmt="toml")
    with pytest.raises(ValidationError) as info:
        bulk.year_resettle(year=2020, policy_name="no-op")
    assert list(info.value.message_dict) == ["policy"]
    assert (
        "没有门诊慢特病规定" in info.value.message_dict["policy"][0]
        and "1笔" in info.value.message_dict["policy"][0]
    )
