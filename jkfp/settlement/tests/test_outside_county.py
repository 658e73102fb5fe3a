"""Hospitals outside the county (issue 18 item 6): an institution list naming the city and provincial
hospitals with their own region codes imports, and cases, referrals, claims and settlements there work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from jkfp.regions.imports import institutions_import
from jkfp.regions.models import Institution
from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement import bulk
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import Claim, Settlement
from jkfp.settlement.tests.factories import SettleWorld
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import MajorDiseaseCase, Referral
from jkfp.treatment.services import referral_create


def test_out_of_county_hospitals_with_their_own_region_codes(sw: SettleWorld, tmp_path: Path) -> None:
    institutions = tmp_path / "机构.csv"
    institutions.write_text(
        "代码,名称,级别,县域内,所在地区代码\n"
        "H421300,随州市中心医院,3,否,421300\n"  # the city: a code not in the county's region tree
        "H420000,湖北省人民医院,3,否,420000\n"  # the province
        "H421301,随州市第二医院,2,否,421300000000\n",  # a 12-digit code
        encoding="utf-8",
    )
    summary = institutions_import(path=institutions, errors_dir=tmp_path)
    assert (summary.valid, summary.invalid, summary.created) == (3, 0, 3)
    city = Institution.objects.get(code="H421300")
    assert (city.in_county, city.region_id, city.outside_region_code, str(city)) == (
        False,
        None,
        "421300",
        "随州市中心医院",
    )
    p1, p2 = sw.persons["poor1"], sw.persons["poor2"]

    disease_catalogue_load()
    # A major-disease case diagnosed at the city hospital, designated at the provincial one (by name).
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "身份证号,病种,确诊医院,确诊日期,定点医院,救治状态,未救治原因\n"
        f"{p1.id_number},肺癌,H421300,2020-03-05,湖北省人民医院,救治中,\n",
        encoding="utf-8",
    )
    imported = cases_import(path=cases, errors_dir=tmp_path, today=date(2020, 12, 31))
    assert (imported.valid, imported.invalid, imported.created) == (1, 0, 1)
    case = MajorDiseaseCase.objects.get(person=p1)
    assert (case.diagnosis_institution_id, case.designated_institution_id) == ("H421300", "H420000")

    # A referral to the provincial hospital.
    referral = referral_create(
        user=sw.users["admin"],
        person=p1,
        from_institution=sw.institutions["county2"],
        to_institution=Institution.objects.get(code="H420000"),
        referred_on=date(2020, 3, 1),
        reason="转上级医院",
    )
    assert Referral.objects.get(pk=referral.pk).to_institution.name == "湖北省人民医院"

    # Claims at these hospitals import (level and in-county from the institution) and settle.
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,person_id,institution_code,admit_date,discharge_date,referred,total,out_of_scope\n"
        f"X1,{p1.id_number},H420000,2020-03-01,2020-03-20,1,150000.00,12000.00\n"
        f"X2,{p2.id_number},H421300,2020-05-01,2020-05-10,0,20000.00,1000.00\n"
        f"X3,{p2.id_number},H421301,2020-06-01,2020-06-10,1,8000.00,800.00\n",
        encoding="utf-8",
    )
    loaded = claims_import(path=claims, errors_dir=tmp_path)
    assert (loaded.valid, loaded.invalid, loaded.created) == (3, 0, 3)
    x1 = Claim.objects.get(claim_id="X1")
    assert (x1.level, x1.in_county, x1.referred) == (3, False, True)
    result = bulk.claims_settle_year(year=2020)
    assert (result.settled, result.invalid) == (3, 0)
    live = {s.claim.claim_id: s for s in Settlement.objects.filter(is_current=True).select_related("claim")}
    assert set(live) == {"X1", "X2", "X3"}
    for s in live.values():  # the four payers and the patient share the whole bill, to the fen
        assert (
            s.claim.total_amount
            == s.basic + s.critical + s.aid + s.supplementary + s.personal + s.hospital_absorbed
        )
        assert s.personal >= Decimal("0.00")
