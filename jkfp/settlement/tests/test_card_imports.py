"""``import-cards``: 慢病卡 rows become cards; every invalid-row rule; re-import unchanged/updated; the
region of a user; the command's JSON; the valid-card rule an outpatient claim relies on."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from jkfp.care.models import ChronicCard
from jkfp.care.selectors import card_valid_on
from jkfp.registry.models import Disease
from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement import card_imports
from jkfp.settlement.card_imports import cards_import
from jkfp.settlement.cards import ERR_NO_CARD, outpatient_disease_lookup, outpatient_facts
from jkfp.settlement.tests.factories import SettleWorld

HEADER = "身份证号,病种,认定日期,认定机构,有效期至\n"


@pytest.fixture(autouse=True)
def _catalogue(db: None) -> None:
    disease_catalogue_load()


def write(tmp_path: Path, body: str, header: str = HEADER, name: str = "cards.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def errors(path: str | None) -> dict[tuple[int, str], str]:
    assert path is not None
    wb = load_workbook(path, read_only=True)
    rows = {(r[0], r[1]): r[3] for r in wb.active.iter_rows(min_row=2, values_only=True)}
    wb.close()
    return rows


def test_valid_rows_and_every_invalid_rule(sw: SettleWorld, tmp_path: Path) -> None:
    p1 = sw.persons["poor1"].id_number
    p2 = sw.persons["poor2"].id_number
    body = (
        f"{p1},高血压,2020-01-10,H001,\n"  # 2 valid, by code, no end
        f"{p1},尿毒症,2020-02-01,随县人民医院,2022-12-31\n"  # 3 valid: alias of 终末期肾病, by name
        f"{p2},糖尿病,2020/3/1,,\n"  # 4 valid: alias of 2型糖尿病, no institution
        f"{p2},感冒,2020-03-01,,\n"  # 5 not an outpatient disease
        f"{p2},,2020-03-01,,\n"  # 6 empty disease
        f"110101199001011234,高血压,2020-03-01,,\n"  # 7 bad ID
        f"{p2},冠心病,2099-01-01,,\n"  # 8 future
        f"{p2},冠心病,1970-01-01,,\n"  # 9 before birth
        f"{p2},冠心病,2020-03-01,,2020-02-01\n"  # 10 valid_until before certified_on
        f"{p2},冠心病,2020-03-01,不存在医院,\n"  # 11 unknown institution
        f"{p2},冠心病,2020-13-01,,\n"  # 12 impossible date
        f"{p2},肺结核,2020-03-01,,\n"  # 13 conflict
        f"{p2},肺结核,2020-04-01,,\n"  # 14 conflict
        f"{p1},高血压,2020-01-10,H001,\n"  # 15 identical repeat of row 2
    )
    summary = cards_import(path=write(tmp_path, body), errors_dir=tmp_path, today=date(2024, 1, 1))
    assert (summary.rows, summary.valid, summary.invalid) == (14, 4, 10)
    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0)
    got = errors(summary.errors_file)
    assert got[(5, "病种")].startswith("病种“感冒”不是结算政策的门诊慢特病病种")
    assert got[(6, "病种")] == card_imports.ERR_EMPTY
    assert got[(7, "身份证号")].startswith("身份证号不合法")
    assert got[(8, "认定日期")] == card_imports.ERR_DATE_FUTURE
    assert got[(9, "认定日期")] == card_imports.ERR_DATE_BEFORE_BIRTH
    assert got[(10, "有效期至")] == card_imports.ERR_VALID_BEFORE
    assert got[(11, "认定机构")] == card_imports.ERR_INSTITUTION.format(value="不存在医院")
    assert got[(12, "认定日期")] == "日期不存在"
    assert got[(13, "病种")] == card_imports.ERR_CONFLICT.format(rows="13、14")
    cards = {
        (c.person.name, c.disease.name): (c.certified_on, c.institution_id, c.valid_to)
        for c in ChronicCard.objects.select_related("person", "disease")
    }
    assert cards == {
        ("张三", "高血压"): (date(2020, 1, 10), "H001", None),
        ("张三", "终末期肾病"): (date(2020, 2, 1), "H001", date(2022, 12, 31)),
        ("李四", "2型糖尿病"): (date(2020, 3, 1), None, None),
    }
    # Again: unchanged; a re-certification with a new end is an update.
    again = cards_import(path=write(tmp_path, body), errors_dir=tmp_path, today=date(2024, 1, 1))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    renewed = cards_import(
        path=write(tmp_path, f"{p1},高血压,2021-01-10,H002,2023-12-31\n", name="renew.csv"),
        errors_dir=tmp_path,
        today=date(2024, 1, 1),
    )
    assert (renewed.created, renewed.updated, renewed.unchanged, renewed.invalid) == (0, 1, 0, 0)
    card = ChronicCard.objects.get(person=sw.persons["poor1"], disease__name="高血压")
    assert (card.certified_on, card.institution_id, card.valid_to) == (
        date(2021, 1, 10),
        "H002",
        date(2023, 12, 31),
    )


def test_english_aliases_xlsx_and_region_of_user(sw: SettleWorld, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["id_number", "disease", "certified_on", "institution", "valid_until"])
    ws.append([sw.persons["poor1"].id_number, "高血压", "2020-01-10", "H001", ""])  # 第1镇
    ws.append([sw.persons["plain"].id_number, "高血压", "2020-01-10", "H001", ""])  # 第2镇
    path = tmp_path / "cards.xlsx"
    wb.save(path)
    summary = cards_import(path=path, user=sw.users["t1"], errors_dir=tmp_path, today=date(2024, 1, 1))
    assert (summary.created, summary.invalid) == (1, 1)
    assert errors(summary.errors_file)[(3, "id_number")] == card_imports.ERR_NOT_IN_ROSTER
    assert list(ChronicCard.objects.values_list("person__name", flat=True)) == ["张三"]


def test_command_json_and_unreadable_file(sw: SettleWorld, tmp_path: Path) -> None:
    path = write(tmp_path, f"{sw.persons['poor1'].id_number},高血压,2020-01-10,,\n")
    out = StringIO()
    call_command("import_cards", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "rows": 1,
        "valid": 1,
        "invalid": 0,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    missing = write(tmp_path, "x,y\n", header="身份证号,认定机构\n", name="bad.csv")
    with pytest.raises(CommandError, match="cannot import") as info:
        call_command("import_cards", str(missing), stdout=StringIO())
    assert getattr(info.value, "returncode", None) == 2
    assert ChronicCard.objects.count() == 1


def test_valid_card_rule(sw: SettleWorld) -> None:
    person = sw.persons["poor1"]
    disease = Disease.objects.get(name="高血压")
    ChronicCard.objects.create(
        person=person, disease=disease, certified_on=date(2020, 3, 1), valid_to=date(2020, 6, 30)
    )
    assert card_valid_on(person_id=person.pk, disease_id=disease.pk, on=date(2020, 2, 29)) is None
    assert card_valid_on(person_id=person.pk, disease_id=disease.pk, on=date(2020, 3, 1)) is not None
    assert card_valid_on(person_id=person.pk, disease_id=disease.pk, on=date(2020, 6, 30)) is not None
    assert card_valid_on(person_id=person.pk, disease_id=disease.pk, on=date(2020, 7, 1)) is None
    # The hot path's one-statement read applies the same rule and the same name lookup.
    facts = outpatient_facts(person.pk)
    facts.card_require(disease="高血压", on=date(2020, 4, 1))
    for day, name in (
        (date(2020, 4, 1), "2型糖尿病"),
        (date(2020, 7, 1), "高血压"),
        (date(2020, 2, 29), "高血压"),
    ):
        with pytest.raises(ValidationError) as info:
            facts.card_require(disease=name, on=day)
        assert info.value.message_dict == {"disease": [ERR_NO_CARD.format(day=day.isoformat(), disease=name)]}
    lookup = outpatient_disease_lookup()
    assert lookup["尿毒症"] == "终末期肾病" and lookup["类风湿性关节炎"] == "类风湿关节炎"
    assert facts.lookup == lookup
