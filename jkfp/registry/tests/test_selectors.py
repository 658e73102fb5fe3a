"""花名册查询 Registry selectors: every read scoped to the user's region, 404 outside it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.http import Http404

from jkfp.accounts.models import Role
from jkfp.core.idnumber import make_id_number
from jkfp.registry import selectors
from jkfp.registry.models import Household, ImportRun, Membership, Person

pytestmark = pytest.mark.django_db


def _person(village: Any, name: str, serial: int, household: Any = None) -> Person:
    id_number = make_id_number("421321", date(1970, 1, 1), serial)
    return Person.objects.create(
        id_number=id_number,
        name=name,
        sex="M",
        birth_date=date(1970, 1, 1),
        village=village,
        household=household,
    )


@pytest.fixture
def people(county: Any, make_user: Any) -> dict[str, Any]:
    h1 = Household.objects.create(household_no="H1", village=county["t1v1"])
    h2 = Household.objects.create(household_no="H2", village=county["t2v1"])
    return {
        "a": _person(county["t1v1"], "陈一", 11, h1),
        "b": _person(county["t1v2"], "陈二", 12),
        "c": _person(county["t2v1"], "陈三", 13, h2),
        "h1": h1,
        "h2": h2,
        "admin": make_user(Role.COUNTY_ADMIN, "421321"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code),
    }


def _names(qs: Any) -> list[str]:
    return sorted(p.name for p in qs)


def test_search_by_name_prefix_per_scope(people: dict[str, Any]) -> None:
    assert _names(selectors.person_search(user=people["admin"], q="陈")) == ["陈一", "陈三", "陈二"]
    assert _names(selectors.person_search(user=people["t1"], q="陈")) == ["陈一", "陈二"]
    assert _names(selectors.person_search(user=people["doctor"], q="陈")) == ["陈一"]
    assert _names(selectors.person_search(user=people["admin"], q="陈三")) == ["陈三"]
    assert _names(selectors.person_search(user=people["admin"], q="李")) == []


def test_search_by_id_number(people: dict[str, Any]) -> None:
    c = people["c"]
    admin, t1 = people["admin"], people["t1"]
    assert _names(selectors.person_search(user=admin, q=c.id_number)) == ["陈三"]
    for digits in (4, 8, 9, 17):
        assert _names(selectors.person_search(user=admin, q=c.id_number[-digits:])) == ["陈三"], digits
    wrong_start = ("1" if c.id_number[-12] != "1" else "2") + c.id_number[-11:]
    assert _names(selectors.person_search(user=admin, q=wrong_start)) == []
    assert _names(selectors.person_search(user=t1, q=c.id_number)) == []
    assert _names(selectors.person_search(user=admin, q=c.id_number[-3:])) == []


def test_search_by_village_or_township_code(county: Any, people: dict[str, Any]) -> None:
    admin, t1 = people["admin"], people["t1"]
    assert _names(selectors.person_search(user=admin, q="", village=county["t1v2"].code)) == ["陈二"]
    assert _names(selectors.person_search(user=admin, q="", village=county["t1"].code)) == ["陈一", "陈二"]
    assert _names(selectors.person_search(user=t1, q="", village=county["t2v1"].code)) == []
    assert _names(selectors.person_search(user=admin, q="", village="")) == []
    assert _names(selectors.person_search(user=admin, q="", village="abc")) == []


def test_user_without_region_or_inactive_sees_nothing(people: dict[str, Any]) -> None:
    t1 = people["t1"]
    t1.is_active = False
    assert _names(selectors.person_search(user=t1, q="陈")) == []


def test_person_get_and_household_get_raise_404_outside_scope(people: dict[str, Any]) -> None:
    t1 = people["t1"]
    assert selectors.person_get(user=t1, pk=people["a"].pk) == people["a"]
    with pytest.raises(Http404):
        selectors.person_get(user=t1, pk=people["c"].pk)
    with pytest.raises(Http404):
        selectors.person_get_plain(user=t1, pk=people["c"].pk)
    assert selectors.household_get(user=t1, pk=people["h1"].pk) == people["h1"]
    with pytest.raises(Http404):
        selectors.household_get(user=t1, pk=people["h2"].pk)


def test_household_members_and_history_are_scoped_too(county: Any, people: dict[str, Any]) -> None:
    h1 = people["h1"]
    # A member registered in another township (moved away) stays hidden from township 001.
    moved = _person(county["t2v2"], "陈四", 14, h1)
    Membership.objects.create(person=moved, household=h1, start_on=date(2020, 1, 1))
    Membership.objects.create(person=people["a"], household=h1, start_on=date(2019, 1, 1))
    household = selectors.household_get(user=people["t1"], pk=h1.pk)
    assert [p.name for p in household.members.all()] == ["陈一"]
    assert [m.person.name for m in household.memberships.all()] == ["陈一"]
    household = selectors.household_get(user=people["admin"], pk=h1.pk)
    assert sorted(p.name for p in household.members.all()) == ["陈一", "陈四"]


def test_village_choices_are_the_villages_in_scope(county: Any, people: dict[str, Any]) -> None:
    assert [code for code, _ in selectors.village_choices(user=people["t1"])] == [
        county["t1v1"].code,
        county["t1v2"].code,
    ]
    assert selectors.village_choices(user=people["doctor"]) == [(county["t1v1"].code, "第1镇 第1镇1村")]
    assert len(selectors.village_choices(user=people["admin"])) == 4


def test_import_runs_only_for_the_county_admin(people: dict[str, Any], county: Any) -> None:
    run = ImportRun.objects.create(
        kind="roster", file_name="a.csv", region=county["county"], user=people["admin"]
    )
    assert list(selectors.import_runs(user=people["admin"])) == [run]
    assert selectors.import_run_get(user=people["admin"], pk=run.pk) == run
    assert not selectors.import_runs(user=people["t1"]).exists()
    with pytest.raises(Http404):
        selectors.import_run_get(user=people["t1"], pk=run.pk)


def test_reconciliation_persons_are_scoped(people: dict[str, Any]) -> None:
    assert _names(selectors.reconciliation_persons(user=people["t1"])) == ["陈一", "陈二"]
    assert _names(selectors.reconciliation_persons(user=people["doctor"])) == ["陈一"]


def test_reconciliation_sources_are_those_naming_someone_in_scope(people: dict[str, Any]) -> None:
    from django.utils import timezone

    from jkfp.registry.models import SourceRecord

    now = timezone.now()
    for key, source in (("a", "国家平台"), ("c", "省系统"), ("c", "县扶贫办")):
        person = people[key]
        SourceRecord.objects.create(
            person=person,
            source=source,
            year=2021,
            name=person.name,
            village_code=person.village_id,
            first_seen_at=now,
            last_seen_at=now,
        )
    assert selectors.reconciliation_sources(user=people["admin"]) == sorted(
        ["国家平台", "县扶贫办", "省系统"]
    )
    assert selectors.reconciliation_sources(user=people["t1"]) == ["国家平台"]
    assert selectors.reconciliation_sources(user=people["doctor"]) == ["国家平台"]


def test_persons_by_id_number_is_scoped_and_chunked(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    a, b, c = people["a"], people["b"], people["c"]
    unknown = make_id_number("421321", date(1970, 1, 1), 99)
    wanted = [a.id_number, b.id_number, c.id_number, unknown, a.id_number]
    everyone = selectors.persons_by_id_number(wanted, user=None)
    assert everyone == {
        p.id_number: selectors.PersonByIdNumber(p.pk, date(1970, 1, 1), p.village_id) for p in (a, b, c)
    }
    assert set(selectors.persons_by_id_number(wanted, user=people["t1"])) == {a.id_number, b.id_number}
    assert set(selectors.persons_by_id_number(wanted, user=people["doctor"])) == {a.id_number}
    # Four distinct numbers in chunks of two: two queries, the same answer.
    monkeypatch.setattr(selectors, "ID_NUMBER_CHUNK", 2)
    with django_assert_num_queries(2):
        assert selectors.persons_by_id_number(wanted, user=None) == everyone
