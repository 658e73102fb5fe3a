"""预警扫描 The scan: thresholds to the fen, once per person/rule/year, reversal, rules as data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from jkfp.monitoring import rules, services
from jkfp.monitoring.models import (
    Alert,
    AlertRule,
    CaseStatus,
    MonitoringCase,
    RuleKind,
    TagMatch,
    ThresholdBasis,
)
from jkfp.monitoring.tests.factories import YEAR, MonitorWorld, make_household, make_person, pay, tag
from jkfp.registry.models import Disease, DiseaseKind
from jkfp.settlement.services import claim_reverse
from jkfp.treatment.models import CaseStatus as TreatmentStatus
from jkfp.treatment.models import MajorDiseaseCase

AS_OF = date(YEAR, 9, 30)
ONE_FEN = Decimal("0.01")
LOW = rules.DEFAULT_RULES[0].threshold_amount
GENERAL = rules.DEFAULT_RULES[1].threshold_amount
assert LOW is not None and GENERAL is not None


def _scan(as_of: date = AS_OF) -> dict[str, Any]:
    out = StringIO()
    call_command("monitor", "scan", "--as-of", as_of.isoformat(), "--json", stdout=out)
    return json.loads(out.getvalue())


def _alerted(code: str) -> set[str]:
    return set(Alert.objects.filter(rule__code=code, year=YEAR).values_list("person__name", flat=True))


def _major_case(person: Any, on: date) -> MajorDiseaseCase:
    disease, _ = Disease.objects.get_or_create(name="肺癌", defaults={"kind": DiseaseKind.MAJOR})
    return MajorDiseaseCase.objects.create(
        person=person, disease=disease, diagnosed_on=on, status=TreatmentStatus.IN_TREATMENT
    )


@pytest.fixture
def thresholds(mw: MonitorWorld) -> dict[str, Any]:
    """Persons one fen over, exactly at and one fen under each default threshold (payments are real settlements)."""
    c, hosp = mw.county, mw.county["hospital"]
    persons: dict[str, Any] = {}
    spec = [
        # name, tag, claims (yuan, billed = personal under the no-benefit policy)
        ("低收入超", "poor", (LOW + ONE_FEN,)),
        ("低收入等", "dibao", (Decimal("2500.10"), Decimal("2499.90"))),
        ("低收入差", "tekun", (Decimal("1000.00"), LOW - Decimal("1000.00") - ONE_FEN)),
        ("监测对象超", "monitored", (LOW + ONE_FEN,)),
        ("一般超", None, (Decimal("12000.00"), GENERAL - Decimal("12000.00") + ONE_FEN)),
        ("一般差", None, (GENERAL - ONE_FEN,)),
        ("一般低于低收入线", None, (LOW + Decimal("100.00"),)),
    ]
    for i, (name, code, claims) in enumerate(spec):
        village = c["t1v1"] if i % 2 else c["t2v1"]
        person = make_person(village, name)
        if code:
            tag(person, code)
        for k, amount in enumerate(claims):
            settlement = pay(person, str(amount), date(YEAR, 3, 1) + timedelta(days=k), institution=hosp)
            # The no-benefit policy makes the engine's personal share the whole bill: checked, not assumed.
            assert settlement.personal == amount
        persons[name] = person
    return persons


def test_scan_finds_the_persons_over_each_threshold_to_the_fen(thresholds: dict[str, Any]) -> None:
    result = _scan()

    assert _alerted("oop_low_income") == {"低收入超", "低收入等", "监测对象超"}
    assert _alerted("oop_general") == {"一般超"}
    assert result == {"evaluated": len(thresholds), "alerts_created": 4, "alerts_existing": 0}
    alert = Alert.objects.get(person=thresholds["低收入超"])
    assert alert.amount == LOW + ONE_FEN
    assert alert.threshold_amount == LOW
    assert alert.case.status == CaseStatus.ALERTED


def test_rerunning_the_scan_creates_nothing_new(thresholds: dict[str, Any]) -> None:
    first = _scan()
    second = _scan()

    assert second == {"evaluated": first["evaluated"], "alerts_created": 0, "alerts_existing": 4}
    assert Alert.objects.count() == 4
    assert MonitoringCase.objects.count() == 4


def test_the_alert_table_refuses_a_second_alert_for_the_same_person_rule_and_year(
    thresholds: dict[str, Any],
) -> None:
    _scan()
    alert = Alert.objects.first()
    assert alert is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            rule=alert.rule,
            person=alert.person,
            year=alert.year,
            alerted_on=alert.alerted_on,
            verify_due_on=alert.verify_due_on,
            as_of=alert.as_of,
            case=alert.case,
        )


def test_settlements_after_the_as_of_date_or_in_another_year_do_not_count(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    person = make_person(mw.county["t1v1"], "跨日")
    tag(person, "poor")
    pay(person, "4000.00", date(YEAR, 9, 30), institution=hosp)
    pay(person, "1000.00", date(YEAR, 10, 1), institution=hosp)
    pay(person, "3000.00", date(YEAR - 1, 12, 31), institution=hosp)

    assert _scan(date(YEAR, 9, 30))["alerts_created"] == 0
    assert _scan(date(YEAR, 10, 1))["alerts_created"] == 1
    assert _alerted("oop_low_income") == {"跨日"}


def test_tags_are_judged_on_the_days_of_the_year_up_to_the_as_of_date(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    ended = make_person(mw.county["t1v1"], "去年退出")
    tag(ended, "dibao", start=date(2018, 1, 1), end=date(YEAR - 1, 12, 31))
    during = make_person(mw.county["t1v2"], "年中退出")
    tag(during, "dibao", start=date(2018, 1, 1), end=date(YEAR, 2, 1))
    later = make_person(mw.county["t1v2"], "截止日后纳入")
    tag(later, "dibao", start=AS_OF + timedelta(days=1))
    for person in (ended, during, later):
        pay(person, "6000.00", date(YEAR, 5, 5), institution=hosp)

    _scan()

    assert _alerted("oop_low_income") == {"年中退出"}
    assert _alerted("oop_general") == set()


def test_reversal_neither_resurrects_nor_duplicates_an_alert(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    person = make_person(mw.county["t1v1"], "冲销")
    tag(person, "poor")
    first = pay(person, "3000.00", date(YEAR, 2, 1), institution=hosp)
    pay(person, "2500.00", date(YEAR, 3, 1), institution=hosp)
    assert _scan()["alerts_created"] == 1
    alert = Alert.objects.get(person=person)
    services.case_advance(
        user=mw.users["admin"],
        case=alert.case,
        target=CaseStatus.ASSIGNED,
        done_on=timezone.localdate(),
        assignee_name="李医生",
    )

    claim_reverse(claim=first.claim, reason="重复结算")
    after_reversal = _scan()
    # Below the threshold now: no hit; the alert (and its case) stay as they were.
    assert after_reversal["alerts_created"] == 0 and after_reversal["alerts_existing"] == 0
    assert Alert.objects.filter(person=person).count() == 1

    pay(person, "3000.00", date(YEAR, 4, 1), institution=hosp)
    again = _scan()
    assert again["alerts_created"] == 0 and again["alerts_existing"] == 1
    assert list(Alert.objects.filter(person=person).values_list("pk", flat=True)) == [alert.pk]
    assert MonitoringCase.objects.filter(person=person).count() == 1


def test_default_rules_are_written_exactly_once_per_year_deployment_wide(mw: MonitorWorld) -> None:
    _scan()
    _scan()
    assert not AlertRule.objects.filter(county__isnull=False).exists()  # no county copies
    rows = {r.code: r for r in AlertRule.objects.filter(county__isnull=True, year=YEAR)}

    assert set(rows) == {"oop_low_income", "oop_general", "major_disease"}
    low, general, major = rows["oop_low_income"], rows["oop_general"], rows["major_disease"]
    assert (low.kind, low.tag_match, low.threshold_amount) == (
        RuleKind.PERSON_OOP,
        TagMatch.HOLDING,
        Decimal("5000.00"),
    )
    assert set(low.tag_list) == {"poor", "monitored", "tekun", "dibao"}
    assert (general.tag_match, general.threshold_amount) == (TagMatch.NOT_HOLDING, Decimal("20000.00"))
    assert set(general.tag_list) == set(low.tag_list)
    assert major.kind == RuleKind.MAJOR_DISEASE


def test_a_disabled_default_rule_is_not_evaluated(thresholds: dict[str, Any], mw: MonitorWorld) -> None:
    services.alert_rules_ensure_defaults(year=YEAR)
    AlertRule.objects.filter(code="oop_general").update(active=False)

    result = _scan()

    assert _alerted("oop_general") == set()
    assert result["alerts_created"] == 3


def test_new_major_disease_cases_of_the_year_raise_one_alert_per_person(mw: MonitorWorld) -> None:
    new = make_person(mw.county["t1v1"], "新增大病")
    old = make_person(mw.county["t1v2"], "去年大病")
    late = make_person(mw.county["t2v1"], "截止后确诊")
    first = _major_case(new, date(YEAR, 4, 1))
    other, _ = Disease.objects.get_or_create(name="胃癌", defaults={"kind": DiseaseKind.MAJOR})
    MajorDiseaseCase.objects.create(
        person=new, disease=other, diagnosed_on=date(YEAR, 5, 1), status=TreatmentStatus.TREATED
    )
    _major_case(old, date(YEAR - 1, 12, 31))
    _major_case(late, AS_OF + timedelta(days=1))

    result = _scan()

    assert _alerted("major_disease") == {"新增大病"}
    assert Alert.objects.get(person=new).major_disease_case_id == first.pk
    assert result == {"evaluated": 1, "alerts_created": 1, "alerts_existing": 0}


def test_a_second_alert_joins_the_case_before_its_home_visit_and_opens_a_new_one_after(
    mw: MonitorWorld,
) -> None:
    hosp = mw.county["hospital"]
    person = make_person(mw.county["t1v1"], "两次预警")
    tag(person, "poor")
    _major_case(person, date(YEAR, 1, 10))
    # Alerts dated as if the scan had run on its as-of day (the steps below are dated in March).
    services.alert_scan(as_of=date(YEAR, 1, 31), today=date(YEAR, 1, 31))
    pay(person, "5000.00", date(YEAR, 2, 10), institution=hosp)
    services.alert_scan(as_of=date(YEAR, 2, 28), today=date(YEAR, 2, 28))

    case = MonitoringCase.objects.get(person=person)
    assert sorted(case.alerts.values_list("rule__code", flat=True)) == ["major_disease", "oop_low_income"]

    low_rule = services.alert_rule_create(
        user=mw.users["admin"],
        county=mw.county["county"],
        year=YEAR,
        code="oop_low_income_3000",
        name="低收入个人自付达3000元",
        kind=RuleKind.PERSON_OOP,
        tag_match=TagMatch.HOLDING,
        tag_codes=["poor"],
        threshold_amount="3000.00",
    )
    services.case_advance(
        user=mw.users["admin"],
        case=case,
        target=CaseStatus.ASSIGNED,
        done_on=date(YEAR, 3, 1),
        assignee_name="甲",
    )
    services.case_advance(
        user=mw.users["admin"], case=case, target=CaseStatus.VERIFIED, done_on=date(YEAR, 3, 2), note="已入户"
    )
    services.alert_scan(as_of=date(YEAR, 3, 31), today=date(YEAR, 3, 31))

    cases = list(MonitoringCase.objects.filter(person=person).order_by("id"))
    assert len(cases) == 2
    assert list(cases[1].alerts.values_list("rule_id", flat=True)) == [low_rule.pk]


def test_income_share_rules_use_the_county_parameter_of_the_year(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    services.alert_rule_create(
        user=mw.users["admin"],
        county=mw.county["county"],
        year=YEAR,
        code="income_half_poor",
        name="脱贫人口自付达上年农村人均可支配收入50%",
        kind=RuleKind.PERSON_OOP,
        tag_match=TagMatch.HOLDING,
        tag_codes=["poor"],
        basis=ThresholdBasis.INCOME_SHARE,
        income_share_rate="0.5",
    )
    over = make_person(mw.county["t1v1"], "收入线上")
    under = make_person(mw.county["t1v2"], "收入线下")
    for person, amount in ((over, "4500.01"), (under, "4499.99")):
        tag(person, "poor")
        pay(person, amount, date(YEAR, 6, 1), institution=hosp)

    skipped = services.alert_scan(as_of=AS_OF)
    assert skipped.skipped_rules == ["421321:income_half_poor"]
    assert _alerted("income_half_poor") == set()

    services.monitoring_parameter_set(
        user=mw.users["admin"], county=mw.county["county"], year=YEAR, rural_income_amount="9000.00"
    )
    services.alert_scan(as_of=AS_OF)
    assert _alerted("income_half_poor") == {"收入线上"}
    assert Alert.objects.get(rule__code="income_half_poor").threshold_amount == Decimal("4500.00")


def test_household_rules_sum_the_members_and_alert_the_member_who_paid_most(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    services.alert_rule_create(
        user=mw.users["admin"],
        county=mw.county["county"],
        year=YEAR,
        code="household_8000",
        name="家庭自付合计达8000元",
        kind=RuleKind.HOUSEHOLD_OOP,
        threshold_amount="8000.00",
    )
    over = make_household(mw.county["t1v1"], "HH-OVER")
    under = make_household(mw.county["t1v2"], "HH-UNDER")
    a = make_person(mw.county["t1v1"], "户甲", household=over)
    b = make_person(mw.county["t1v1"], "户乙", household=over)
    c = make_person(mw.county["t1v2"], "户丙", household=under)
    d = make_person(mw.county["t1v2"], "户丁", household=under)
    pay(a, "3000.00", date(YEAR, 1, 5), institution=hosp)
    pay(b, "5000.01", date(YEAR, 1, 6), institution=hosp)
    pay(c, "4000.00", date(YEAR, 1, 5), institution=hosp)
    pay(d, "3999.99", date(YEAR, 1, 6), institution=hosp)

    _scan()
    alert = Alert.objects.get(rule__code="household_8000")
    assert (alert.person_id, alert.household_id, alert.amount) == (b.pk, over.pk, Decimal("8000.01"))

    # The other member later paying more does not raise the household's alert a second time.
    pay(a, "3000.00", date(YEAR, 2, 5), institution=hosp)
    again = _scan()
    assert Alert.objects.filter(rule__code="household_8000").count() == 1
    assert again["alerts_created"] == 0


def test_household_income_share_is_per_member(mw: MonitorWorld) -> None:
    hosp = mw.county["hospital"]
    services.monitoring_parameter_set(
        user=mw.users["admin"], county=mw.county["county"], year=YEAR, rural_income_amount="10000.00"
    )
    services.alert_rule_create(
        user=mw.users["admin"],
        county=mw.county["county"],
        year=YEAR,
        code="household_income",
        name="家庭自付合计达上年人均收入×人口",
        kind=RuleKind.HOUSEHOLD_OOP,
        basis=ThresholdBasis.INCOME_SHARE,
        income_share_rate="1",
    )
    three = make_household(mw.county["t1v1"], "HH-3")
    members = [make_person(mw.county["t1v1"], f"三口{i}", household=three) for i in range(3)]
    pay(members[0], "29999.99", date(YEAR, 1, 5), institution=hosp)
    _scan()
    assert _alerted("household_income") == set()
    pay(members[1], "0.02", date(YEAR, 1, 6), institution=hosp)
    _scan()
    assert _alerted("household_income") == {"三口0"}
    assert Alert.objects.get(rule__code="household_income").threshold_amount == Decimal("30000.00")


def test_alert_rule_create_refuses_bad_rules(mw: MonitorWorld) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    base = dict(county=mw.county["county"], year=YEAR, name="x", kind=RuleKind.PERSON_OOP)
    with pytest.raises(ValidationError) as exc:
        services.alert_rule_create(user=mw.users["admin"], code="bad code", threshold_amount="1", **base)
    assert exc.value.message_dict == {"code": [services.ERR_RULE_CODE]}
    with pytest.raises(ValidationError) as exc:
        services.alert_rule_create(user=mw.users["admin"], code="ok", threshold_amount="0.001", **base)
    assert exc.value.message_dict == {"threshold_amount": [services.ERR_RULE_THRESHOLD]}
    with pytest.raises(ValidationError) as exc:
        services.alert_rule_create(
            user=mw.users["admin"],
            code="ok",
            tag_match=TagMatch.HOLDING,
            tag_codes=["rich"],
            threshold_amount="1",
            **base,
        )
    assert exc.value.message_dict == {"tag_codes": [services.ERR_RULE_TAGS.format(codes="rich")]}
    # A county rule of a default's code overrides the deployment's default; a second one is refused.
    services.alert_rule_create(user=mw.users["admin"], code="oop_general", threshold_amount="1", **base)
    with pytest.raises(ValidationError) as exc:
        services.alert_rule_create(user=mw.users["admin"], code="oop_general", threshold_amount="1", **base)
    assert exc.value.message_dict == {"code": [services.ERR_RULE_EXISTS.format(code="oop_general")]}
    with pytest.raises(PermissionDenied):
        services.alert_rule_create(user=mw.users["t1"], code="ok", threshold_amount="1", **base)


def test_a_settlement_batch_is_followed_by_a_scan(mw: MonitorWorld) -> None:
    from jkfp.settlement.services import claim_create

    person = make_person(mw.county["t1v1"], "批量结算")
    tag(person, "poor")
    for k, amount in enumerate(("2600.00", "2400.01")):
        claim_create(
            claim_id=f"BATCH{k}",
            person=person,
            institution=mw.county["hospital"],
            admitted_on=date(YEAR, 4, 1 + k),
            discharged_on=date(YEAR, 4, 1 + k),
            total_amount=amount,
            out_of_scope_amount="0",
        )
    assert not Alert.objects.exists()

    out = StringIO()
    call_command("settle_claims", "--year", str(YEAR), stdout=out)

    assert _alerted("oop_low_income") == {"批量结算"}
    assert "新增预警 1 条" in out.getvalue()


def test_the_command_prints_a_readable_summary_and_refuses_a_bad_date(thresholds: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("monitor", "scan", "--as-of", AS_OF.isoformat(), stdout=out)
    text = out.getvalue()
    assert f"评估人数 persons evaluated: {len(thresholds)}" in text
    assert "新增预警 alerts created: 4" in text and "oop_low_income: 3" in text
    with pytest.raises(CommandError) as exc:
        call_command("monitor", "scan", "--as-of", "2026-02-30")
    assert "日期“2026-02-30”无效" in str(exc.value) and "invalid date" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("monitor", "scan", "--as-of", AS_OF.isoformat(), "--county", "999999")
    assert "unknown county 999999" in str(exc.value)


def test_the_admin_form_refuses_the_same_rules_as_the_service(mw: MonitorWorld) -> None:
    from jkfp.monitoring.admin import AlertRuleForm

    data = {
        "county": mw.county["county"].code,
        "year": YEAR,
        "code": "half_income",
        "name": "收入一半",
        "kind": RuleKind.PERSON_OOP,
        "tag_match": TagMatch.HOLDING,
        "tag_codes": "poor",
        "basis": ThresholdBasis.INCOME_SHARE,
        "active": True,
    }
    form = AlertRuleForm(data=data)
    assert not form.is_valid()
    assert form.errors["income_share_rate"] == [rules.ERR_RULE_SHARE]
    form = AlertRuleForm(data={**data, "income_share_rate": "0.5"})
    assert form.is_valid(), form.errors


def test_a_county_administrator_may_edit_rules_and_parameters_in_the_admin_site(mw: MonitorWorld) -> None:
    admin = mw.users["admin"]
    assert admin.has_perm("monitoring.add_alertrule") and admin.has_perm(
        "monitoring.change_monitoringparameter"
    )
    assert not mw.users["t1"].has_perm("monitoring.add_alertrule")


def test_the_scan_agrees_with_the_settlement_year_ledger(thresholds: dict[str, Any]) -> None:
    """An independent oracle: the settlement app's own year-to-date ``personal_ytd`` per person."""
    from jkfp.registry.models import Tag
    from jkfp.settlement.models import YearLedger

    _scan(date(YEAR, 12, 31) if date(YEAR, 12, 31) <= timezone.localdate() else timezone.localdate())
    low_tagged = set(Tag.objects.filter(code__in=rules.LOW_INCOME_TAGS).values_list("person_id", flat=True))
    ledgers = {row.person_id: row.personal_ytd for row in YearLedger.objects.filter(year=YEAR)}
    expected = {
        (pid, "oop_low_income" if pid in low_tagged else "oop_general")
        for pid, ytd in ledgers.items()
        if ytd >= (LOW if pid in low_tagged else GENERAL)
    }
    assert set(Alert.objects.values_list("person_id", "rule__code")) == expected
    assert len(expected) == 4
