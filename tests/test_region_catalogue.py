"""The major-disease catalogue per region (issue 21 item 3): a county's setting overrides its city's,
which overrides its province's and the deployment's (``registry.disease_catalogue``).

湖北省 › 随州市 › 随县 (county A, 421321) and 曾都区 (county B, 421303). The city takes 测试大病甲 out
of its catalogue and county A adds it back; county B takes 测试大病乙 (in the deployment's
catalogue) out. A's case for 甲 is accepted, B's for 乙 refused with a message naming the field, the
disease, the county and the day; B (no setting of its own for 甲) follows the city; dates count.
The same decides the import, the form's choices, follow-up rules, cards and the indicators; the
admin is scoped; ``jkfp catalogue list`` prints the effective catalogue."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.care import services as care_services
from jkfp.care.selectors import card_diseases, rules_for
from jkfp.regions.models import Region
from jkfp.registry.disease_catalogue import catalogue_on, catalogue_q, catalogue_settings, in_catalogue
from jkfp.registry.models import CatalogueEntry, ChangeLog, Condition, Disease, DiseaseKind, Person
from jkfp.registry.tests.factories import make_person
from jkfp.treatment import selectors as treatment_selectors
from jkfp.treatment import services
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import MajorDiseaseCase

A, B = "421321", "421303"
DAY = date(2024, 3, 1)
TODAY = date(2024, 6, 1)


def person(village: Region, name: str, serial: int) -> Person:
    return make_person(village, name, serial)


@pytest.fixture
def world(two_counties: dict[str, Any], make_user: Any) -> dict[str, Any]:
    added = Disease.objects.create(name="测试大病甲", kind=DiseaseKind.MAJOR)
    removed = Disease.objects.create(name="测试大病乙", kind=DiseaseKind.MAJOR)
    chronic = Disease.objects.create(name="测试慢病丙", kind=DiseaseKind.CHRONIC, visits_per_year=2)
    city, a, b = two_counties["city"], two_counties["county"], two_counties["b"]
    CatalogueEntry.objects.create(disease=added, region=city, included=False)
    CatalogueEntry.objects.create(disease=added, region=a, included=True)
    CatalogueEntry.objects.create(disease=removed, region=b, included=False)
    CatalogueEntry.objects.create(disease=chronic, region=b, included=False)
    CatalogueEntry.objects.create(disease=chronic, region=city, visits_per_year=6)
    return {
        **two_counties,
        "added": added,
        "removed": removed,
        "chronic": chronic,
        "pa": person(two_counties["t1v1"], "甲县人", 11),
        "pb": person(two_counties["b_t1v1"], "乙县人", 13),
        "admin_a": make_user(Role.COUNTY_ADMIN, A, username="admin_a"),
        "admin_b": make_user(Role.COUNTY_ADMIN, B, username="admin_b"),
        "admin_city": make_user(Role.CITY_ADMIN, "421300", username="admin_city"),
    }


def create(user: Any, who: Person, disease: Disease, on: date = DAY) -> MajorDiseaseCase:
    return services.treatment_case_create(
        user=user, person=who, disease=disease, diagnosed_on=on, status="in_treatment"
    )


def test_county_a_adds_what_the_city_lacks_and_county_b_removes_what_the_province_has(
    world: dict[str, Any],
) -> None:
    added, removed = world["added"], world["removed"]
    case = create(world["admin_a"], world["pa"], added)
    assert MajorDiseaseCase.objects.filter(pk=case.pk, person=world["pa"], disease=added).exists()
    # 乙 stays in county A's catalogue (the deployment's row decides there).
    assert create(world["admin_a"], world["pa"], removed).pk is not None
    with pytest.raises(ValidationError) as refused:
        create(world["admin_b"], world["pb"], removed)
    assert refused.value.message_dict == {
        "disease": ["病种“测试大病乙”在2024-03-01不在曾都区（421303）的大病专项救治目录中"]
    }
    # County B has no setting of its own for 甲: the city's (taken out) applies.
    with pytest.raises(ValidationError) as city_rule:
        create(world["admin_b"], world["pb"], added)
    assert "测试大病甲" in city_rule.value.message_dict["disease"][0]
    assert not MajorDiseaseCase.objects.filter(person=world["pb"]).exists()
    # The same decision on every level of code: a village, a county, the city, the deployment.
    assert in_catalogue(added.pk, world["t1v1"].code, DAY) and in_catalogue(added.pk, A, DAY)
    assert not in_catalogue(added.pk, "421300", DAY) and in_catalogue(added.pk, "", DAY)
    assert not in_catalogue(removed.pk, world["b_t1v1"].code, DAY) and in_catalogue(removed.pk, "421300", DAY)


def test_dates_are_those_of_the_deciding_setting(world: dict[str, Any]) -> None:
    added, removed = world["added"], world["removed"]
    CatalogueEntry.objects.filter(disease=added, region_id=A).update(valid_from=date(2024, 1, 1))
    with pytest.raises(ValidationError):
        create(world["admin_a"], world["pa"], added, date(2023, 12, 31))
    assert create(world["admin_a"], world["pa"], added, date(2024, 1, 1)).pk is not None
    # The deployment's row ends: county A (no entry of its own for 乙) follows it from the next day.
    Disease.objects.filter(pk=removed.pk).update(valid_to=date(2024, 2, 29))
    assert in_catalogue(removed.pk, A, date(2024, 2, 29))
    with pytest.raises(ValidationError):
        create(world["admin_a"], world["pa"], removed, date(2024, 3, 1))
    # A county's entry is its own whole setting: county B's exclusion ends, and 乙 is back there.
    CatalogueEntry.objects.filter(disease=removed, region_id=B).update(
        included=True, valid_from=date(2024, 5, 1)
    )
    assert not in_catalogue(removed.pk, B, date(2024, 4, 30)) and in_catalogue(
        removed.pk, B, date(2024, 5, 1)
    )


def test_import_refuses_a_disease_outside_the_persons_county_catalogue(
    world: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "cases.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["身份证号", "病种", "确诊日期", "救治状态"])
        writer.writerow([world["pa"].id_number, "测试大病甲", "2024-03-01", "救治中"])
        writer.writerow([world["pb"].id_number, "测试大病乙", "2024-03-01", "救治中"])
        writer.writerow([world["pb"].id_number, "测试大病甲", "2024-03-02", "救治中"])
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (3, 1, 2, 1)
    assert list(MajorDiseaseCase.objects.values_list("person_id", "disease_id")) == [
        (world["pa"].pk, world["added"].pk)
    ]
    assert summary.errors_file is not None
    workbook = openpyxl.load_workbook(summary.errors_file, read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))[1:]
    workbook.close()
    assert rows == [
        (3, "病种", "测试大病乙", "病种“测试大病乙”在2024-03-01不在曾都区（421303）的大病专项救治目录中"),
        (4, "病种", "测试大病甲", "病种“测试大病甲”在2024-03-02不在曾都区（421303）的大病专项救治目录中"),
    ]


def test_each_county_user_is_offered_its_own_catalogue(world: dict[str, Any]) -> None:
    names_a = set(
        treatment_selectors.major_diseases(user=world["admin_a"], on=DAY).values_list("name", flat=True)
    )
    names_b = set(
        treatment_selectors.major_diseases(user=world["admin_b"], on=DAY).values_list("name", flat=True)
    )
    assert {"测试大病甲", "测试大病乙"} <= names_a
    assert not {"测试大病甲", "测试大病乙"} & names_b
    client = Client()
    client.force_login(world["admin_b"])
    page = client.get("/treatment/cases/new/").content.decode()
    assert "测试大病乙" not in page and "测试大病甲" not in page
    client.force_login(world["admin_a"])
    page = client.get("/treatment/cases/new/").content.decode()
    assert "测试大病乙" in page and "测试大病甲" in page


def test_follow_up_rules_and_cards_follow_the_catalogue(world: dict[str, Any]) -> None:
    chronic = world["chronic"]
    # The city's visits (6) apply in county A; county B took the disease out: no rule, no card.
    assert rules_for(county_code=A, on=DAY)[chronic.pk].visits_per_year == 6
    assert chronic.pk not in rules_for(county_code=B, on=DAY)
    assert chronic in card_diseases(county_code=A, on=DAY)
    assert chronic not in card_diseases(county_code=B, on=DAY)
    refusal = "病种“测试慢病丙”在2024-03-01不在曾都区（421303）的病种目录中，不能办理慢病卡"
    with pytest.raises(ValidationError) as refused:
        care_services.chronic_card_issue(
            user=world["admin_b"], person=world["pb"], disease=chronic, certified_on=DAY
        )
    assert refused.value.message_dict == {"disease": [refusal]}
    card = care_services.chronic_card_issue(
        user=world["admin_a"], person=world["pa"], disease=chronic, certified_on=DAY
    )
    assert card.pk is not None


def test_the_sql_form_agrees_with_the_python_form(world: dict[str, Any]) -> None:
    """``catalogue_q`` (the indicators' filter) selects exactly the rows ``catalogue_on`` allows."""
    diseases = [world["added"], world["removed"], world["chronic"]]
    for who in (world["pa"], world["pb"]):
        for d in diseases:
            Condition.objects.create(person=who, name=d.name, disease=d)
    got = set(
        Condition.objects.filter(
            catalogue_q(DAY, village="person__village_id", disease="disease_id")
        ).values_list("person_id", "disease_id")
    )
    expected = {
        (who.pk, d.pk)
        for who in (world["pa"], world["pb"])
        for d in diseases
        if d.pk in catalogue_on(who.village_id, DAY)
    }
    assert got == expected
    assert expected == {
        (world["pa"].pk, world["added"].pk),
        (world["pa"].pk, world["removed"].pk),
        (world["pa"].pk, world["chronic"].pk),
    }
    # Without any region entry the filter is the deployment's catalogue alone.
    CatalogueEntry.objects.all().delete()
    plain = catalogue_q(DAY, village="person__village_id", disease="disease_id", kinds=[DiseaseKind.MAJOR])
    assert Condition.objects.filter(plain).count() == 4
    assert Condition.objects.filter(plain & Q(person=world["pb"])).count() == 2


def test_model_checks_name_the_field(world: dict[str, Any]) -> None:
    entry = CatalogueEntry(disease=world["added"], region=world["t1"])
    with pytest.raises(ValidationError) as township:
        entry.full_clean()
    assert township.value.message_dict["region"] == [
        "病种目录只能按省、市、县设置，第1镇（421321001000）是乡镇"
    ]
    major_visits = CatalogueEntry(disease=world["added"], region=world["province"], visits_per_year=3)
    with pytest.raises(ValidationError) as visits:
        major_visits.full_clean()
    assert "每年随访次数只适用于慢病" in visits.value.message_dict["visits_per_year"][0]
    twice = CatalogueEntry(disease=world["added"], region=world["county"])
    with pytest.raises(ValidationError) as duplicate:
        twice.full_clean()
    assert "已有目录设置" in duplicate.value.message_dict["disease"][0]
    backwards = CatalogueEntry(
        disease=world["removed"],
        region=world["province"],
        valid_from=date(2024, 2, 1),
        valid_to=date(2024, 1, 1),
    )
    with pytest.raises(ValidationError) as dates:
        backwards.full_clean()
    assert dates.value.message_dict["valid_to"] == ["停用日期不能早于启用日期"]


def test_the_admin_is_scoped_to_the_editors_region(world: dict[str, Any]) -> None:
    b_entry = CatalogueEntry.objects.get(disease=world["removed"], region_id=B)
    city_entry = CatalogueEntry.objects.get(disease=world["added"], region_id="421300")
    shared = CatalogueEntry.objects.create(disease=world["chronic"], region=None, valid_from=date(2020, 1, 1))
    client = Client()
    client.force_login(world["admin_a"])
    listing = client.get("/admin/registry/catalogueentry/")
    assert listing.status_code == 200
    shown = set(listing.context["cl"].result_list)
    assert CatalogueEntry.objects.get(disease=world["added"], region_id=A) in shown and shared in shown
    assert b_entry not in shown and city_entry not in shown
    assert client.get(f"/admin/registry/catalogueentry/{b_entry.pk}/change/").status_code in {302, 404}
    assert client.get(f"/admin/registry/catalogueentry/{city_entry.pk}/change/").status_code in {302, 404}
    form = client.get("/admin/registry/catalogueentry/add/").context["adminform"].form
    assert [c for c, _ in form.fields["region"].choices if c] == [A]  # not a township, not county B
    new = {"disease": str(world["removed"].pk), "included": "", "valid_from": "", "valid_to": ""}
    refused = client.post("/admin/registry/catalogueentry/add/", {**new, "region": B})
    assert refused.status_code == 200
    assert (
        client.post("/admin/registry/catalogueentry/add/", {**new, "region": world["t1"].code}).status_code
        == 200
    )
    assert not CatalogueEntry.objects.filter(
        disease=world["removed"], region_id__in=[world["t1"].code]
    ).exists()
    added = client.post("/admin/registry/catalogueentry/add/", {**new, "region": A})
    assert added.status_code == 302, added.content.decode()[:500]
    assert CatalogueEntry.objects.get(disease=world["removed"], region_id=A).scope == A
    assert not in_catalogue(world["removed"].pk, A, DAY)
    # The deployment-wide row is read-only for a county administrator.
    client.post(
        f"/admin/registry/catalogueentry/{shared.pk}/change/", {**new, "disease": str(shared.disease_id)}
    )
    shared.refresh_from_db()
    assert shared.valid_from == date(2020, 1, 1) and shared.included
    # A city administrator picks its city and its counties, never a township or another city.
    client.force_login(world["admin_city"])
    form = client.get("/admin/registry/catalogueentry/add/").context["adminform"].form
    assert [c for c, _ in form.fields["region"].choices if c] == ["421300", B, A]


def test_catalogue_list_prints_the_effective_catalogue(world: dict[str, Any]) -> None:
    def listing(*args: str) -> dict[str, Any]:
        out = StringIO()
        call_command("catalogue", "list", "--json", "--on", "2024-03-01", *args, stdout=out)
        return json.loads(out.getvalue())

    a = {r["name"]: r for r in listing("--region", A)["diseases"]}
    assert a["测试大病甲"]["decided_by"] == A and a["测试大病甲"]["decided_by_name"] == "随县"
    assert a["测试大病乙"]["decided_by"] is None and a["测试慢病丙"]["visits_per_year"] == 6
    b = listing("--region", "421303001001", "--all")  # a village of county B: its county decides
    by_name = {r["name"]: r for r in b["diseases"]}
    assert not by_name["测试大病甲"]["in_catalogue"] and by_name["测试大病甲"]["decided_by"] == "421300"
    assert not by_name["测试大病乙"]["in_catalogue"] and by_name["测试大病乙"]["decided_by"] == B
    assert {r["name"] for r in listing("--region", B)["diseases"]} == {
        n for n, r in by_name.items() if r["in_catalogue"]
    }
    whole = listing()
    assert whole["region"] is None and "测试大病甲" in {r["name"] for r in whole["diseases"]}
    text = StringIO()
    call_command("catalogue", "list", "--region", "4213", "--on", "2024-03-01", stdout=text)
    assert "随州市 2024-03-01 的病种目录" in text.getvalue().replace("随州市（421300）", "随州市")
    assert "测试大病甲" not in text.getvalue()
    with pytest.raises(CommandError) as unknown:
        call_command("catalogue", "list", "--region", "999999", stdout=StringIO())
    assert str(unknown.value) == (
        "区划：区划代码999999不在行政区划中（请先导入行政区划） / region: region code 999999 is not in the "
        "region tree; import the regions first"
    )
    with pytest.raises(CommandError) as bad_day:
        call_command("catalogue", "list", "--on", "2024-02-30", stdout=StringIO())
    assert str(bad_day.value).startswith("日期：") and "date: date '2024-02-30' is not YYYY-MM-DD" in str(
        bad_day.value
    )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("catalogue", "list", "--kind", "牙病", "--json", stdout=out)
    assert json.loads(out.getvalue())["errors"][0]["field"] == "kind"
    assert catalogue_settings(B, kinds=[DiseaseKind.CHRONIC])[world["chronic"].pk].source == "曾都区"


def test_a_case_is_checked_against_the_county_of_the_diagnosis_date(
    world: dict[str, Any], tmp_path: Path
) -> None:
    # 甲县人 moves to 曾都区 (county B, where 测试大病乙 is taken out) on 2024-04-01: a case of 乙
    # diagnosed in March, in county A, is registered; one diagnosed after the move is refused naming
    # county B — on the page and in the import alike (``registry.selectors.VillageHistory``).
    mover, removed = world["pa"], world["removed"]
    old = mover.village_id
    mover.village = world["b_t1v1"]
    mover.save(update_fields=["village"])
    change = ChangeLog.objects.create(
        person=mover, field="village", old_value=old, new_value=mover.village_id
    )
    moved_at = datetime(2024, 4, 1, 9, 0, tzinfo=timezone.get_current_timezone())
    ChangeLog.objects.filter(pk=change.pk).update(at=moved_at)
    with pytest.raises(ValidationError) as refused:
        create(world["admin_b"], mover, removed, date(2024, 4, 15))
    assert refused.value.message_dict == {
        "disease": ["病种“测试大病乙”在2024-04-15不在曾都区（421303）的大病专项救治目录中"]
    }
    assert create(world["admin_b"], mover, removed, date(2024, 3, 1)).pk is not None
    MajorDiseaseCase.objects.all().delete()
    path = tmp_path / "cases.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["身份证号", "病种", "确诊日期", "救治状态"])
        writer.writerow([mover.id_number, "测试大病乙", "2024-03-01", "救治中"])
        writer.writerow([world["pb"].id_number, "测试大病乙", "2024-03-01", "救治中"])
    summary = cases_import(path=path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.valid, summary.invalid, summary.created) == (2, 1, 1, 1)
    assert list(MajorDiseaseCase.objects.values_list("person_id", "disease_id")) == [(mover.pk, removed.pk)]
