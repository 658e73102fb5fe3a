"""花名册快速路径 The fast roster paths give exactly what the reference paths give (ADR 0006).

- ``validate_columns`` (vectorised) against ``roster_oracle.validate_reference`` (per row) on random rosters with
  every kind of error: the same problems, the same invalid-row count, the same persons.
- The direct fresh load (``roster_fresh``) and the re-import change detection (``roster_diff``)
  against the staging + set-based SQL path: the same database contents after every import of a
  sequence (fresh, the same file again, a later year's changed list, another source).
"""

from __future__ import annotations

import csv
import random
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jkfp.core.idnumber import id_number_checked, ids_check, make_id_number
from jkfp.core.tabular import Table
from jkfp.registry import imports
from jkfp.registry.models import ChangeLog, Condition, Household, Membership, Person, SourceRecord, Tag
from jkfp.registry.roster_columns import validate_columns
from jkfp.registry.services import disease_catalogue_load
from jkfp.registry.synthetic import write_roster
from jkfp.registry.tests import roster_oracle

TODAY = date(2024, 6, 1)
VILLAGES = {"421321001001", "421321001002", "421321002001"}
HEADER = ["身份证号", "姓名", "村代码", "户编号", "与户主关系", "人员类别", "患病情况", "联系电话"]

_IDS = [
    make_id_number("421321", date(1960, 3, 15), 11),
    make_id_number("421321", date(1970, 1, 2), 22),
    make_id_number("110101", date(2000, 2, 29), 33),
    make_id_number("421321", date(1985, 12, 31), 45),
    "421321600101001",  # 15 digits, converted
    make_id_number("421321", date(1960, 3, 15), 11)[:17] + "0",  # check character (maybe wrong)
    "42132119600231001X",  # no such date
    make_id_number("421321", date(2024, 7, 1), 5),  # future
    make_id_number("421321", date(1899, 12, 31), 5),  # before 1900
    "4213211960",
    make_id_number("421321", date(1960, 3, 15), 11) + "123",  # 21: beside a 15-digit ID, 36 characters
    "",
    "４21321196003150113",  # full-width digit
    "42132119600315011a",
]
_XID = next(i for i in (make_id_number("421321", date(1961, 1, 1), s) for s in range(100)) if i.endswith("X"))
_IDS += [_XID, _XID[:17] + "x"]

cells = st.fixed_dictionaries(
    {
        "id_number": st.sampled_from(_IDS),
        "name": st.sampled_from(["张三", "李四", "", "=1+1", "-王", "张\x07三", "欧" * 51, "王五"]),
        "village_code": st.sampled_from([*sorted(VILLAGES), "421321999999", ""]),
        "household_no": st.sampled_from(["H1", "H2", "", "H\\3", "H\x01", "H" * 41]),
        "relation": st.sampled_from(["户主", "配偶", "", "子" * 21]),
        "tags": st.sampled_from(
            ["", "建档立卡", "低保、建档立卡", "脱贫,低保", "五保户", "特困；低保", "低保、低保"]
        ),
        "conditions": st.sampled_from(["", "高血压", "糖尿病;高血压", "罕见病甲", "病" * 101, "怪\x02病"]),
        "phone": st.sampled_from(["13800000000", "", "138abc", "=1", "0722-1234567", "+86 138"]),
    }
)


def _table(rows: list[dict[str, str]]) -> Table:
    columns = {name: [r[name] for r in rows] for name in imports.ROSTER_COLUMNS}
    return Table(columns=columns, row_numbers=list(range(2, 2 + len(rows))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cells, max_size=25), st.integers(0, 3))
def test_vectorised_validation_equals_the_reference(rows: list[dict[str, str]], extra: int) -> None:
    table = _table(rows)
    header_of = {c: imports.ROSTER_COLUMNS[c][0] for c in imports.ROSTER_COLUMNS}
    slow_id = partial(id_number_checked, today=TODAY)
    fast = validate_columns(table, villages=VILLAGES, header_of=header_of, slow_id=slow_id, today=TODAY)
    ref = roster_oracle.validate_reference(
        table, roster_oracle.Lookups(villages=VILLAGES, diseases={}, today=TODAY)
    )
    # The same with what a reader knows of a plain CSV (true hints: every scan they settle skipped).
    hinted = _table(rows)
    cells_all = [c for column in hinted.columns.values() for c in column]
    hinted.printable = all(c.isprintable() for c in cells_all)
    hinted.no_start = "".join(c for c in "=+-@" if not any(x.startswith(c) for x in cells_all))
    hinted.length_bounds = {k: max(map(len, v), default=0) + extra for k, v in hinted.columns.items()}
    with_hints = validate_columns(
        hinted, villages=VILLAGES, header_of=header_of, slow_id=slow_id, today=TODAY
    )
    assert (with_hints.rows, with_hints.invalid_rows, with_hints.problems) == (
        fast.rows,
        fast.invalid_rows,
        fast.problems,
    )
    assert with_hints.persons == fast.persons
    assert (fast.rows, fast.invalid_rows) == (ref.rows, ref.invalid_rows)
    # The error report sorts problems by row (stably): the per-row order must match too.
    key = lambda p: p.row  # noqa: E731
    assert sorted(fast.problems, key=key) == sorted(ref.problems, key=key)
    assert fast.persons == roster_oracle.columns_of(ref.persons)
    # The persons are kept in file order with the permutation to ID order (ADR 0006): any subset
    # of file positions comes back as the same persons, sorted by ID.
    n = len(fast.unordered)
    assert sorted(fast.unordered.id_number) == fast.persons.id_number
    assert fast.sorted_at(list(range(n))) == fast.persons
    odd = list(range(1, n, 2))[::-1]
    expected = sorted(zip(*(fast.unordered.fields()), strict=True))
    picked = fast.sorted_at(odd)
    assert list(zip(*picked.fields(), strict=True)) == [
        row for row in expected if fast.unordered.id_number.index(row[0]) in odd
    ]


def test_ids_of_other_lengths_that_add_up_to_18_each_are_not_misread() -> None:
    # 21 + 15 characters = 2 × 18: the first 18 characters of the first are a valid ID.
    rows = [_IDS[0] + "123", "421321600101001"]
    assert not ids_check(rows, TODAY).ok.any()
    test_vectorised_validation_equals_the_reference.hypothesis.inner_test(  # type: ignore[attr-defined]
        [
            {"id_number": rows[0], "name": "张三", "village_code": "421321001001", "household_no": "H1"}
            | dict.fromkeys(("relation", "tags", "conditions", "phone"), ""),
            {"id_number": rows[1], "name": "李四", "village_code": "421321001001", "household_no": "H2"}
            | dict.fromkeys(("relation", "tags", "conditions", "phone"), ""),
        ],
        0,
    )


# ----------------------------------------------------------------------------------------------
# Database contents: fast paths against the staging + SQL path
# ----------------------------------------------------------------------------------------------


def _snapshot() -> dict[str, Any]:
    """Every registry row by natural keys (IDs and timestamps differ between runs)."""
    person = "person__id_number"
    return {
        "persons": list(
            Person.objects.order_by("id").values_list(
                "id_number",
                "name",
                "sex",
                "birth_date",
                "phone",
                "village_id",
                "household__household_no",
                "relation",
                "living_status",
                "verification_status",
                "outside_systems",
                "id_tail_rev",
            )
        ),
        "households": list(
            Household.objects.order_by("id").values_list("household_no", "village_id", "cadre", "head_id")
        ),
        "memberships": sorted(
            Membership.objects.values_list(
                person, "household__household_no", "relation", "start_on", "end_on"
            ),
            key=repr,
        ),
        "records": list(
            SourceRecord.objects.order_by("id").values_list(
                person,
                "source",
                "year",
                "name",
                "village_code",
                "household_no",
                "relation",
                "tags",
                "conditions",
                "phone",
                "active",
            )
        ),
        "tags": list(
            Tag.objects.order_by("id").values_list(
                person, "code", "start_on", "end_on", "exited", "source", "reference", "subtype"
            )
        ),
        "conditions": list(
            Condition.objects.order_by("id").values_list(
                person, "disease__name", "name", "source", "diagnosed_on"
            )
        ),
        "changes": sorted(
            ChangeLog.objects.values_list(person, "field", "old_value", "new_value", "source"), key=repr
        ),
    }


def _clear() -> None:
    for model in (ChangeLog, Condition, Tag, SourceRecord, Membership):
        model.objects.all().delete()
    Person.objects.all().delete()
    Household.objects.all().delete()


def _lists(tmp_path: Path, seed: int) -> list[tuple[Path, str, int, date]]:
    """A sequence of lists: (file, source, year, today)."""
    base = write_roster(
        tmp_path / f"base{seed}.csv",
        rows=400,
        villages=sorted(VILLAGES),
        seed=seed,
        invalid_rate=0.05,
        duplicate_rate=0.05,
    )
    with base.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    rng = random.Random(seed)
    rows += [
        [
            make_id_number("421321", date(1950, 1, 1), 901),
            "赵\\六",
            "421321001001",
            "H\\9",
            "户主",
            "",
            "罕见病甲",
            "",
        ],
        [
            make_id_number("421321", date(1950, 1, 1), 902),
            "钱七",
            "421321001002",
            "",
            "",
            "边缘易致贫户",  # 监测对象 with a subtype: both load paths store it
            "",
            "1",
        ],
    ]

    def write(name: str, data: list[list[str]]) -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(data)
        return path

    later = []
    for r in rows:
        if rng.random() < 0.1:
            continue  # dropped by the later list
        r = list(r)
        roll = rng.random()
        if roll < 0.05:
            r[1] = r[1] + "甲"
        elif roll < 0.1:
            r[5] = rng.choice(["低保", "脱贫", "", "特困、监测对象"])
        elif roll < 0.15:
            r[3] = "H-new-" + r[3][-2:]
        elif roll < 0.2:
            r[6] = rng.choice(["高血压", "", "罕见病乙"])
        later.append(r)
    first = write(f"a{seed}.csv", rows)
    second = write(f"b{seed}.csv", later)
    third = write(f"c{seed}.csv", rng.sample(rows, len(rows) // 2))
    return [
        (first, "国家平台", 2023, date(2023, 5, 1)),
        (first, "国家平台", 2023, date(2023, 6, 1)),
        (second, "国家平台", 2024, TODAY),
        (second, "国家平台", 2024, TODAY),
        (third, "省系统", 2024, TODAY),
        (first, "省系统", 2024, TODAY),
    ]


def _run(steps: list[tuple[Path, str, int, date]], tmp_path: Path) -> list[Any]:
    seen = []
    for path, source, year, today in steps:
        summary = imports.roster_import(
            path=path, source=source, year=year, today=today, errors_dir=tmp_path / "errors"
        ).as_dict()
        summary.pop("errors_file")
        seen.append((summary, _snapshot()))
    return seen


@pytest.mark.parametrize("seed", [3, 8])
def test_fast_paths_write_what_the_sql_path_writes(
    county: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    disease_catalogue_load()
    steps = _lists(tmp_path, seed)
    from django.db import connection

    monkeypatch.setattr(imports, "DIRECT_FRESH_LOAD", frozenset({connection.vendor}))
    monkeypatch.setattr(imports, "DIFF_REIMPORT", True)
    fast = _run(steps, tmp_path)
    _clear()
    monkeypatch.setattr(imports, "DIRECT_FRESH_LOAD", frozenset())
    monkeypatch.setattr(imports, "DIFF_REIMPORT", False)
    slow = _run(steps, tmp_path)
    assert fast[0][1]["persons"] and fast[0][1]["tags"] and fast[-1][1]["changes"]
    for k, ((fast_summary, fast_rows), (slow_summary, slow_rows)) in enumerate(zip(fast, slow, strict=True)):
        assert fast_summary == slow_summary, k
        for table in slow_rows:
            assert fast_rows[table] == slow_rows[table], (k, table)


def test_a_fresh_load_leaves_every_index_and_foreign_key_as_it_was(county: Any, tmp_path: Path) -> None:
    from django.db import connection

    disease_catalogue_load()
    tables = [m._meta.db_table for m in (Person, Household, SourceRecord, Tag, Condition, Membership)]

    def schema() -> dict[str, Any]:
        with connection.cursor() as cursor:
            return {
                table: sorted(
                    (c["columns"], c["unique"], c["index"], c["primary_key"], c["foreign_key"])
                    for c in connection.introspection.get_constraints(cursor, table).values()
                )
                for table in tables
            }

    before = schema()
    steps = _lists(tmp_path, 5)[:1]
    summary = _run(steps, tmp_path)[0][0]
    assert summary["created"] > 0
    assert schema() == before
