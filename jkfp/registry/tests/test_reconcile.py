"""名单比对 reconcile_summary, the page helpers and `jkfp reconcile --json`."""

from __future__ import annotations

import csv
import json
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from jkfp.core.idnumber import make_id_number
from jkfp.registry.imports import roster_import
from jkfp.registry.models import Person
from jkfp.registry.reconcile import (
    reconcile_summary,
    reconciliation_queryset,
    reconciliation_rows,
    source_names,
)

HEADER = ["身份证号", "姓名", "村代码", "户编号", "人员类别"]
V1 = "421321001001"
A, B, C, D, E, F = (make_id_number("421321", date(1970, 1, 1), n) for n in range(1, 7))


def load(tmp_path: Path, source: str, rows: list[list[str]], year: int = 2024) -> None:
    path = tmp_path / f"{source}-{year}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    roster_import(path=path, source=source, year=year, errors_dir=tmp_path, today=date(2025, 6, 1))


@pytest.fixture
def three_sources(county: dict[str, Any], tmp_path: Path) -> Path:
    load(
        tmp_path,
        "国家平台",
        [
            [A, "甲", V1, "H1", "低保"],
            [B, "乙", V1, "H2", ""],
            [C, "丙", V1, "H3", ""],
            [F, "己", V1, "", ""],
        ],
    )
    load(
        tmp_path,
        "省系统",
        [
            [A, "甲", V1, "H1", "特困"],
            [B, "乙乙", V1, "H2", ""],
            [D, "丁", V1, "H4", ""],
            [F, "己", V1, "H6", ""],
        ],
    )
    load(tmp_path, "扶贫办", [[A, "甲", V1, "H9", "低保"], [E, "戊", V1, "H5", ""]])
    return tmp_path


def test_summary_counts(three_sources: Path) -> None:
    assert reconcile_summary() == {
        "persons": 6,
        "sources": {"国家平台": 4, "扶贫办": 2, "省系统": 4},
        "in_all": 1,
        "in_one": 3,
        "conflicts": 2,
    }


def test_later_list_dropping_a_person(three_sources: Path) -> None:
    load(
        three_sources,
        "国家平台",
        [[A, "甲", V1, "H1", "低保"], [B, "乙", V1, "H2", ""], [F, "己", V1, "", ""]],
        year=2025,
    )
    summary = reconcile_summary()
    assert summary["persons"] == 6
    assert summary["sources"]["国家平台"] == 3
    assert (summary["in_one"], summary["in_all"]) == (2, 1)


def test_empty_database(db: Any) -> None:
    assert reconcile_summary() == {"persons": 0, "sources": {}, "in_all": 0, "in_one": 0, "conflicts": 0}


def test_command_json(three_sources: Path) -> None:
    out = StringIO()
    call_command("reconcile", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert list(data) == ["persons", "sources", "in_all", "in_one", "conflicts"]
    assert data == reconcile_summary()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "conflicts: 2" in out.getvalue() and "信息不一致" in out.getvalue()


def ids(qs: Any) -> set[str]:
    return set(qs.values_list("id_number", flat=True))


def test_queryset_filters(three_sources: Path) -> None:
    everyone = Person.objects.all()
    assert source_names() == ["国家平台", "扶贫办", "省系统"]
    assert ids(reconciliation_queryset(everyone, only_conflicts=True)) == {A, B}
    assert ids(reconciliation_queryset(everyone, missing_source="扶贫办")) == {B, C, D, F}
    assert ids(reconciliation_queryset(everyone, present_source="省系统")) == {A, B, D, F}
    both = reconciliation_queryset(everyone, present_source="国家平台", missing_source="省系统")
    assert ids(both) == {C}
    scoped = reconciliation_queryset(everyone.filter(id_number__in=[B, C]), only_conflicts=True)
    assert ids(scoped) == {B}


def test_rows_for_a_page(three_sources: Path, django_assert_max_num_queries: Any) -> None:
    people = list(Person.objects.order_by("id_number"))
    with django_assert_max_num_queries(2):
        rows = {row.person.id_number: row for row in reconciliation_rows(people)}
    a, b, c, f = rows[A], rows[B], rows[C], rows[F]
    assert (a.present, a.absent) == (["国家平台", "扶贫办", "省系统"], [])
    assert a.disagreements == {
        "户编号": {"国家平台": "H1", "扶贫办": "H9", "省系统": "H1"},
        "人员类别": {"国家平台": "低保", "扶贫办": "低保", "省系统": "特困"},
    }
    assert b.disagreements == {"姓名": {"国家平台": "乙", "省系统": "乙乙"}} and b.absent == ["扶贫办"]
    assert (c.present, c.disagreements, c.has_conflict) == (["国家平台"], {}, False)
    assert f.disagreements == {}  # a blank household number is unknown, not a disagreement
    assert a.has_conflict
    assert reconciliation_rows([]) == []
