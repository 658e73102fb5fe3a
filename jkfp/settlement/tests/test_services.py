"""Settlement services: the worked examples through the database, order, reversal, categories,
policies in force, versioning, idempotency and scoping of writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jkfp.settlement import selectors, services
from jkfp.settlement.models import Claim, ClaimStatus, Policy, Settlement, SettlementReason, YearLedger
from jkfp.settlement.tests.factories import SettleWorld, amounts, make_person, submit, tag

# settlement.md §5, written out from the document (not computed by the code under test).
EXAMPLE_1 = ("20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00")
EXAMPLE_2 = ("150000.00", "0.00", "95900.00", "27660.00", "10108.00", "13332.00", "3000.00")
EXAMPLE_3 = ("7400.00", "600.00", "6300.00", "0.00", "630.00", "0.00", "470.00")
EXAMPLE_4 = ("20000.00", "0.00", "12950.00", "0.00", "0.00", "0.00", "7050.00")


def ledger(person: Any, year: int = 2020) -> YearLedger:
    return YearLedger.objects.get(person=person, year=year)


def test_worked_examples_to_the_fen(sw: SettleWorld) -> None:
    s1 = submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    s2 = submit(sw, "E2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)
    s3 = submit(sw, "E3", "poor2", "clinic1", date(2020, 5, 10), "8000.00", "800.00")
    s4 = submit(sw, "E4", "plain", "county2", date(2020, 7, 1), "20000.00", "1000.00")
    assert amounts(s1) == EXAMPLE_1
    assert amounts(s2) == EXAMPLE_2
    assert amounts(s3) == EXAMPLE_3
    assert amounts(s4) == EXAMPLE_4
    assert (s1.category, s3.category, s4.category) == ("poor", "poor", "ordinary")
    assert s1.ratio == Decimal("0.900000")
    assert s2.ytd_before["critical_base"] == "4200.00"
    assert s2.ytd_before["personal"] == "2000.00"
    assert s2.policy.label == "suixian-2020 v1"
    assert "大病保险" in s2.trace
    lg = ledger(sw.persons["poor1"])
    assert (lg.personal_ytd, lg.basic_ytd, lg.claim_count) == (Decimal("5000.00"), Decimal("110700.00"), 2)
    assert s2.ytd_after["personal"] == "5000.00"
    assert Claim.objects.get(claim_id="E2").referred is True


def test_out_of_order_gives_the_serial_result_and_keeps_history(sw: SettleWorld) -> None:
    late = submit(sw, "E2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)
    early = submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    assert amounts(early) == EXAMPLE_1
    current = Settlement.objects.get(claim__claim_id="E2", is_current=True)
    assert amounts(current) == EXAMPLE_2
    assert current.reason == SettlementReason.REORDER
    history = Settlement.objects.filter(claim__claim_id="E2").order_by("id")
    assert [s.is_current for s in history] == [False, True]
    assert history[0].pk == late.pk
    assert ledger(sw.persons["poor1"]).personal_ytd == Decimal("5000.00")


def test_reversal_restores_the_ledger_and_resettles_later_claims(sw: SettleWorld) -> None:
    submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    submit(sw, "E2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)
    claim = Claim.objects.get(claim_id="E1")
    with pytest.raises(ValidationError) as info:
        services.claim_reverse(claim=claim, user=sw.users["hosp"], reason=" ")
    assert info.value.message_dict["reason"] == [services.ERR_REVERSAL_REASON]
    services.claim_reverse(claim=claim, user=sw.users["hosp"], reason="重复结算")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REVERSED
    assert not Settlement.objects.filter(claim=claim, is_current=True).exists()
    assert Settlement.objects.filter(claim=claim).count() == 1
    # E2 alone, as if E1 had never been settled: the same claim settled on a fresh ledger.
    control = make_person(sw.county["t1v1"], "对照", 44)
    tag(control, "poor")
    alone = services.claim_submit(
        claim_id="SOLO",
        person=control,
        institution=sw.institutions["out3"],
        admitted_on=date(2020, 6, 1),
        discharged_on=date(2020, 6, 1),
        total_amount=Decimal("150000.00"),
        out_of_scope_amount=Decimal("12000.00"),
        referred=True,
    )[0]
    e2 = Settlement.objects.get(claim__claim_id="E2", is_current=True)
    assert amounts(e2) == amounts(alone)
    assert e2.reason == SettlementReason.REVERSAL_RESETTLE
    lg = ledger(sw.persons["poor1"])
    assert lg.personal_ytd == e2.personal and lg.claim_count == 1
    with pytest.raises(ValidationError) as info:
        services.claim_reverse(claim=claim, user=sw.users["hosp"], reason="再次")
    assert info.value.message_dict["claim_id"] == [services.ERR_NOT_SETTLED]


def test_submit_is_idempotent_and_conflicts_are_refused(sw: SettleWorld) -> None:
    args: dict[str, Any] = dict(
        claim_id="X1",
        person=sw.persons["poor1"],
        institution=sw.institutions["county2"],
        admitted_on=date(2020, 2, 20),
        discharged_on=date(2020, 3, 1),
        total_amount="20000.00",
        out_of_scope_amount="1000.00",
    )
    first, created = services.claim_submit(**args)
    again, created_again = services.claim_submit(**args)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    with pytest.raises(services.ClaimConflict) as info:
        services.claim_submit(**{**args, "total_amount": "20000.01"})
    assert info.value.message_dict["claim_id"] == [services.ERR_CONFLICT.format(claim_id="X1")]
    services.claim_reverse(claim=Claim.objects.get(claim_id="X1"), reason="错误")
    with pytest.raises(services.ClaimConflict):
        services.claim_submit(**args)


def test_invalid_claims_name_the_field(sw: SettleWorld) -> None:
    with pytest.raises(ValidationError) as info:
        services.claim_submit(
            claim_id="",
            person=sw.persons["poor1"],
            institution=sw.institutions["county2"],
            admitted_on=date(2020, 3, 5),
            discharged_on=date(2020, 3, 1),
            total_amount="100.001",
            out_of_scope_amount="5",
        )
    errors = info.value.message_dict
    assert errors["claim_id"] == [services.ERR_CLAIM_ID]
    assert errors["total_amount"] == [services.ERR_AMOUNT.format(reason="金额最多两位小数")]
    assert errors["discharged_on"] == [services.ERR_DISCHARGE_BEFORE_ADMIT]
    with pytest.raises(ValidationError) as info:
        submit(sw, "Y1", "poor1", "county2", date(2020, 3, 1), "100.00", "200.00")
    assert info.value.message_dict["out_of_scope_amount"] == [services.ERR_OUT_OF_SCOPE_GT_TOTAL]
    with pytest.raises(ValidationError) as info:
        submit(sw, "Y2", "poor1", "county2", date(2019, 3, 1), "100.00", "0.00")
    assert info.value.message_dict["discharged_on"] == [
        selectors.ERR_NO_POLICY.format(county="随县（421321）", day="2019-03-01")
    ]
    assert not Claim.objects.exists()  # nothing half-written


def test_category_from_tags_by_precedence_on_the_discharge_date(sw: SettleWorld) -> None:
    person = sw.persons["plain"]
    tag(person, "poor", date(2015, 1, 1))
    tag(person, "dibao", date(2020, 5, 1), date(2020, 8, 31))
    tag(person, "disabled", date(2015, 1, 1))
    s_april = submit(sw, "C1", "plain", "county2", date(2020, 4, 30), "100.00", "0.00")
    s_june = submit(sw, "C2", "plain", "county2", date(2020, 6, 1), "100.00", "0.00")
    s_sept = submit(sw, "C3", "plain", "county2", date(2020, 9, 1), "100.00", "0.00")
    assert (s_april.category, s_june.category, s_sept.category) == ("poor", "dibao", "poor")


def test_policy_in_force_versions_and_immutability(sw: SettleWorld) -> None:
    text = sw.policy.source_text
    # An unused version is replaced in place.
    replaced = services.policy_upload(text=text.replace("随县2020", "随县二〇二〇"), fmt="toml")
    assert (replaced.pk, replaced.version) == (sw.policy.pk, 1)
    assert selectors.policy_in_force(on=date(2020, 6, 1), code="421321001001").pk == replaced.pk
    submit(sw, "P1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    assert selectors.policy_is_used(policy=replaced)
    with pytest.raises(ValidationError) as info:
        services.policy_update(policy=replaced, text=text, fmt="toml")
    assert info.value.message_dict["source_text"] == [
        services.ERR_POLICY_USED.format(label="suixian-2020 v1")
    ]
    v2 = services.policy_upload(
        text=text.replace('valid_from = "2020-01-01"', 'valid_from = "2020-07-01"'), fmt="toml"
    )
    assert v2.version == 2
    assert Policy.objects.get(pk=replaced.pk).source_text == replaced.source_text
    assert selectors.policy_in_force(on=date(2020, 6, 30), code="421321001001").pk == replaced.pk
    assert selectors.policy_in_force(on=date(2020, 7, 1), code="421321001001").pk == v2.pk
    with pytest.raises(ValidationError) as info:
        selectors.policy_in_force(on=date(2021, 1, 1), code="421321001001")
    assert info.value.messages == [selectors.ERR_NO_POLICY.format(county="随县（421321）", day="2021-01-01")]


def test_policy_upload_refusal_names_the_key(sw: SettleWorld) -> None:
    bad = sw.policy.source_text.replace('unreferred_ratio_cut = "0.20"', 'unreferred_ratio_cut = "1.20"')
    with pytest.raises(ValidationError) as info:
        services.policy_upload(text=bad, fmt="toml", user=sw.users["admin"])
    assert "unreferred_ratio_cut" in info.value.message_dict["source_text"][0]
    with pytest.raises(PermissionDenied):
        services.policy_upload(text=sw.policy.source_text, fmt="toml", user=sw.users["hosp"])


def test_hospital_users_settle_only_their_institution(sw: SettleWorld) -> None:
    with pytest.raises(PermissionDenied):
        services.claim_submit(
            claim_id="H1",
            person=sw.persons["poor1"],
            institution=sw.institutions["county2"],
            admitted_on=date(2020, 3, 1),
            discharged_on=date(2020, 3, 1),
            total_amount="100.00",
            out_of_scope_amount="0.00",
            user=sw.users["clinic"],
        )
    with pytest.raises(PermissionDenied):
        submit(sw, "H2", "poor1", "county2", date(2020, 3, 1), "100.00", "0.00", user=sw.users["t1"])
    s = submit(sw, "H3", "poor1", "county2", date(2020, 3, 1), "100.00", "0.00", user=sw.users["hosp"])
    assert s.settled_by == sw.users["hosp"]


def test_admission_deferred_payment_and_discharge(sw: SettleWorld) -> None:
    with pytest.raises(ValidationError) as info:
        services.admission_register(
            person=sw.persons["poor1"],
            institution=sw.institutions["county2"],
            admitted_on=date(2020, 2, 25),
            deferred_payment=True,
        )
    assert info.value.message_dict["agreement_signed_on"] == [services.ERR_AGREEMENT_DATE]
    admission = services.admission_register(
        person=sw.persons["poor1"],
        institution=sw.institutions["county2"],
        admitted_on=date(2020, 2, 25),
        deferred_payment=True,
        agreement_signed_on=date(2020, 2, 25),
        deposit_waived_amount="3000.00",
        user=sw.users["hosp"],
    )
    with pytest.raises(ValidationError) as info:
        services.admission_register(
            person=sw.persons["poor1"],
            institution=sw.institutions["county2"],
            admitted_on=date(2020, 2, 26),
            deferred_payment=False,
        )
    assert info.value.message_dict["person"] == [services.ERR_ADMISSION_OPEN.format(day="2020-02-25")]
    submit(
        sw,
        "A1",
        "poor1",
        "county2",
        date(2020, 3, 1),
        "20000.00",
        "1000.00",
        admission=admission,
        admitted=date(2020, 2, 25),
    )
    admission.refresh_from_db()
    assert admission.status == "discharged"
    with pytest.raises(ValidationError) as info:
        services.admission_cancel(admission=admission)
    assert info.value.message_dict["status"] == [services.ERR_ADMISSION_STATE]


def test_unreferred_out_of_county_stay_takes_the_flag_from_referrals(sw: SettleWorld) -> None:
    s = submit(sw, "R1", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00")
    claim = Claim.objects.get(claim_id="R1")
    assert claim.referred is False
    assert "县域外·未转诊" in s.trace


def test_claim_links_the_latest_major_disease_case_and_totals(sw: SettleWorld, tmp_path: Any) -> None:
    from jkfp.registry.models import Disease
    from jkfp.registry.services import disease_catalogue_load
    from jkfp.treatment.models import MajorDiseaseCase

    disease_catalogue_load()
    d1, d2 = list(Disease.objects.filter(kind="major").order_by("name")[:2])
    person = sw.persons["poor1"]
    early = MajorDiseaseCase.objects.create(
        person=person, disease=d1, diagnosed_on=date(2019, 5, 1), status="treated"
    )
    late = MajorDiseaseCase.objects.create(
        person=person, disease=d2, diagnosed_on=date(2020, 4, 1), status="treated"
    )
    submit(sw, "M1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    submit(sw, "M2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)
    submit(sw, "M3", "poor2", "clinic1", date(2020, 5, 10), "8000.00", "800.00")
    links = dict(Claim.objects.values_list("claim_id", "major_disease_case_id"))
    assert links == {"M1": early.pk, "M2": late.pk, "M3": None}
    totals = selectors.case_payment_totals(case_ids=[early.pk, late.pk])
    assert totals[early.pk].claim_count == 1
    assert (totals[early.pk].basic, totals[early.pk].personal) == (Decimal("14800.00"), Decimal("2000.00"))
    assert totals[late.pk].critical == Decimal("27660.00")
    services.claim_reverse(claim=Claim.objects.get(claim_id="M1"), reason="测试")
    assert early.pk not in selectors.case_payment_totals(case_ids=[early.pk, late.pk])
    # The import links the same way.
    from jkfp.settlement.imports import claims_import

    path = tmp_path / "c.csv"
    path.write_text(
        "claim_id,person_id,institution_code,admit_date,discharge_date,referred,total,out_of_scope\n"
        f"M4,{person.id_number},H001,2020-04-01,2020-04-02,,100.00,0.00\n"
        f"M5,{person.id_number},H001,2020-03-30,2020-03-31,,100.00,0.00\n",
        encoding="utf-8",
    )
    claims_import(path=path, errors_dir=tmp_path)
    assert Claim.objects.get(claim_id="M4").major_disease_case_id == late.pk
    assert Claim.objects.get(claim_id="M5").major_disease_case_id == early.pk


def test_in_order_submission_query_count(sw: SettleWorld) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    submit(sw, "Q1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    with CaptureQueriesContext(connection) as ctx:
        submit(sw, "Q2", "poor1", "county2", date(2020, 4, 1), "2000.00", "100.00")
    # insert claim, case link, lock ledger, re-read claim, policy, tags, later claims, insert
    # settlement, save ledger, claim status (+ savepoints of the test's transaction).
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 10, statements
