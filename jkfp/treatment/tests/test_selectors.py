"""大病救治查询 Selectors: every read is scoped to the user's region through the person's village."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.http import Http404

from jkfp.accounts.scoping import region_choices, region_get
from jkfp.treatment import selectors
from jkfp.treatment.models import Referral

pytestmark = pytest.mark.django_db


def _names(qs: Any) -> set[str]:
    return {row.person.name for row in qs}


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("admin", {"张三", "王五", "赵六"}),
        ("inspector", {"张三", "王五", "赵六"}),
        ("t1", {"张三", "王五"}),
        ("t2", {"赵六"}),
        ("doctor", {"张三"}),
    ],
)
def test_cases_are_scoped(tw: Any, user: str, expected: set[str]) -> None:
    assert _names(selectors.cases(user=tw.users[user])) == expected


def test_cases_filters(tw: Any, county: Any) -> None:
    admin = tw.users["admin"]
    assert _names(selectors.cases(user=admin, status="untreated")) == {"张三"}
    assert _names(selectors.cases(user=admin, disease_id=tw.diseases["脑卒中"].pk)) == {"赵六"}
    assert _names(selectors.cases(user=admin, region=county["t1"].code)) == {"张三", "王五"}
    assert _names(selectors.cases(user=admin, region=county["t1v2"].code)) == {"王五"}
    assert _names(selectors.cases(user=admin, region="not-a-code")) == set()
    # A region filter never widens the scope: township 1 asking for township 2 gets nothing.
    assert _names(selectors.cases(user=tw.users["t1"], region=county["t2"].code)) == set()


def test_a_user_without_region_sees_nothing(tw: Any) -> None:
    tw.users["t1"].region = None
    assert _names(selectors.cases(user=tw.users["t1"])) == set()


def test_case_get_outside_scope_is_404(tw: Any) -> None:
    assert selectors.case_get(user=tw.users["t1"], pk=tw.cases["zhang"].pk).person.name == "张三"
    for user, case in (("t1", "zhao"), ("t2", "zhang"), ("doctor", "wang")):
        with pytest.raises(Http404):
            selectors.case_get(user=tw.users[user], pk=tw.cases[case].pk)
        with pytest.raises(Http404):
            selectors.case_get_plain(user=tw.users[user], pk=tw.cases[case].pk)
    with pytest.raises(Http404):
        selectors.case_get(user=tw.users["admin"], pk=999999)


def test_referrals_are_scoped(tw: Any, county: Any) -> None:
    mine = Referral.objects.create(
        person=tw.persons["zhang"],
        from_institution=county["clinic"],
        to_institution=county["hospital"],
        referred_on=date(2024, 5, 1),
        reason="透析",
    )
    theirs = Referral.objects.create(
        person=tw.persons["zhao"],
        from_institution=county["clinic"],
        to_institution=county["hospital"],
        referred_on=date(2024, 5, 2),
        reason="卒中康复",
        status="approved",
    )
    assert [r.pk for r in selectors.referrals(user=tw.users["admin"])] == [theirs.pk, mine.pk]
    assert [r.pk for r in selectors.referrals(user=tw.users["t1"])] == [mine.pk]
    assert [r.pk for r in selectors.referrals(user=tw.users["admin"], status="approved")] == [theirs.pk]
    assert [r.pk for r in selectors.referrals(user=tw.users["admin"], region=county["t1v1"].code)] == [
        mine.pk
    ]
    assert selectors.referral_get(user=tw.users["t1"], pk=mine.pk) == mine
    with pytest.raises(Http404):
        selectors.referral_get(user=tw.users["t1"], pk=theirs.pk)


def test_ledger_region_defaults_to_the_users_region_and_refuses_outside(tw: Any, county: Any) -> None:
    assert region_get(user=tw.users["t1"], code=None) == county["t1"]
    assert region_get(user=tw.users["t1"], code=county["t1v2"].code) == county["t1v2"]
    assert region_get(user=tw.users["admin"], code="") == county["county"]
    for code in ("421321", county["t2"].code, county["t2v1"].code, "999999999999"):
        with pytest.raises(Http404):
            region_get(user=tw.users["t1"], code=code)


def test_ledger_cases_count_followups(tw: Any) -> None:
    from jkfp.treatment.models import CaseFollowUp

    CaseFollowUp.objects.create(case=tw.cases["zhang"], visited_on=date(2024, 4, 1), note="a")
    CaseFollowUp.objects.create(case=tw.cases["zhang"], visited_on=date(2024, 6, 1), note="b")
    region = region_get(user=tw.users["t1"], code=None)
    cases = selectors.ledger_cases(user=tw.users["t1"], region=region)
    assert {c.person.name for c in cases} == {"张三", "王五"}
    assert selectors.ledger_followups(cases=cases) == {tw.cases["zhang"].pk: (2, date(2024, 6, 1))}
    # Follow-ups of a case outside the scope are not counted even when its id is asked for.
    CaseFollowUp.objects.create(case=tw.cases["zhao"], visited_on=date(2024, 6, 1), note="c")
    assert tw.cases["zhao"].pk not in selectors.ledger_followups(cases=cases)


def test_region_choices_are_scoped(tw: Any, county: Any) -> None:
    codes = [code for code, _ in region_choices(user=tw.users["t1"])]
    assert codes == [county["t1"].code, county["t1v1"].code, county["t1v2"].code]
