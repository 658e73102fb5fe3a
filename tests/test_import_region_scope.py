"""导入的区划范围 Finding S4: a county's upload never reaches another county's person.

Every import that matches rows to the roster by ID number finds persons through
``registry.selectors.persons_by_id_number`` (the user's region only). County A's upload naming county B's
resident is an invalid row — the 身份证号 column, ``ERR_NOT_IN_ROSTER``: the same words as for an ID
nobody has, so the upload does not tell that B's person exists — B's records stay as they were, and
nothing of the refused row is written (no team, doctor, condition or record); A's own rows go in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.forms.models import model_to_dict
from openpyxl import load_workbook

from jkfp.accounts.models import Role
from jkfp.core.idnumber import make_id_number
from jkfp.core.importing import ERR_NOT_IN_ROSTER
from jkfp.registry.models import Condition, Disease, Enrolment, Person
from jkfp.registry.tests.factories import make_person

pytestmark = pytest.mark.django_db
BORN = date(1960, 5, 1)


def _person(village: Any, name: str, serial: int) -> Person:
    return make_person(village, name, serial, born=BORN)


@pytest.fixture
def scene(two_counties: dict[str, Any], make_user: Callable[..., Any]) -> dict[str, Any]:
    """随县 (A, its administrator uploads) and 曾都区 (B): one resident each, both with 高血压."""
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    a = _person(two_counties["t1v1"], "随县人", 1)
    b = _person(two_counties["b_t1v1"], "曾都人", 3)
    hypertension = Disease.objects.get(name="高血压")
    for person in (a, b):
        Condition.objects.create(person=person, disease=hypertension, name=hypertension.name)
    return {**two_counties, "a": a, "b": b, "user": make_user(Role.COUNTY_ADMIN, "421321")}


def _state(person: Person) -> dict[str, Any]:
    """Everything the imports could write for ``person``, as plain values."""
    from jkfp.care.models import Contract, FollowUp
    from jkfp.settlement.models import BankAccount
    from jkfp.treatment.models import MajorDiseaseCase

    person.refresh_from_db()
    state: dict[str, Any] = {"person": model_to_dict(person)}
    for model in (Condition, Contract, FollowUp, MajorDiseaseCase, Enrolment, BankAccount):
        state[model.__name__] = sorted(
            (model_to_dict(row) for row in model.objects.filter(person=person)), key=lambda d: d["id"]
        )
    return state


def _upload_a_and_b(
    scene: dict[str, Any], tmp_path: Path, run: Callable[..., Any], header: str, a: str, b: str
) -> None:
    """County A's administrator uploads a row of A's resident (cells ``a``, row 2) and one of B's (cells
    ``b``, row 3): B's row alone is invalid — 身份证号, the roster words, nothing naming 曾都 — and B's
    records stay as they were."""
    before = _state(scene["b"])
    path = tmp_path / "upload.csv"
    path.write_text(f"{header}\n{scene['a'].id_number},{a}\n{scene['b'].id_number},{b}\n", encoding="utf-8")
    summary = run(path=path, user=scene["user"], errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid) == (2, 1, 1)
    lines = list(load_workbook(summary.errors_file).active.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3]) for r in lines if not str(r[3]).startswith("警告")] == [
        (3, "身份证号", ERR_NOT_IN_ROSTER)
    ]
    assert "曾都" not in " ".join(str(r[3]) for r in lines)
    assert _state(scene["b"]) == before


def test_contracts_import(scene: dict[str, Any], tmp_path: Path) -> None:
    from jkfp.care.imports import contracts_import
    from jkfp.care.models import Contract, Team, TeamMember

    header = "身份证号,签约日期,到期日期,团队,家庭医生"
    row = "2024-01-05,2024-12-31,第1镇一队,村医甲"
    _upload_a_and_b(scene, tmp_path, contracts_import, header, row, "2024-01-05,2024-12-31,东城一队,外县医生")
    assert not Team.objects.filter(township=scene["b_t1"]).exists()
    assert not TeamMember.objects.filter(name="外县医生").exists()
    assert Contract.objects.get().person == scene["a"]


def test_followups_import(scene: dict[str, Any], tmp_path: Path) -> None:
    from jkfp.care.imports import followups_import
    from jkfp.care.models import FollowUp, TeamMember

    header = "身份证号,随访日期,疾病,方式,收缩压,舒张压,空腹血糖,医生"
    theirs = "2024-03-01,高血压、2型糖尿病,门诊,130,80,,外县医生"  # would add 2型糖尿病 to B's conditions
    _upload_a_and_b(
        scene, tmp_path, followups_import, header, "2024-03-01,高血压,门诊,130,80,,村医甲", theirs
    )
    assert not TeamMember.objects.filter(name="外县医生").exists()
    assert FollowUp.objects.get().person == scene["a"]


def test_cases_import(scene: dict[str, Any], tmp_path: Path) -> None:
    from jkfp.treatment.imports import cases_import
    from jkfp.treatment.models import MajorDiseaseCase

    cancer = Disease.objects.get(name="胃癌")
    MajorDiseaseCase.objects.create(
        person=scene["b"], disease=cancer, diagnosed_on=date(2023, 1, 1), status="in_treatment"
    )
    header = "身份证号,病种,确诊医院,确诊日期,定点医院,救治状态,未救治原因"
    row = "胃癌,,2024-01-01,,已救治,"
    _upload_a_and_b(scene, tmp_path, cases_import, header, row, row)
    assert MajorDiseaseCase.objects.get(person=scene["a"]).status == "treated"


def test_enrolment_import(scene: dict[str, Any], tmp_path: Path) -> None:
    from jkfp.registry.enrolment import enrolment_import

    Enrolment.objects.create(person=scene["b"], year=2024, insured=False)
    row = "2024,已参保,350,350"
    _upload_a_and_b(scene, tmp_path, enrolment_import, "身份证号,年度,参保状态,个人缴费,资助金额", row, row)
    assert Enrolment.objects.get(person=scene["a"]).insured is True


def test_bank_accounts_import(scene: dict[str, Any], tmp_path: Path) -> None:
    from jkfp.settlement.bank_imports import bank_accounts_import
    from jkfp.settlement.models import BankAccount

    BankAccount.objects.create(person=scene["b"], account_no="6222000011112222", kind="social_security")
    _upload_a_and_b(
        scene, tmp_path, bank_accounts_import, "身份证号,银行账号", "6222000033334444", "6222000099998888"
    )
    assert BankAccount.objects.get(person=scene["a"]).account_no == "6222000033334444"


def test_staff_import(scene: dict[str, Any], tmp_path: Path) -> None:
    """Staff are matched by ID number too (not to the roster): A's upload writes only A's institutions'
    records, refuses a row naming B's institution, and no warning names B's institution."""
    from jkfp.capacity.imports import ERR_INSTITUTION, staff_import
    from jkfp.capacity.models import Staff

    idn = make_id_number("421303", date(1980, 5, 1), 7)
    theirs = Staff.objects.create(
        id_number=idn,
        name="曾医生",
        institution=scene["b_hospital"],
        post="doctor",
        qualification="physician",
        start_on=date(2020, 1, 1),
    )
    before = model_to_dict(theirs)
    path = tmp_path / "人员.csv"
    path.write_text(
        "身份证号,姓名,机构代码,岗位,资质,起始日期\n"
        f"{idn},曾医生,H001,医生,执业医师,2020-01-01\n"
        f"{idn},曾医生改,H101,医生,执业助理医师,2020-01-01\n",
        encoding="utf-8",
    )
    summary = staff_import(path=path, user=scene["user"], errors_dir=tmp_path)
    assert (summary.rows, summary.valid, summary.invalid, summary.created, summary.warnings) == (
        2,
        1,
        1,
        1,
        0,
    )
    lines = list(load_workbook(summary.errors_file).active.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3]) for r in lines] == [(3, "机构代码", ERR_INSTITUTION.format(code="H101"))]
    theirs.refresh_from_db()
    assert model_to_dict(theirs) == before
    assert Staff.objects.get(institution_id="H001").name == "曾医生"
