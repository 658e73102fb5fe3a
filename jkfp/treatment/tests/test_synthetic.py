"""示例大病名单 The demo cases file imports without an invalid row and its ledger totals match it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jkfp.accounts.scoping import region_get
from jkfp.registry.models import Condition
from jkfp.treatment import ledger
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import MajorDiseaseCase
from jkfp.treatment.synthetic import demo_cases_write
from jkfp.treatment.tests.factories import make_person

pytestmark = pytest.mark.django_db
TODAY = date(2024, 6, 1)


def test_demo_cases_import_cleanly_and_the_ledger_matches(tw: Any, county: Any, tmp_path: Path) -> None:
    MajorDiseaseCase.objects.all().delete()
    diseases = [tw.diseases[name] for name in ("终末期肾病", "肺癌", "白内障", "脑卒中")]
    villages = [county[k] for k in ("t1v1", "t1v2", "t2v1", "t2v2")]
    for i in range(120):
        person = make_person(villages[i % 4], f"病人{i}", 300 + i, born=date(1940 + i % 60, 2, 1))
        Condition.objects.create(person=person, disease=diseases[i % 4], name=diseases[i % 4].name)
    Condition.objects.create(person=person, name="颈椎病")  # not a major disease: no case
    written = demo_cases_write(path=tmp_path / "cases.csv", today=TODAY)
    assert written.rows == 120 and sum(written.by_status.values()) == 120
    assert {"treated", "untreated"} <= set(written.by_status)
    summary = cases_import(path=written.path, errors_dir=tmp_path, today=TODAY)
    assert (summary.rows, summary.invalid, summary.created, summary.warnings) == (120, 0, 120, 0)
    assert MajorDiseaseCase.objects.filter(status="untreated", untreated_reason="").count() == 0
    kidney = MajorDiseaseCase.objects.filter(disease=diseases[0], status="untreated")
    assert all(c.untreated_reason == "dialysis_claim_pending" for c in kidney)
    region = region_get(user=tw.users["admin"], code=None)
    totals = ledger.treatment_ledger_write(user=tw.users["admin"], region=region, target=tmp_path / "l.xlsx")
    assert totals.cases == 120 and dict(totals.by_status) == {
        s: written.by_status.get(s, 0) for s in ("treated", "in_treatment", "untreated", "not_needed")
    }
    sheet = openpyxl.load_workbook(tmp_path / "l.xlsx", data_only=True)[ledger.SHEET_NAME]
    block = {
        r[0]: r[ledger.COL_NAME]
        for r in sheet.iter_rows(values_only=True)
        if r[0] in ("合计", "已救治", "未救治")
    }
    assert block == {
        "合计": 120,
        "已救治": written.by_status["treated"],
        "未救治": written.by_status["untreated"],
    }
